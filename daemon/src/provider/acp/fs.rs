//! The ACP client's `fs/read_text_file` and `fs/write_text_file`, confined to the session's
//! working directory: no `..`, no absolute path outside it, no symlink leading out of it.

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

/// Largest file served to `fs/read_text_file`: an agent reading a huge log must not take the
/// daemon's memory with it.
const MAX_READ: u64 = 16 * 1024 * 1024;

/// Opens without following a final symlink and without waiting on a FIFO's other end.
fn open(p: &Path, o: &mut std::fs::OpenOptions) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(p)
}

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
        let p = confine(&cwd, &path)?;
        let f = match open(&p, std::fs::OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(FsError::Io(format!("cannot read {path}: {e}"))),
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
        let p = confine(&cwd, &path)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| FsError::Io(format!("cannot create the directory of {path}: {e}")))?;
        }
        // A symlink created meanwhile must not lead out either.
        confine(&cwd, &path)?;
        let mut f = open(
            &p,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )
        .map_err(|e| FsError::Io(format!("cannot write {path}: {e}")))?;
        regular(&f, &path)?;
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
}
