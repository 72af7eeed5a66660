//! The ACP client's `fs/read_text_file` and `fs/write_text_file`, confined to the session's
//! working directory: no `..`, no absolute path outside it, no symlink leading out of it.

use crate::os::beneath;
use std::path::{Component, Path, PathBuf};

/// Why a path is refused or a file operation failed (sent back as a JSON-RPC error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FsError {
    /// Outside the session's directory (or not a usable path at all).
    Outside(String),
    Io(String),
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::Outside(m) | FsError::Io(m) => f.write_str(m),
        }
    }
}

/// `path` as a real location inside `cwd`, or why not. The file itself need not exist; its
/// nearest existing ancestor must resolve (symlinks followed) inside `cwd`.
pub(crate) fn confine(cwd: &str, path: &str) -> Result<PathBuf, FsError> {
    if cwd.is_empty() {
        return Err(FsError::Outside(
            "the session has no working directory".into(),
        ));
    }
    let root = Path::new(cwd)
        .canonicalize()
        .map_err(|e| FsError::Io(format!("the session directory {cwd}: {e}")))?;
    let p = Path::new(path);
    if path.is_empty() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(FsError::Outside(format!(
            "{path:?} is not a plain path inside the session directory"
        )));
    }
    // Relative to the directory as given or as resolved: both name the same place.
    let rel = if p.is_absolute() {
        p.strip_prefix(cwd)
            .or_else(|_| p.strip_prefix(&root))
            .map_err(|_| {
                FsError::Outside(format!("{path} is outside the session directory {cwd}"))
            })?
    } else {
        p
    };
    let target = root.join(rel);
    // The nearest part that exists decides where the path really leads.
    let mut existing = target.as_path();
    let mut rest = Vec::new();
    let real = loop {
        match existing.canonicalize() {
            Ok(r) => break r,
            // A dangling symlink does not resolve, but writing through it would create its
            // target wherever it points.
            Err(_)
                if existing
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                return Err(FsError::Outside(format!(
                    "{path} goes through a symlink that leads nowhere"
                )));
            }
            Err(_) => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(FsError::Outside(format!("{path} cannot be resolved")));
                };
                rest.push(name.to_os_string());
                existing = parent;
            }
        }
    };
    if !real.starts_with(&root) {
        return Err(FsError::Outside(format!(
            "{path} leads outside the session directory {cwd}"
        )));
    }
    Ok(rest.into_iter().rev().fold(real, |acc, n| acc.join(n)))
}

/// `path` as the session directory and a path beneath it. `confine` gives the clear errors;
/// the open itself is then done beneath the directory by the kernel (`os::beneath`), so a
/// symlink swapped in after the check cannot lead out either.
fn locate(cwd: &str, path: &str) -> Result<(std::fs::File, PathBuf), FsError> {
    let real = confine(cwd, path)?;
    let root = Path::new(cwd)
        .canonicalize()
        .map_err(|e| FsError::Io(format!("the session directory {cwd}: {e}")))?;
    let rel = real
        .strip_prefix(&root)
        .map_err(|_| FsError::Outside(format!("{path} leads outside the session directory")))?
        .to_path_buf();
    let dir = beneath::open_root(&root)
        .map_err(|e| FsError::Io(format!("the session directory {cwd}: {e}")))?;
    Ok((dir, rel))
}

fn open_err(path: &str, verb: &str, e: std::io::Error) -> FsError {
    if beneath::is_escape(&e) {
        FsError::Outside(format!("{path} leads outside the session directory"))
    } else {
        FsError::Io(format!("cannot {verb} {path}: {e}"))
    }
}

/// Largest file served to `fs/read_text_file`: an agent reading a huge log must not take the
/// daemon's memory with it.
const MAX_READ: u64 = 16 * 1024 * 1024;

fn regular(f: &std::fs::File, path: &str) -> Result<std::fs::Metadata, FsError> {
    let m = f
        .metadata()
        .map_err(|e| FsError::Io(format!("cannot stat {path}: {e}")))?;
    if !m.is_file() {
        return Err(FsError::Io(format!("{path} is not a regular file")));
    }
    Ok(m)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> Result<T, FsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FsError::Io(format!("file task failed: {e}")))?
}

/// `fs/read_text_file`: a missing file reads as empty (Gemini reads a file before creating it).
/// `line` is 1-based; `limit` counts lines.
pub(crate) async fn read(
    cwd: &str,
    path: &str,
    line: Option<u64>,
    limit: Option<u64>,
) -> Result<String, FsError> {
    let (cwd, path) = (cwd.to_string(), path.to_string());
    let text = blocking(move || {
        let (dir, rel) = locate(&cwd, &path)?;
        // Non-blocking: a FIFO must not hold the open until a writer shows up.
        let f = match beneath::open(&dir, &rel, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(open_err(&path, "read", e)),
        };
        let m = regular(&f, &path)?;
        if m.len() > MAX_READ {
            return Err(FsError::Io(format!(
                "{path} is {} bytes, over the {MAX_READ} bytes agentmux serves",
                m.len()
            )));
        }
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_READ), &mut b)
            .map_err(|e| FsError::Io(format!("cannot read {path}: {e}")))?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    })
    .await?;
    if line.is_none() && limit.is_none() {
        return Ok(text);
    }
    let skip = line.unwrap_or(1).saturating_sub(1) as usize;
    let take = limit.map(|l| l as usize).unwrap_or(usize::MAX);
    Ok(text.split_inclusive('\n').skip(skip).take(take).collect())
}

/// `fs/write_text_file`: creates missing parent directories (inside the session directory).
pub(crate) async fn write(cwd: &str, path: &str, content: &str) -> Result<(), FsError> {
    let (cwd, path, content) = (cwd.to_string(), path.to_string(), content.to_string());
    blocking(move || {
        let (dir, rel) = locate(&cwd, &path)?;
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            beneath::create_dirs(&dir, parent)
                .map_err(|e| open_err(&path, "create the directory of", e))?;
        }
        // Opened without truncating: a FIFO or device is refused before anything is cut.
        let mut f = beneath::open(
            &dir,
            &rel,
            libc::O_WRONLY | libc::O_CREAT | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            0o644,
        )
        .map_err(|e| open_err(&path, "write", e))?;
        regular(&f, &path)?;
        f.set_len(0)
            .map_err(|e| FsError::Io(format!("cannot write {path}: {e}")))?;
        std::io::Write::write_all(&mut f, content.as_bytes())
            .map_err(|e| FsError::Io(format!("cannot write {path}: {e}")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outside(r: Result<PathBuf, FsError>) -> bool {
        matches!(r, Err(FsError::Outside(_)))
    }

    #[tokio::test]
    async fn paths_stay_inside_the_session_directory() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        std::fs::write(other.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(other.path(), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(other.path().join("secret"), dir.path().join("s.txt")).unwrap();

        assert!(confine(cwd, "a.txt").is_ok());
        assert!(confine(cwd, &format!("{cwd}/sub/new/a.txt")).is_ok());
        assert!(outside(confine(cwd, "../x")));
        assert!(outside(confine(cwd, &format!("{cwd}/../x"))));
        assert!(outside(confine(cwd, "sub/../../x")));
        assert!(outside(confine(cwd, "/etc/passwd")));
        assert!(outside(confine(cwd, "")));
        assert!(outside(confine(cwd, "link/secret")));
        assert!(outside(confine(cwd, "link/new.txt")));
        assert!(outside(confine(cwd, "s.txt")));

        assert!(read(cwd, "link/secret", None, None).await.is_err());
        assert!(write(cwd, "link/evil", "x").await.is_err());
        assert!(!other.path().join("evil").exists());
        assert!(write(cwd, "/tmp/agentmux-acp-evil", "x").await.is_err());
    }

    #[tokio::test]
    async fn read_and_write_inside() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        assert_eq!(read(cwd, "missing.txt", None, None).await.unwrap(), "");
        write(cwd, "deep/er/f.txt", "1\n2\n3\n4\n").await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("deep/er/f.txt")).unwrap(),
            "1\n2\n3\n4\n"
        );
        let abs = format!("{cwd}/deep/er/f.txt");
        assert_eq!(read(cwd, &abs, None, None).await.unwrap(), "1\n2\n3\n4\n");
        assert_eq!(read(cwd, &abs, Some(2), Some(2)).await.unwrap(), "2\n3\n");
        assert_eq!(read(cwd, &abs, Some(4), None).await.unwrap(), "4\n");
        assert_eq!(read(cwd, &abs, None, Some(1)).await.unwrap(), "1\n");
        assert!(matches!(
            read(cwd, "deep", None, None).await,
            Err(FsError::Io(_))
        ));
    }

    #[tokio::test]
    async fn dangling_symlinks_fifos_and_huge_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        let target = other.path().join("authorized_keys");
        std::os::unix::fs::symlink(&target, dir.path().join("notes.txt")).unwrap();
        assert!(outside(confine(cwd, "notes.txt")));
        assert!(write(cwd, "notes.txt", "x").await.is_err());
        assert!(!target.exists(), "a write through a dangling link escaped");
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path in a test's own temp dir.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            read(cwd, "pipe", None, None),
        )
        .await
        .expect("reading a FIFO must not hang");
        assert!(matches!(r, Err(FsError::Io(_))), "{r:?}");
        let w = tokio::time::timeout(std::time::Duration::from_secs(5), write(cwd, "pipe", "x"))
            .await
            .expect("writing a FIFO must not hang");
        assert!(w.is_err());
        let big = std::fs::File::create(dir.path().join("big.log")).unwrap();
        big.set_len(MAX_READ + 1).unwrap();
        assert!(matches!(
            read(cwd, "big.log", None, None).await,
            Err(FsError::Io(_))
        ));
    }

    /// Flips `d` between a real directory and a link to `out` until `stop`.
    fn swapper(
        d: PathBuf,
        out: PathBuf,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        let link = d.with_extension("link");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        let a = std::ffi::CString::new(d.to_str().unwrap()).unwrap();
        let b = std::ffi::CString::new(link.to_str().unwrap()).unwrap();
        std::thread::spawn(move || {
            // Atomic exchange: `d` always exists, as a directory or as the link.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: renameat2(2) with two valid C strings.
                let rc = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
                std::thread::yield_now();
            }
        })
    }

    #[tokio::test]
    async fn a_symlink_swapped_during_reads_and_writes_never_leads_out() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap().to_string();
        // `d` is a real directory when checked, and a link out of the session some of the
        // time in between: what a path check followed by an open cannot see.
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("f"), "inside").unwrap();
        std::fs::write(other.path().join("f"), "SECRET").unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flips = swapper(d.clone(), other.path().to_path_buf(), stop.clone());
        let mut inside = 0;
        for _ in 0..1000 {
            if let Ok(text) = read(&cwd, "d/f", None, None).await {
                assert_ne!(text, "SECRET", "a read escaped through the swapped link");
                inside += usize::from(text == "inside");
            }
            let _ = write(&cwd, "d/w", "x").await;
        }
        stop.store(true, Ordering::Relaxed);
        flips.join().unwrap();
        assert!(!other.path().join("w").exists(), "a write escaped");
        assert!(inside > 0, "no read got through at all");
    }
}
