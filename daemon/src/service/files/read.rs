//! Reading a workspace: one page of a directory (what `.gitignore` hides left out unless
//! asked for), a range of a file with its type and whether it is binary.

use super::tree::{Asked, Tree, at, entry, io_error};
use agentmux_shared::types::{FileContent, FileEntry, FileList, FileListQuery};
use agentmux_shared::{Error, Result};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Entries per page unless asked, and at most.
const PAGE: u32 = 200;
const MAX_PAGE: u32 = 1000;
/// Bytes a read returns unless asked, and at most.
pub(super) const READ: u64 = 1 << 20;
pub(super) const MAX_READ: u64 = 16 << 20;
/// A NUL byte this far in makes a file binary (git's rule).
const SNIFF: u64 = 8000;

/// A page token: after this (directories first, then by name).
fn after(token: &str) -> Result<Option<(u8, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid(format!("page_token {token:?} is not one a listing gave"));
    let rank = match token.get(..2) {
        Some("d:") => 0,
        Some("f:") => 1,
        _ => return Err(bad()),
    };
    let name = &token[2..];
    if name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    Ok(Some((rank, name.to_string())))
}

fn token(rank: u8, name: &str) -> String {
    format!("{}:{name}", if rank == 0 { "d" } else { "f" })
}

/// The names in `dir` that no gitignore rule (of it, its parents, the repository's excludes
/// or the user's global file) hides.
fn visible(dir: &Path) -> HashSet<OsString> {
    // The walker reads ignore files by path: a FIFO would block it, a link to /dev/zero fill
    // memory. Unless every one it could read is a plain file of sane size, nothing is hidden.
    if !plain_ignore_files(dir) {
        return std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
    }
    ignore::WalkBuilder::new(dir)
        .max_depth(Some(1))
        .hidden(false)
        .ignore(false)
        .git_global(false)
        .parents(true)
        .follow_links(false)
        .build()
        .flatten()
        .filter(|e| e.depth() == 1)
        .map(|e| e.file_name().to_os_string())
        .collect()
}

/// Whether every ignore file the walker of `dir` may read (`.gitignore` in it and its parents,
/// a repository's `info/exclude`) is absent or a regular file of at most 1 MiB.
fn plain_ignore_files(dir: &Path) -> bool {
    dir.ancestors().all(|a| {
        [a.join(".gitignore"), a.join(".git/info/exclude")]
            .iter()
            .all(|f| match f.symlink_metadata() {
                Err(_) => true,
                Ok(m) => m.is_file() && m.len() <= 1024 * 1024,
            })
    })
}

/// Reads into `buf` from `offset` until it is full or the file ends; how much was read.
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What a client should take the bytes for. Never a type a browser would run or a client
/// would parse (no HTML, no JSON): text is plain text.
fn mime(path: &str, head: &[u8], binary: bool) -> &'static str {
    if let Ok(f) = image::guess_format(head)
        && let Some(m) = match f {
            image::ImageFormat::Png => Some("image/png"),
            image::ImageFormat::Jpeg => Some("image/jpeg"),
            image::ImageFormat::Gif => Some("image/gif"),
            image::ImageFormat::WebP => Some("image/webp"),
            image::ImageFormat::Bmp => Some("image/bmp"),
            image::ImageFormat::Ico => Some("image/x-icon"),
            image::ImageFormat::Tiff => Some("image/tiff"),
            _ => None,
        }
    {
        return m;
    }
    if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if binary {
        "application/octet-stream"
    } else if path.to_ascii_lowercase().ends_with(".svg") {
        "image/svg+xml"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the workspace"
    } else {
        path
    }
}

impl Tree {
    /// One page of the directory `asked`.
    pub(super) fn list(&self, asked: &Asked, q: &FileListQuery) -> Result<FileList> {
        let path = asked.display();
        let after = after(&q.page_token)?;
        let size = match q.page_size {
            0 => PAGE,
            n => n.min(MAX_PAGE),
        } as usize;
        let rel = self.resolve(asked, true)?;
        let dir = self.open_dir(&rel).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOTDIR) {
                Error::precondition(format!("{path} is a file: read it"))
            } else {
                io_error(shown(&path), &e, false)
            }
        })?;
        let shown_ok = |e: std::io::Error| io_error(shown(&path), &e, false);
        let plain = visible(&self.root.join(&rel));
        let mut names: Vec<(u8, String, bool)> = Vec::new();
        // Read through the opened directory, so the names are the ones checked above.
        for e in std::fs::read_dir(at(&dir, ".")).map_err(shown_ok)? {
            let e = e.map_err(shown_ok)?;
            let name = e.file_name();
            let ignored = !plain.contains(&name);
            if name == ".git" || (ignored && !q.all) {
                continue;
            }
            let rank = u8::from(!e.file_type().is_ok_and(|t| t.is_dir()));
            names.push((rank, name.to_string_lossy().into_owned(), ignored));
        }
        names.sort();
        let start = after.map_or(0, |(r, n)| {
            names.partition_point(|(a, b, _)| (*a, b.as_str()) <= (r, n.as_str()))
        });
        let mut entries: Vec<FileEntry> = Vec::new();
        let mut last = None;
        let mut next = String::new();
        for (rank, name, ignored) in &names[start..] {
            if entries.len() == size {
                if let Some((r, n)) = last {
                    next = token(r, n);
                }
                break;
            }
            // Gone since the directory was read: left out.
            let Ok(m) = at(&dir, name).symlink_metadata() else {
                continue;
            };
            let p = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            let mut e = entry(p, &m);
            e.ignored = *ignored;
            entries.push(e);
            last = Some((*rank, name.as_str()));
        }
        Ok(FileList {
            path,
            entries,
            next_page_token: next,
        })
    }

    /// `asked` opened as a regular file, with its metadata.
    pub(super) fn regular(&self, asked: &Asked) -> Result<(File, Metadata)> {
        let path = asked.display();
        let rel = self.resolve(asked, true)?;
        if rel.as_os_str().is_empty() {
            return Err(Error::precondition("the workspace is a directory: list it"));
        }
        let f = self
            .open_file(&rel)
            .map_err(|e| io_error(&path, &e, false))?;
        let m = f.metadata().map_err(|e| io_error(&path, &e, false))?;
        if m.is_dir() {
            return Err(Error::precondition(format!(
                "{path} is a directory: list it"
            )));
        }
        if !m.is_file() {
            return Err(Error::precondition(format!("{path} is not a regular file")));
        }
        Ok((f, m))
    }

    /// `length` bytes of `asked` from `offset` (0: the default; capped).
    pub(super) fn read(&self, asked: &Asked, offset: u64, length: u64) -> Result<FileContent> {
        let path = asked.display();
        let (f, m) = self.regular(asked)?;
        let size = m.len();
        let err = |e: std::io::Error| io_error(&path, &e, false);
        let mut head = vec![0; size.min(SNIFF) as usize];
        let n = read_at(&f, &mut head, 0).map_err(err)?;
        head.truncate(n);
        let binary = head.contains(&0);
        let want = match length {
            0 => READ,
            l => l.min(MAX_READ),
        };
        let start = offset.min(size);
        let mut content = vec![0; want.min(size - start) as usize];
        let n = read_at(&f, &mut content, start).map_err(err)?;
        content.truncate(n);
        Ok(FileContent {
            mime: mime(&path, &head, binary).into(),
            truncated: start + (n as u64) < size,
            path,
            content,
            offset: start,
            size,
            binary,
        })
    }
}
