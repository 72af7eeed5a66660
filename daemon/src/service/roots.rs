//! The directories sessions and terminals may work in. A key is otherwise as strong as the
//! daemon's user: with it, a session in `/` lets an agent read whatever that user can. The
//! roots are `[daemon] allowed_roots` when set; else the user's home, the temp dir, the
//! directory the daemon started in (unless `/`) and every existing session's directory.

use super::Service;
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

pub(super) struct Roots {
    dirs: Vec<PathBuf>,
}

fn real(p: &Path) -> Option<PathBuf> {
    p.canonicalize().ok()
}

impl Roots {
    pub(super) fn new(configured: &[String], sessions: impl Iterator<Item = String>) -> Roots {
        let mut dirs: Vec<PathBuf> = if configured.is_empty() {
            let mut d: Vec<PathBuf> = std::env::var_os("HOME")
                .map(PathBuf::from)
                .into_iter()
                .collect();
            d.push(std::env::temp_dir());
            d.extend(std::env::current_dir().ok().filter(|c| c != Path::new("/")));
            d.extend(sessions.map(PathBuf::from));
            d
        } else {
            configured.iter().map(PathBuf::from).collect()
        };
        let derived = configured.is_empty();
        // `/` is a root only when configured: a session made in `/` by an older build, a HOME
        // of `/` or a daemon started there must not switch the check off.
        dirs = dirs
            .iter()
            .filter_map(|d| real(d))
            .filter(|d| !derived || d != Path::new("/"))
            .collect();
        dirs.sort();
        dirs.dedup();
        Roots { dirs }
    }

    /// `dir` resolved, if it lies under a root.
    fn allows(&self, dir: &Path) -> bool {
        real(dir).is_some_and(|d| self.dirs.iter().any(|r| d.starts_with(r)))
    }
}

impl Service {
    pub(super) fn roots(&self) -> std::sync::Arc<Roots> {
        match self.shared.roots.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Refuses a working directory outside the allowed roots.
    pub(super) fn check_root(&self, dir: &str) -> Result<()> {
        let roots = self.roots();
        if roots.allows(Path::new(dir)) {
            return Ok(());
        }
        let list: Vec<String> = roots.dirs.iter().map(|d| d.display().to_string()).collect();
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{dir} is outside the directories agentmux may work in ({}): add it to [daemon] allowed_roots",
                list.join(", ")
            ),
        ))
    }

    /// Where a session or terminal without a directory works: the daemon's own directory, else
    /// the home directory, else the first root, whichever is allowed.
    pub(super) fn default_dir(&self) -> Result<String> {
        let roots = self.roots();
        let candidates = std::env::current_dir()
            .ok()
            .into_iter()
            .chain(std::env::var_os("HOME").map(PathBuf::from))
            .chain(roots.dirs.first().cloned());
        for dir in candidates {
            if roots.allows(&dir) {
                return Ok(dir.display().to_string());
            }
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            "no allowed directory to work in: give one, or set [daemon] allowed_roots",
        ))
    }

    /// `dir` checked against the roots and resolved, as it is stored: a link re-pointed later
    /// cannot move a session out.
    pub(super) fn allowed_dir(&self, dir: &str) -> Result<String> {
        self.check_root(dir)?;
        Ok(real(Path::new(dir))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| dir.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_under_a_root_are_allowed() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(other.path(), root.path().join("out")).unwrap();
        let r = Roots::new(&[root.path().display().to_string()], std::iter::empty());
        assert!(r.allows(root.path()));
        assert!(r.allows(&root.path().join("sub")));
        assert!(!r.allows(other.path()));
        assert!(!r.allows(&root.path().join("out")), "a link out of a root");
        assert!(!r.allows(Path::new("/")));
        assert!(!r.allows(&root.path().join("sub/../..")));
    }

    #[test]
    fn slash_is_a_root_only_when_configured() {
        let r = Roots::new(&[], ["/".to_string()].into_iter());
        assert!(!r.allows(Path::new("/etc")));
        let r = Roots::new(&["/".to_string()], std::iter::empty());
        assert!(r.allows(Path::new("/etc")));
    }
}
