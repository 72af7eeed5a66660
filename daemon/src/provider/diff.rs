//! Unified diffs of the file edits coding agents propose (Claude's Write / Edit / MultiEdit inputs).

use std::path::Path;

/// How a diff header names `path`: relative to the session's directory when inside it (as
/// git would), else the path without its leading `/`.
pub fn header_name(cwd: &str, path: &str) -> String {
    let p = Path::new(path);
    match p.strip_prefix(cwd) {
        Ok(rel) if !cwd.is_empty() && !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.trim_start_matches('/').to_string(),
    }
}

/// A unified diff of `old` → `new` for `path` (empty when they are equal).
pub fn unified(cwd: &str, path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let name = header_name(cwd, path);
    let (a, b) = if old.is_empty() {
        ("/dev/null".to_string(), format!("b/{name}"))
    } else {
        (format!("a/{name}"), format!("b/{name}"))
    };
    // A huge, very different pair must not hold an async thread for long.
    similar::TextDiff::configure()
        .timeout(std::time::Duration::from_millis(300))
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string()
}

/// The current content of `path` if it is a readable text file inside `cwd`; empty otherwise
/// (a missing file, or one outside the session's directory, diffs as new).
pub fn read_within(cwd: &str, path: &str) -> String {
    let p = Path::new(path);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new(cwd).join(p)
    };
    let (Ok(root), Ok(real)) = (Path::new(cwd).canonicalize(), p.canonicalize()) else {
        return String::new();
    };
    let Ok(rel) = real.strip_prefix(&root) else {
        return String::new();
    };
    // Opened beneath the directory, without waiting on a FIFO; a regular file of bounded size.
    let read = || -> std::io::Result<String> {
        let dir = crate::os::beneath::open_root(&root)?;
        let f = crate::os::beneath::open(&dir, rel, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
        let m = f.metadata()?;
        if !m.is_file() || m.len() > MAX_DIFFED {
            return Ok(String::new());
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_DIFFED), &mut text)?;
        Ok(text)
    };
    read().unwrap_or_default()
}

/// Larger files are shown as created whole rather than read for a diff.
const MAX_DIFFED: u64 = 4 * 1024 * 1024;

/// Applies Claude-style string replacements (`old_string` → `new_string`, once or all) to `text`.
pub fn replace(text: &str, old: &str, new: &str, all: bool) -> String {
    if old.is_empty() {
        return text.to_string();
    }
    if all {
        text.replace(old, new)
    } else {
        text.replacen(old, new, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_and_edit() {
        let d = unified("/w", "/w/src/hello.txt", "", "hi\n");
        assert!(d.starts_with("--- /dev/null\n+++ b/src/hello.txt\n"), "{d}");
        assert!(d.contains("\n+hi\n"), "{d}");
        let d = unified("/w", "/elsewhere/x.rs", "a\nb\nc\n", "a\nB\nc\n");
        assert!(
            d.starts_with("--- a/elsewhere/x.rs\n+++ b/elsewhere/x.rs\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert_eq!(unified("/w", "x", "same", "same"), "");
        // A sibling sharing the prefix is not inside.
        assert_eq!(header_name("/w", "/wx/a"), "wx/a");
    }

    #[test]
    fn reads_only_inside_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        std::fs::write(dir.path().join("f.txt"), "old\n").unwrap();
        assert_eq!(read_within(cwd, &format!("{cwd}/f.txt")), "old\n");
        assert_eq!(read_within(cwd, "f.txt"), "old\n");
        assert_eq!(read_within(cwd, "/etc/hostname"), "");
        assert_eq!(read_within(cwd, &format!("{cwd}/missing")), "");
        assert_eq!(replace("a a", "a", "b", false), "b a");
        assert_eq!(replace("a a", "a", "b", true), "b b");
    }
}
