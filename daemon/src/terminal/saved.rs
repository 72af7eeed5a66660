//! A terminal's last screen on disk (`terminals/<id>.screen`, a protobuf `ScreenSnapshot`),
//! so a restarted daemon can show what a program left. Blocking file I/O: callers run it off
//! the async threads.

use agentmux_proto::v1 as pb;
use agentmux_shared::types::ScreenSnapshot;
use agentmux_shared::{Error, Result};
use prost::Message as _;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Writes the screen atomically (a crash leaves the old file or the new one).
pub fn save(path: &Path, snap: ScreenSnapshot) -> Result<()> {
    let bytes = pb::ScreenSnapshot::from(snap).encode_to_vec();
    let io = |e: std::io::Error| Error::internal(format!("saving {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    // A screen can show secrets: private like the rest of the data dir.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The saved screen, or none when nothing was saved.
pub fn load(path: &Path) -> Result<Option<ScreenSnapshot>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::internal(format!("reading {}: {e}", path.display()))),
    };
    let s = pb::ScreenSnapshot::decode(bytes.as_slice())
        .map_err(|e| Error::internal(format!("{} is unreadable: {e}", path.display())))?;
    Ok(Some(s.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_screen_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminals").join("t.screen");
        assert!(load(&path).unwrap().is_none());
        let snap = ScreenSnapshot {
            rows: 24,
            cols: 80,
            screen: b"\x1b[Hhi".to_vec(),
            scrollback: vec!["old".into()],
            terminal: None,
        };
        save(&path, snap.clone()).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!((back.rows, back.cols), (24, 80));
        assert_eq!(back.screen, snap.screen);
        assert_eq!(back.scrollback, snap.scrollback);
        std::fs::write(&path, b"\xff\xff\xff").unwrap();
        assert!(load(&path).is_err());
    }
}
