//! The blocking half of the files API: one session's workspace, every path confined to it.
//! A path is checked twice: resolved (symlinks followed) against the real root for a clear
//! error, then opened beneath the root by the kernel (`os::beneath`) so a symlink swapped in
//! after the check cannot lead out either. Changes go through a directory opened that way:
//! names are acted on inside it (`/proc/self/fd/N/name`), never through a path that is
//! resolved again.

use crate::os::beneath;
use agentmux_shared::types::FileEntry;
use agentmux_shared::{Error, ErrorKind, Result};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Longest path taken, in characters (as the OpenAPI document says).
pub(super) const MAX_PATH: usize = 4096;

pub(super) struct Tree {
    /// The workspace, resolved.
    pub(super) root: PathBuf,
    dir: File,
    /// agentmux's data dir, when the workspace holds it: never served.
    guard: Option<PathBuf>,
}

/// A path as asked for, checked: its plain parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Asked {
    pub(super) parts: Vec<String>,
}

impl Asked {
    /// `a/b/c`, as entries show it.
    pub(super) fn display(&self) -> String {
        self.parts.join("/")
    }
    fn is_root(&self) -> bool {
        self.parts.is_empty()
    }
}

fn denied(message: String) -> Error {
    Error::new(ErrorKind::PermissionDenied, message)
}

/// Refuses what is not a plain relative path: absolute, `..`, NUL, git's own `.git`.
pub(super) fn parse(path: &str) -> Result<Asked> {
    if path.chars().count() > MAX_PATH {
        return Err(Error::invalid(format!(
            "a path of more than {MAX_PATH} characters"
        )));
    }
    if path.contains('\0') {
        return Err(Error::invalid("a path with a NUL byte"));
    }
    if path.starts_with('/') {
        return Err(denied(format!(
            "{path:?} is absolute: paths are relative to the session's workspace"
        )));
    }
    let mut parts = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                return Err(denied(format!(
                    "{path:?} has a `..`: paths stay inside the session's workspace"
                )));
            }
            ".git" => {
                return Err(denied(format!(
                    "{path:?} is in git's own data: use the git routes"
                )));
            }
            p => parts.push(p.to_string()),
        }
    }
    Ok(Asked { parts })
}

/// `p` with `.` and `..` taken out by their names alone (nothing on disk is read).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// An I/O error as the API says it. `creating`: the path is being made, so a missing or
/// too-long part is a precondition rather than "not found".
pub(super) fn io_error(path: &str, e: &io::Error, creating: bool) -> Error {
    let code = e.raw_os_error().unwrap_or_default();
    if beneath::is_escape(e) {
        return denied(format!("{path} leads outside the session's workspace"));
    }
    match (code, e.kind()) {
        (_, io::ErrorKind::NotFound) if !creating => {
            Error::new(ErrorKind::NotFound, format!("{path}: no such file"))
        }
        (libc::ENOTDIR | libc::ENAMETOOLONG, _) if !creating => {
            Error::new(ErrorKind::NotFound, format!("{path}: no such file"))
        }
        (libc::ENOTDIR, _) => {
            Error::precondition(format!("{path}: a part of it is a file, not a directory"))
        }
        (libc::ENAMETOOLONG, _) => {
            Error::precondition(format!("{path}: a name too long for the file system"))
        }
        (_, io::ErrorKind::NotFound) => Error::new(ErrorKind::NotFound, format!("{path}: {e}")),
        (libc::EACCES | libc::EPERM, _) => denied(format!("{path}: {e}")),
        (libc::EEXIST, _) => Error::new(ErrorKind::AlreadyExists, format!("{path} exists")),
        (libc::ENOSPC | libc::EDQUOT, _) => Error::new(
            ErrorKind::InsufficientStorage,
            format!("{path}: no space left on its disk"),
        ),
        (libc::EISDIR | libc::ENOTEMPTY | libc::EROFS | libc::EBUSY | libc::ETXTBSY, _) => {
            Error::precondition(format!("{path}: {e}"))
        }
        // A path that comes to the workspace itself where a name is needed (a link to `.`).
        (_, io::ErrorKind::InvalidInput) => {
            Error::precondition(format!("{path} is the workspace itself, not a file in it"))
        }
        _ => Error::internal(format!("{path}: {e}")),
    }
}

/// ms since the epoch.
fn modified_ms(m: &Metadata) -> i64 {
    m.mtime()
        .saturating_mul(1000)
        .saturating_add(m.mtime_nsec() / 1_000_000)
}

pub(super) fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else {
        "other"
    }
}

pub(super) fn entry(path: String, m: &Metadata) -> FileEntry {
    let name = path.rsplit('/').next().unwrap_or_default().to_string();
    FileEntry {
        name,
        kind: kind(m).into(),
        size: if m.is_dir() { 0 } else { m.len() },
        modified_ms: modified_ms(m),
        ignored: false,
        path,
    }
}

/// `name` inside the open directory `dir`: the kernel resolves the directory by its
/// descriptor, so nothing on the way can be swapped.
pub(super) fn at(dir: &File, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

impl Tree {
    /// The workspace at `dir`; `data_dir` is never served from it.
    pub(super) fn open(dir: &Path, data_dir: &Path) -> Result<Tree> {
        let root = dir.canonicalize().map_err(|e| {
            Error::precondition(format!(
                "the session's workspace {} cannot be used: {e}",
                dir.display()
            ))
        })?;
        let handle = beneath::open_root(&root).map_err(|e| {
            Error::precondition(format!(
                "the session's workspace {} cannot be opened: {e}",
                root.display()
            ))
        })?;
        // Fail closed: without the data dir's real path nothing could be kept from it.
        let data = data_dir
            .canonicalize()
            .map_err(|e| Error::internal(format!("agentmux's data dir cannot be resolved: {e}")))?;
        // A worktree agentmux made lives in the data dir; no other workspace may.
        let guard = if root.starts_with(data.join("worktrees")) {
            None
        } else if root.starts_with(&data) {
            return Err(denied(format!(
                "{} is agentmux's own data directory",
                root.display()
            )));
        } else {
            Some(data)
        };
        Ok(Tree {
            root,
            dir: handle,
            guard,
        })
    }

    /// Where `real` (an absolute path under the root, resolved) sits inside the root, or why
    /// it may not be used.
    fn inside(&self, real: &Path, path: &str) -> Result<PathBuf> {
        let Ok(rel) = real.strip_prefix(&self.root) else {
            return Err(denied(format!(
                "{path} leads outside the session's workspace"
            )));
        };
        if self.guard.as_ref().is_some_and(|g| real.starts_with(g)) {
            return Err(denied(format!("{path} is agentmux's own data directory")));
        }
        if rel.components().any(|c| c.as_os_str() == ".git") {
            return Err(denied(format!(
                "{path} leads into git's own data: use the git routes"
            )));
        }
        Ok(rel.to_path_buf())
    }

    /// `dir` resolved as far as it exists (symlinks followed), the rest appended.
    fn real(&self, dir: &Path, path: &str) -> Result<PathBuf> {
        let mut existing = dir;
        let mut rest = Vec::new();
        let real = loop {
            match existing.canonicalize() {
                Ok(r) => break r,
                // Writing through a dangling link would make its target wherever it points.
                Err(_) if existing.symlink_metadata().is_ok_and(|m| m.is_symlink()) => {
                    return Err(denied(format!(
                        "{path} goes through a symlink that leads nowhere"
                    )));
                }
                Err(_) => {
                    let (Some(parent), Some(name)) = (existing.parent(), existing.file_name())
                    else {
                        return Err(denied(format!("{path} cannot be resolved")));
                    };
                    rest.push(name.to_os_string());
                    existing = parent;
                }
            }
        };
        Ok(rest.into_iter().rev().fold(real, |acc, n| acc.join(n)))
    }

    /// Where `asked` really is, relative to the root. `follow`: a symlink as its last part
    /// is followed (reading, writing); else the link itself is meant (deleting, moving).
    pub(super) fn resolve(&self, asked: &Asked, follow: bool) -> Result<PathBuf> {
        let path = asked.display();
        let Some((name, parent)) = asked.parts.split_last() else {
            return Ok(PathBuf::new());
        };
        let parent = self.real(&self.root.join(parent.join("/")), &path)?;
        self.inside(&parent, &path)?;
        let target = parent.join(name);
        let real = match target.symlink_metadata() {
            Ok(m) if follow && m.is_symlink() => target.canonicalize().map_err(|_| {
                // Dangling: missing when it points inside, refused when it points out.
                match std::fs::read_link(&target).map(|t| lexical(&parent.join(t))) {
                    Ok(to) if to.starts_with(&self.root) => Error::new(
                        ErrorKind::NotFound,
                        format!("{path} is a symlink to a file that does not exist"),
                    ),
                    _ => denied(format!("{path} is a symlink that leads nowhere")),
                }
            })?,
            _ => target,
        };
        // Deleting or moving what holds the data dir would take agentmux's data with it.
        if !follow && self.guard.as_ref().is_some_and(|g| g.starts_with(&real)) {
            return Err(denied(format!(
                "{path} holds agentmux's own data directory"
            )));
        }
        self.inside(&real, &path)
    }

    /// A directory under the root (`rel` from `resolve`), opened beneath it.
    pub(super) fn open_dir(&self, rel: &Path) -> io::Result<File> {
        if rel.as_os_str().is_empty() {
            return self.dir.try_clone();
        }
        beneath::open_exact(
            &self.dir,
            rel,
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NONBLOCK,
            0,
        )
    }

    /// A file under the root, opened for reading beneath it (never waiting on a FIFO).
    pub(super) fn open_file(&self, rel: &Path) -> io::Result<File> {
        beneath::open_exact(&self.dir, rel, libc::O_RDONLY | libc::O_NONBLOCK, 0)
    }

    /// `rel`'s directory (made when missing if `make`), opened, and its last part.
    fn parent_of(&self, rel: &Path, make: bool) -> io::Result<(File, String)> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        if make && !parent.as_os_str().is_empty() {
            beneath::create_dirs(&self.dir, parent)?;
        }
        Ok((self.open_dir(parent)?, name))
    }

    /// Writes `content` to `asked` in one step: a temporary file in the same directory,
    /// synced, renamed over the old one (whose permissions it keeps). Missing directories
    /// are made; a directory is never replaced.
    pub(super) fn write(&self, asked: &Asked, content: &[u8]) -> Result<FileEntry> {
        let path = asked.display();
        if asked.is_root() {
            return Err(Error::precondition(
                "the workspace itself is a directory: name a file in it",
            ));
        }
        let rel = self.resolve(asked, true)?;
        let (dir, name) = self
            .parent_of(&rel, true)
            .map_err(|e| io_error(&path, &e, true))?;
        let mode = match at(&dir, &name).symlink_metadata() {
            Ok(m) if m.is_dir() => {
                return Err(Error::precondition(format!(
                    "{path} is a directory: it is never replaced by a file"
                )));
            }
            Ok(m) if m.is_symlink() => {
                return Err(denied(format!(
                    "{path} changed into a symlink: not followed"
                )));
            }
            Ok(m) if !m.is_file() => {
                return Err(Error::precondition(format!("{path} is not a regular file")));
            }
            Ok(m) => Some(m.permissions().mode()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&path, &e, true)),
        };
        let tmp = temp_name()?;
        let written = (|| -> io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(at(&dir, &tmp))?;
            if let Some(mode) = mode {
                f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
            }
            io::Write::write_all(&mut f, content)?;
            f.sync_all()?;
            std::fs::rename(at(&dir, &tmp), at(&dir, &name))
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(at(&dir, &tmp));
            return Err(io_error(&path, &e, true));
        }
        let m = at(&dir, &name)
            .symlink_metadata()
            .map_err(|e| io_error(&path, &e, false))?;
        Ok(entry(path, &m))
    }

    /// Deletes a file, a symlink (not what it points to) or an empty directory; a full one
    /// only when `recursive`.
    pub(super) fn delete(&self, asked: &Asked, recursive: bool) -> Result<FileEntry> {
        let path = asked.display();
        if asked.is_root() {
            return Err(Error::precondition(
                "the workspace itself cannot be deleted",
            ));
        }
        let rel = self.resolve(asked, false)?;
        let (dir, name) = self
            .parent_of(&rel, false)
            .map_err(|e| io_error(&path, &e, false))?;
        let target = at(&dir, &name);
        let m = target
            .symlink_metadata()
            .map_err(|e| io_error(&path, &e, false))?;
        let gone = if !m.is_dir() {
            std::fs::remove_file(&target)
        } else if recursive {
            // Never follows a symlink inside (std opens each level with O_NOFOLLOW).
            std::fs::remove_dir_all(&target)
        } else {
            std::fs::remove_dir(&target)
        };
        gone.map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTEMPTY) | Some(libc::EEXIST) => Error::precondition(format!(
                "{path} is a directory that is not empty: delete it with recursive=true"
            )),
            _ => io_error(&path, &e, false),
        })?;
        Ok(entry(path, &m))
    }

    /// Moves `from` (a symlink itself, not its target) to `to`, making `to`'s directories.
    pub(super) fn rename(&self, from: &Asked, to: &Asked, overwrite: bool) -> Result<FileEntry> {
        let (fp, tp) = (from.display(), to.display());
        if from.is_root() || to.is_root() {
            return Err(Error::precondition(
                "the workspace itself cannot be moved or replaced",
            ));
        }
        let (src, dst) = (self.resolve(from, false)?, self.resolve(to, false)?);
        let (sdir, sname) = self
            .parent_of(&src, false)
            .map_err(|e| io_error(&fp, &e, false))?;
        let m = at(&sdir, &sname)
            .symlink_metadata()
            .map_err(|e| io_error(&fp, &e, false))?;
        if src == dst {
            return Ok(entry(tp, &m));
        }
        if m.is_dir() && dst.starts_with(&src) {
            return Err(Error::precondition(format!(
                "{fp} cannot move into itself ({tp})"
            )));
        }
        let (ddir, dname) = self
            .parent_of(&dst, true)
            .map_err(|e| io_error(&tp, &e, true))?;
        match at(&ddir, &dname).symlink_metadata() {
            Ok(d) if d.is_dir() => {
                return Err(Error::precondition(format!(
                    "{tp} is a directory: it is never replaced"
                )));
            }
            Ok(_) if !overwrite => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{tp} exists: pass overwrite to replace it"),
                ));
            }
            Ok(_) if m.is_dir() => {
                return Err(Error::precondition(format!(
                    "{tp} is a file: a directory never replaces it"
                )));
            }
            _ => {}
        }
        // Without overwrite, one step that fails if `to` appeared since the check above.
        let moved = if overwrite {
            std::fs::rename(at(&sdir, &sname), at(&ddir, &dname))
        } else {
            match beneath::rename_noreplace(&sdir, &sname, &ddir, &dname) {
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    std::fs::rename(at(&sdir, &sname), at(&ddir, &dname))
                }
                r => r,
            }
        };
        moved.map_err(|e| match e.raw_os_error() {
            Some(libc::EXDEV) => {
                Error::precondition(format!("{fp} and {tp} are on different file systems"))
            }
            Some(libc::EINVAL) => Error::precondition(format!("{fp} cannot move to {tp}")),
            _ => io_error(&fp, &e, true),
        })?;
        let m = at(&ddir, &dname)
            .symlink_metadata()
            .map_err(|e| io_error(&tp, &e, false))?;
        Ok(entry(tp, &m))
    }
}

/// A name no one else picks: `.agentmux-<16 hex>.tmp`.
fn temp_name() -> Result<String> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(format!(".agentmux-{:016x}.tmp", u64::from_le_bytes(raw)))
}
