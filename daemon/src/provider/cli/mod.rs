//! What the coding-agent CLI adapters share: the generic `CliProvider` over a `CliAgent` (what
//! differs per CLI), one process slot per session, the CLI's process, its settings and health,
//! and small helpers (paths inside the session directory, clipped output).

mod agent;
pub mod process;
mod slots;

pub use agent::{CliAgent, CliProvider, CliSettings, Turn};
pub use slots::CliProc;

use agentmux_shared::types::{Decision, ProviderHealth};
use std::path::PathBuf;

/// The executable `command` names (a path, or a name looked up on `PATH`), when it exists.
pub fn resolve(command: &str) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let cmd = PathBuf::from(command);
    if command.contains('/') {
        return cmd.is_file().then_some(cmd);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(command))
        .find(|p| p.is_file())
}

/// Available when the executable is found; otherwise why not and how to get it.
pub fn health(id: &str, command: &str, hint: &str) -> ProviderHealth {
    match resolve(command) {
        Some(p) => ProviderHealth {
            id: id.to_string(),
            available: true,
            detail: p.display().to_string(),
        },
        None if command.is_empty() => ProviderHealth {
            id: id.to_string(),
            available: false,
            detail: format!("no command ({hint})"),
        },
        None => ProviderHealth {
            id: id.to_string(),
            available: false,
            detail: format!("{command:?} not found ({hint})"),
        },
    }
}

/// The choices of an approval the CLI takes as allow once, allow always or deny.
pub fn decision_options() -> Vec<String> {
    [Decision::AllowOnce, Decision::AllowAlways, Decision::Deny]
        .iter()
        .map(|d| d.as_str().to_string())
        .collect()
}

/// Whether `path` (relative to `cwd`, or absolute) names a place inside `cwd`, judged by its
/// components: what the `auto-edit` policy may allow without asking.
pub fn inside(cwd: &str, path: &str) -> bool {
    use std::path::{Component, Path};
    let p = Path::new(path);
    if cwd.is_empty()
        || path.is_empty()
        || p.components().any(|c| matches!(c, Component::ParentDir))
    {
        return false;
    }
    if !p.is_absolute() {
        return true;
    }
    let root = Path::new(cwd);
    p.starts_with(root) || root.canonicalize().is_ok_and(|r| p.starts_with(r))
}

/// At most `max` bytes of `s` (cut at a char boundary), marked when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_char_boundaries() {
        assert_eq!(clip("hello", 10), "hello");
        assert_eq!(clip("hello", 3), "hel…");
        assert_eq!(clip("héllo", 2), "h…");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn inside_is_judged_by_components() {
        for (path, want) in [
            ("a.txt", true),
            ("src/a.rs", true),
            ("/w/src/a.rs", true),
            ("/w", true),
            ("../x", false),
            ("src/../../x", false),
            ("/w/../etc/passwd", false),
            ("/home/u/.bashrc", false),
            ("/wx/a", false),
            ("", false),
        ] {
            assert_eq!(inside("/w", path), want, "{path}");
        }
        assert!(!inside("", "a.txt"));
    }

    #[test]
    fn resolve_finds_paths_and_names() {
        assert!(resolve("").is_none());
        assert!(resolve("/nonexistent/x").is_none());
        assert_eq!(
            resolve("sh").is_some(),
            std::path::Path::new("/bin/sh").exists()
        );
        let h = health("x", "/nonexistent/x", "install x");
        assert!(!h.available);
        assert!(h.detail.contains("install x"), "{}", h.detail);
    }
}
