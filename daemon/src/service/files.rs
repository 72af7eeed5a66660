//! A session's files: list (gitignore-aware, paged), read (ranges, binary detection,
//! thumbnails), write, upload, delete and move, every path confined to the session's
//! workspace: its worktree when it has one, else its directory. The file work blocks, so it
//! runs on the blocking pool (`tree`, `read`, `thumb`).

mod read;
mod thumb;
mod tree;

#[cfg(test)]
mod tests;

use super::Service;
use super::workspaces::READY;
use agentmux_shared::types::{
    FileContent, FileEntry, FileList, FileListQuery, FileReadQuery, FileRenameRequest,
};
use agentmux_shared::{Error, Result};
use bytes::Bytes;
use std::path::PathBuf;
use tree::{Asked, Tree};

/// Thumbnails decoded at once: each may take hundreds of MB while it is made.
static THUMBS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

impl Service {
    /// The directory a session's file paths are relative to.
    fn files_dir(&self, session: &str) -> Result<PathBuf> {
        let s = self.get_session(session)?;
        match &s.workspace {
            Some(w) if w.state == READY => Ok(PathBuf::from(&w.path)),
            Some(w) => Err(Error::precondition(format!(
                "session {}'s worktree {} is {}: its files cannot be reached",
                s.name, w.path, w.state
            ))),
            None => Ok(PathBuf::from(&s.cwd)),
        }
    }

    /// Runs `f` on the session's workspace on the blocking pool.
    async fn in_tree<T: Send + 'static>(
        &self,
        session: &str,
        f: impl FnOnce(&Tree) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let dir = self.files_dir(session)?;
        let data = self.shared.paths.data_dir.clone();
        tokio::task::spawn_blocking(move || f(&Tree::open(&dir, &data)?))
            .await
            .map_err(|e| Error::internal(format!("file task failed: {e}")))?
    }

    /// One page of a directory: directories first, then by name.
    pub async fn list_files(&self, session: &str, q: &FileListQuery) -> Result<FileList> {
        let asked = tree::parse(&q.path)?;
        let q = q.clone();
        self.in_tree(session, move |t| t.list(&asked, &q)).await
    }

    /// A range of a file, or with `thumb` a PNG thumbnail of an image.
    pub async fn read_file(&self, session: &str, q: &FileReadQuery) -> Result<FileContent> {
        let asked = tree::parse(&q.path)?;
        if q.thumb.is_empty() {
            let (offset, length) = (q.offset, q.length);
            return self
                .in_tree(session, move |t| t.read(&asked, offset, length))
                .await;
        }
        let (w, h) = thumb::size(&q.thumb)?;
        let _permit = THUMBS
            .acquire()
            .await
            .map_err(|_| Error::unavailable("thumbnails are shut down"))?;
        self.in_tree(session, move |t| t.thumb(&asked, w, h)).await
    }

    /// Writes a whole file at once (made, or replaced in one step), making its directories.
    pub async fn write_file(&self, session: &str, path: &str, content: Bytes) -> Result<FileEntry> {
        let asked = tree::parse(path)?;
        self.in_tree(session, move |t| t.write(&asked, &content))
            .await
    }

    /// Writes each `(name, content)` under the directory `dir` (a name may hold
    /// subdirectories), in order; every name is checked before anything is written.
    pub async fn upload_files(
        &self,
        session: &str,
        dir: &str,
        files: Vec<(String, Bytes)>,
    ) -> Result<Vec<FileEntry>> {
        let base = tree::parse(dir)?;
        if files.is_empty() {
            return Err(Error::invalid(
                "no file parts: send each file as a part with a filename",
            ));
        }
        let mut all: Vec<(Asked, Bytes)> = Vec::with_capacity(files.len());
        for (name, content) in files {
            let rel = tree::parse(&name)?;
            if rel.parts.is_empty() {
                return Err(Error::invalid(format!("a file part named {name:?}")));
            }
            let mut parts = base.parts.clone();
            parts.extend(rel.parts);
            all.push((Asked { parts }, content));
        }
        self.in_tree(session, move |t| {
            all.iter().map(|(a, c)| t.write(a, c)).collect()
        })
        .await
    }

    /// Deletes a file, a symlink or an empty directory (a full one when `recursive`).
    pub async fn delete_file(
        &self,
        session: &str,
        path: &str,
        recursive: bool,
    ) -> Result<FileEntry> {
        let asked = tree::parse(path)?;
        self.in_tree(session, move |t| t.delete(&asked, recursive))
            .await
    }

    /// Moves a file or directory within the workspace.
    pub async fn rename_file(&self, session: &str, r: &FileRenameRequest) -> Result<FileEntry> {
        let (from, to) = (tree::parse(&r.from)?, tree::parse(&r.to)?);
        let overwrite = r.overwrite;
        self.in_tree(session, move |t| t.rename(&from, &to, overwrite))
            .await
    }
}
