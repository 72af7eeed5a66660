//! Opening files beneath a directory so that no `..`, absolute path or symlink leads out of it,
//! decided by the kernel at the moment of opening: a check of the path followed by an open
//! loses to a symlink swapped in between. `openat2(RESOLVE_BENEATH)` where the kernel has it
//! (Linux 5.6+), else one `openat(O_NOFOLLOW)` per component (stricter: no symlink at all).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// `struct open_how` of linux/openat2.h.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// True for the errors that mean "this path leads out" (as opposed to "it is missing").
pub fn is_escape(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EXDEV) | Some(libc::ELOOP))
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
}

fn escape() -> io::Error {
    io::Error::from_raw_os_error(libc::EXDEV)
}

/// The directory everything is opened beneath.
pub fn open_root(dir: &Path) -> io::Result<File> {
    let c = cstr(dir)?;
    // SAFETY: open(2) with a valid C string; the fd is owned by the File from here on.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn openat(dir: RawFd, name: &Path, flags: i32, mode: u32) -> io::Result<File> {
    let c = cstr(name)?;
    // SAFETY: openat(2) on a live dir fd with a valid C string.
    let fd = unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn openat2(dir: RawFd, rel: &Path, flags: i32, mode: u32, exact: bool) -> io::Result<File> {
    let c = cstr(rel)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve: RESOLVE_BENEATH
            | RESOLVE_NO_MAGICLINKS
            | if exact { RESOLVE_NO_SYMLINKS } else { 0 },
    };
    // SAFETY: openat2(2) with a live dir fd, a valid C string and a struct of the size given.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd as RawFd) })
}

/// Opens `rel` (relative, no `..`) beneath `root` with `flags`; `mode` for a created file.
pub fn open(root: &File, rel: &Path, flags: i32, mode: u32) -> io::Result<File> {
    open_with(root, rel, flags, mode, false)
}

/// `open` of a path already resolved: any symlink on the way (one swapped in since) fails.
pub fn open_exact(root: &File, rel: &Path, flags: i32, mode: u32) -> io::Result<File> {
    open_with(root, rel, flags, mode, true)
}

fn open_with(root: &File, rel: &Path, flags: i32, mode: u32, exact: bool) -> io::Result<File> {
    let mut names = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => names.push(n),
            Component::CurDir => {}
            _ => return Err(escape()),
        }
    }
    if names.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty path"));
    }
    match openat2(root.as_raw_fd(), rel, flags, mode, exact) {
        // No openat2 in this kernel, or a seccomp profile (older Docker) that refuses it.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {}
        r => return r,
    }
    // No openat2: walk the path one directory at a time, following no symlink.
    let last = names.len() - 1;
    let mut dir: Option<File> = None;
    for (i, name) in names.iter().enumerate() {
        let at = dir.as_ref().unwrap_or(root).as_raw_fd();
        if i == last {
            return openat(at, Path::new(name), flags | libc::O_NOFOLLOW, mode);
        }
        let next = openat(
            at,
            Path::new(name),
            libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_RDONLY,
            0,
        )?;
        dir = Some(next);
    }
    Err(escape())
}

/// Renames `from` in `from_dir` to `to` in `to_dir` unless `to` exists, in one step (so nothing
/// made there meanwhile is replaced): `AlreadyExists` then. `Unsupported` where the file
/// system or the kernel cannot (the caller checks and renames instead).
pub fn rename_noreplace(from_dir: &File, from: &str, to_dir: &File, to: &str) -> io::Result<()> {
    let (f, t) = (cstr(Path::new(from))?, cstr(Path::new(to))?);
    // SAFETY: renameat2(2) on live dir fds with valid C strings.
    let r = unsafe {
        libc::renameat2(
            from_dir.as_raw_fd(),
            f.as_ptr(),
            to_dir.as_raw_fd(),
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EINVAL) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        _ => Err(e),
    }
}

/// Creates the directories of `rel` beneath `root` (like `mkdir -p`), never through a symlink
/// that leads out.
pub fn create_dirs(root: &File, rel: &Path) -> io::Result<()> {
    let mut done = std::path::PathBuf::new();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            if c == Component::CurDir {
                continue;
            }
            return Err(escape());
        };
        let parent = if done.as_os_str().is_empty() {
            root.try_clone()?
        } else {
            open(
                root,
                &done,
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NONBLOCK,
                0,
            )?
        };
        let n = cstr(Path::new(name))?;
        // SAFETY: mkdirat(2) on a live dir fd; mkdir never follows a symlink at its last part.
        if unsafe { libc::mkdirat(parent.as_raw_fd(), n.as_ptr(), 0o755) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e);
            }
        }
        done.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_opens_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("secret"), "s").unwrap();
        std::fs::write(dir.path().join("ok"), "fine").unwrap();
        std::os::unix::fs::symlink(other.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("abs")).unwrap();
        let root = open_root(dir.path()).unwrap();
        let rd = libc::O_RDONLY;
        assert!(open(&root, Path::new("ok"), rd, 0).is_ok());
        for bad in ["out/secret", "abs", "../x", "/etc/passwd"] {
            let e = open(&root, Path::new(bad), rd, 0).unwrap_err();
            assert!(is_escape(&e), "{bad}: {e}");
        }
        let e = create_dirs(&root, Path::new("out/new")).unwrap_err();
        assert!(is_escape(&e), "{e}");
        assert!(!other.path().join("new").exists());
        create_dirs(&root, Path::new("a/b/c")).unwrap();
        assert!(dir.path().join("a/b/c").is_dir());
    }
}
