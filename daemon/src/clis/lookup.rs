//! Finding a CLI's executable, the one way for everyone (health, the registry, spawning): a
//! configured path as given, else `<data dir>/clis/bin/<name>`, else the first on `PATH`; only
//! executable files count.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where an executable was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Managed,
    Path,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Managed => "managed",
            Source::Path => "path",
        }
    }
}

/// The executable `command` names. A command with a `/` is a path, taken as given; a name is
/// looked up in `managed_bin` (when there is one), then on `path_var`.
pub fn find(
    command: &str,
    managed_bin: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Option<(PathBuf, Source)> {
    if command.is_empty() {
        return None;
    }
    if command.contains('/') {
        let p = PathBuf::from(command);
        return is_executable(&p).then_some((p, Source::Config));
    }
    if let Some(dir) = managed_bin {
        let p = dir.join(command);
        if is_executable(&p) {
            return Some((p, Source::Managed));
        }
    }
    std::env::split_paths(path_var?)
        .filter(|d| Some(d.as_path()) != managed_bin)
        .map(|d| d.join(command))
        .find(|p| is_executable(p))
        .map(|p| (p, Source::Path))
}

/// `find` with the daemon's own `PATH`.
pub fn find_here(command: &str, managed_bin: Option<&Path>) -> Option<(PathBuf, Source)> {
    find(command, managed_bin, std::env::var_os("PATH").as_deref())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn config_then_managed_then_path_and_only_executables() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let managed = dir.path().join("managed");
        let other = dir.path().join("other");
        for d in [&managed, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        let exe = |p: &Path| {
            std::fs::write(p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe(&other.join("a"));
        std::fs::write(other.join("plain"), "not executable").unwrap();
        let path = std::env::join_paths([&managed, &other]).unwrap();
        let r = |cmd: &str| find(cmd, Some(&managed), Some(&path));
        assert_eq!(r("a"), Some((other.join("a"), Source::Path)));
        exe(&managed.join("a"));
        assert_eq!(r("a"), Some((managed.join("a"), Source::Managed)));
        let explicit = other.join("a").display().to_string();
        assert_eq!(r(&explicit), Some((other.join("a"), Source::Config)));
        // Not executable: not found, by name or by path.
        assert_eq!(r("plain"), None);
        assert_eq!(r(&other.join("plain").display().to_string()), None);
        assert_eq!(r("missing"), None);
        assert_eq!(r("/nope/a"), None);
        assert_eq!(r(""), None);
        // A directory is not an executable.
        assert_eq!(r(&managed.display().to_string()), None);
        // Without a managed dir, PATH alone; without PATH, the managed dir alone.
        assert_eq!(
            find("a", None, Some(&path)),
            Some((managed.join("a"), Source::Path))
        );
        assert_eq!(
            find("a", Some(&managed), None),
            Some((managed.join("a"), Source::Managed))
        );
        assert_eq!(find("a", None, None), None);
    }
}
