//! What the coding-agent CLI adapters share: the generic `CliProvider` over a `CliAgent` (what
//! differs per CLI), one process slot per session, the CLI's process, its settings (where its
//! executable is, its health), and small helpers (paths inside the session directory, clipped output).

mod agent;
pub mod process;
mod slots;

pub use agent::{CliAgent, CliProvider, CliSettings, Turn};
pub use slots::CliProc;

use agentmux_shared::types::Decision;

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
}
