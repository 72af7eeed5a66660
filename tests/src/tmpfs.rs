//! A small tmpfs for tests of full and read-only disks. Mounting needs root (CI runs as root);
//! elsewhere `mount` returns `None` and the test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on a new temp dir.
    pub fn mount(bytes: u64) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new().prefix("amxfs").tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn read_only(&self, ro: bool) {
        let opt = if ro { "remount,ro" } else { "remount,rw" };
        let ok = Command::new("mount")
            .args(["-o", opt])
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount -o {opt} {}", self.dir.path().display());
    }

    /// Fills the disk but for about `leave` bytes; returns the filler to remove later.
    pub fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.join("filler");
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        let c = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statvfs fills the struct we pass; the path is a valid C string.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) }, 0);
        let st = unsafe { st.assume_init() };
        let free = st.f_bavail * st.f_frsize;
        let f = std::fs::File::create(&filler).unwrap();
        f.set_len(0).unwrap();
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        let chunk = vec![0u8; 64 * 1024];
        let mut left = free.saturating_sub(leave);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if w.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = w.flush();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
