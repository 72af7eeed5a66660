//! The data dir: private to its user, tightened when an older daemon left it open, and a clear
//! error (not a crash) when it cannot be written.

use super::{create_session, start};
use agentmux_tests::daemon::daemon_bin;
use agentmux_tests::tmpfs::Tmpfs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Everything under `dir` but installed CLIs.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "clis") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            walk(&p, out);
        }
        if meta.is_dir() || meta.is_file() {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn the_data_dir_is_private_and_an_older_one_is_tightened() {
    let (_fake, mut d) = start(|o| o).await;
    create_session(&d.rest(), "a transcript nobody else may read").await;
    assert_eq!(mode(&d.data_dir), 0o700);
    let mut written = vec![
        d.data_dir.join("agentmuxd.log"),
        d.data_dir.join("agentmuxd.lock"),
    ];
    for e in std::fs::read_dir(d.data_dir.join("journal"))
        .unwrap()
        .flatten()
    {
        written.push(e.path());
    }
    assert!(written.len() > 2, "{written:?}");
    for f in &written {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    // An older daemon's data dir: made with the default umask.
    d.sigterm().await;
    let mut loose = Vec::new();
    walk(&d.data_dir, &mut loose);
    loose.push(d.data_dir.clone());
    for p in &loose {
        let m = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    d.restart().await;
    for p in &loose {
        assert_eq!(
            mode(p) & 0o077,
            0,
            "{} is still open to others",
            p.display()
        );
    }
}

#[tokio::test]
async fn a_read_only_data_dir_is_a_clear_error() {
    let Some(fs) = Tmpfs::mount(4 << 20) else {
        return;
    };
    std::fs::create_dir(fs.join("data")).unwrap();
    fs.read_only(true);
    let out = tokio::process::Command::new(daemon_bin())
        .arg("--data-dir")
        .arg(fs.join("data"))
        .arg("--socket")
        .arg(std::env::temp_dir().join(format!("amx-ro-{}.sock", std::process::id())))
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
