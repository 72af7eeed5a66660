//! What was typed survives: each session's unsent draft and the messages sent (for Up/Down
//! recall) are kept in `drafts.json` in the data dir, read at start and written in the
//! background a moment after they change (and at exit), never from the input loop itself.

use crate::state::{Input, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Sent messages remembered for recall.
pub const HISTORY: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Saved {
    /// Unsent text by session id.
    pub drafts: BTreeMap<String, String>,
    /// Sent messages, oldest first.
    pub history: Vec<String>,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("drafts.json")
}

/// What was saved; nothing when the file is missing or unreadable (a draft is not worth
/// refusing to start over).
pub fn load(path: &Path) -> Saved {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Puts saved drafts and history into a fresh state.
pub fn restore(state: &mut State, saved: Saved) {
    state.drafts = saved
        .drafts
        .into_iter()
        .map(|(id, text)| (id, Input::with_text(&text)))
        .collect();
    state.history = saved.history;
}

/// What to save now: every draft, the composer's included.
pub fn snapshot(state: &State) -> Saved {
    let mut drafts: BTreeMap<String, String> = state
        .drafts
        .iter()
        .filter(|(_, i)| !i.text.trim().is_empty())
        .map(|(id, i)| (id.clone(), i.text.clone()))
        .collect();
    if let Some(owner) = &state.composer_owner
        && !state.composer.text.trim().is_empty()
    {
        drafts.insert(owner.clone(), state.composer.text.clone());
    }
    Saved {
        drafts,
        history: state.history.clone(),
    }
}

/// Writes snapshot number `seq` unless a newer one was written already: a background write
/// that finishes late must not put back an older draft.
pub fn write_in_order(path: &Path, saved: &Saved, seq: u64) -> std::io::Result<()> {
    static WRITTEN: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
    let mut last = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seq <= *last {
        return Ok(());
    }
    write(path, saved)?;
    *last = seq;
    Ok(())
}

/// Writes atomically (a temp file renamed over), private to the user.
pub fn write(path: &Path, saved: &Saved) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec(saved).map_err(std::io::Error::other)?;
    // Per process: two TUIs on one data dir must not write into each other's temp file.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert_eq!(load(&p), Saved::default(), "no file: nothing");
        let mut state = State {
            composer_owner: Some("s1".into()),
            composer: Input::with_text("half a thought"),
            history: vec!["sent".into()],
            ..State::default()
        };
        state.drafts.insert("s2".into(), Input::with_text("other"));
        state.drafts.insert("s3".into(), Input::with_text("  "));
        write(&p, &snapshot(&state)).unwrap();
        let saved = load(&p);
        assert_eq!(saved.drafts.len(), 2, "blank drafts are not kept");
        assert_eq!(saved.drafts["s1"], "half a thought");
        let mut fresh = State::default();
        restore(&mut fresh, saved);
        assert_eq!(fresh.drafts["s2"].text, "other");
        assert_eq!(fresh.history, ["sent"]);
        std::fs::write(&p, "{not json").unwrap();
        assert_eq!(load(&p), Saved::default(), "a broken file is ignored");
    }
}
