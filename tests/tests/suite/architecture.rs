//! The invariants of ARCHITECTURE.md that the source itself can show: which module may name
//! which crate, what `agentmux-shared` may depend on, where signals are sent, file sizes.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir` (relative to the workspace), with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name()
                    .is_some_and(|n| n != "target" && n != "snapshots")
                {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read source");
            let rel = p
                .strip_prefix(root())
                .expect("under root")
                .display()
                .to_string();
            (rel, text)
        })
        .collect()
}

/// Lines that are code, not comments.
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
}

/// Files under `dir` (outside `allowed`) whose code contains one of `needles`.
fn offenders(dir: &str, allowed: &[&str], needles: &[&str]) -> Vec<String> {
    sources(dir)
        .into_iter()
        .filter(|(f, _)| !allowed.iter().any(|a| f.starts_with(a)))
        .filter_map(|(f, text)| {
            let hit = code(&text).find(|l| needles.iter().any(|n| l.contains(n)))?;
            Some(format!("{f}: {}", hit.trim()))
        })
        .collect()
}

#[test]
fn the_service_layer_names_no_transport_or_encoding() {
    let bad = offenders(
        "daemon/src/service",
        &[],
        &[
            "tonic",
            "axum",
            "prost",
            "serde_json",
            "agentmux_proto",
            "pb::",
        ],
    );
    assert!(
        bad.is_empty(),
        "service/ must stay transport-free: {bad:#?}"
    );
}

#[test]
fn only_the_store_knows_sled_and_only_the_terminal_a_pty() {
    let bad = offenders("daemon/src", &["daemon/src/store"], &["sled::", "use sled"]);
    assert!(bad.is_empty(), "sled outside store: {bad:#?}");
    let bad = offenders("daemon/src", &["daemon/src/terminal"], &["portable_pty"]);
    assert!(bad.is_empty(), "a PTY outside terminal/: {bad:#?}");
    let bad = offenders(
        "daemon/src",
        &["daemon/src/journal"],
        &["crc32fast", ".wal\""],
    );
    assert!(
        bad.is_empty(),
        "the segment format outside journal: {bad:#?}"
    );
}

/// The packages `name` depends on, directly or not, as `Cargo.lock` records them (normal,
/// build and dev dependencies alike, which only makes the check stricter).
fn closure(lock: &str, name: &str) -> Vec<String> {
    let mut deps: std::collections::HashMap<String, Vec<String>> = Default::default();
    for block in lock.split("[[package]]").skip(1) {
        let Some(n) = block
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_string())
        else {
            continue;
        };
        let list = block
            .split("dependencies = [")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or_default();
        let ds = list
            .split('"')
            .skip(1)
            .step_by(2)
            .map(|d| d.split(' ').next().unwrap_or(d).to_string())
            .collect();
        deps.entry(n).or_default().extend::<Vec<String>>(ds);
    }
    let mut seen = vec![name.to_string()];
    let mut i = 0;
    while let Some(n) = seen.get(i).cloned() {
        for d in deps.get(&n).into_iter().flatten() {
            if !seen.contains(d) {
                seen.push(d.clone());
            }
        }
        i += 1;
    }
    seen
}

#[test]
fn shared_depends_on_no_transport_storage_or_ui_crate() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let all = closure(&lock, "agentmux-shared");
    assert!(
        all.contains(&"serde".to_string()),
        "the lock was read: {all:?}"
    );
    let bad: Vec<&String> = all
        .iter()
        .filter(|d| {
            [
                "tonic",
                "hyper",
                "h2",
                "axum",
                "sled",
                "ratatui",
                "prost",
                "agentmux-proto",
            ]
            .contains(&d.as_str())
        })
        .collect();
    assert!(bad.is_empty(), "agentmux-shared pulls in {bad:?}");
}

#[test]
fn one_module_sends_signals() {
    let bad = offenders(
        "daemon/src",
        &["daemon/src/os/"],
        &["libc::kill", "libc::killpg", "killpg("],
    );
    assert!(bad.is_empty(), "signals outside daemon/src/os: {bad:#?}");
}

#[test]
fn no_hand_written_file_is_over_800_lines() {
    let mut bad = Vec::new();
    for dir in ["proto/src", "shared/src", "daemon", "tui/src", "tests"] {
        for (f, text) in sources(dir) {
            let n = text.lines().count();
            if n > 800 {
                bad.push(format!("{f}: {n} lines"));
            }
        }
    }
    assert!(bad.is_empty(), "split these: {bad:#?}");
}

#[test]
fn the_import_loops_stay_open() {
    // (file, what it must not import): each pair once imported the other way too.
    let mut bad = Vec::new();
    for (file, needle) in [
        ("daemon/src/journal.rs", "crate::store"),
        ("daemon/src/api/openapi.rs", "rest::"),
        ("tui/src/ui/activity.rs", "transcript::"),
        ("tui/src/ui/overlay.rs", "approval::"),
    ] {
        let text = std::fs::read_to_string(root().join(file)).expect("source");
        if let Some(l) = code(&text).find(|l| l.contains(needle)) {
            bad.push(format!("{file}: {}", l.trim()));
        }
    }
    assert!(bad.is_empty(), "an import loop is back: {bad:#?}");
}
