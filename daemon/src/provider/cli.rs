//! What the coding-agent CLI adapters share: one process slot per session, finding the
//! executable, their health, and clipping CLI output for messages.

use agentmux_shared::types::ProviderHealth;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long stopping a process group can take (three signals, each with its grace).
const STOP_TIME: Duration = Duration::from_secs(3);

/// A session's running CLI, as its adapter keeps it.
pub trait CliProc: Send + 'static {
    /// Ends the running turn through the CLI's protocol; true when it ended in time and the
    /// process can serve the next turn.
    fn interrupt(&mut self) -> impl Future<Output = bool> + Send;
    /// Stops it for good (SIGINT → SIGTERM → SIGKILL on its process group).
    fn stop(self) -> impl Future<Output = ()> + Send;
}

/// Holds a session's process for one turn. Dropped before the turn finished (a cancel), it
/// interrupts the turn in the background and keeps the process if that works, else stops it.
pub struct TurnGuard<P: CliProc> {
    pub slot: Option<tokio::sync::OwnedMutexGuard<Option<P>>>,
    pub done: bool,
}

impl<P: CliProc> TurnGuard<P> {
    /// Waits for the session's process (a cancelled turn may still be winding down).
    pub async fn lock(slot: &Slot<P>) -> TurnGuard<P> {
        TurnGuard {
            slot: Some(slot.clone().lock_owned().await),
            done: false,
        }
    }
}

impl<P: CliProc> Drop for TurnGuard<P> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return; // the process is killed when it drops (kill_on_drop)
        };
        rt.spawn(async move {
            let Some(p) = slot.as_mut() else { return };
            if p.interrupt().await {
                return;
            }
            if let Some(p) = slot.take() {
                p.stop().await;
            }
        });
    }
}

/// A session's process, locked by the turn that uses it.
pub type Slot<P> = Arc<tokio::sync::Mutex<Option<P>>>;

pub struct Slots<P> {
    // std Mutex: held only to look a slot up, never across an await.
    map: std::sync::Mutex<HashMap<String, Slot<P>>>,
}

impl<P: CliProc> Default for Slots<P> {
    fn default() -> Self {
        Slots {
            map: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl<P: CliProc> Slots<P> {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot<P>>> {
        // A panic elsewhere must not take every session's process with it.
        match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    pub fn get(&self, session_id: &str) -> Slot<P> {
        self.map()
            .entry(session_id.to_string())
            .or_default()
            .clone()
    }

    /// The session is gone: its process stops once a cancelled turn that may still hold the
    /// slot (while it interrupts) lets go.
    pub fn forget(&self, session_id: &str) {
        let Some(slot) = self.map().remove(session_id) else {
            return;
        };
        tokio::spawn(async move {
            if let Some(p) = slot.lock_owned().await.take() {
                p.stop().await;
            }
        });
    }

    /// The daemon stops: every process at once. A turn being cancelled holds its slot while it
    /// interrupts (`grace`) and, failing that, stops the process itself; wait for that too.
    pub async fn stop_all(&self, grace: Duration) {
        let slots: Vec<Slot<P>> = self.map().drain().map(|(_, s)| s).collect();
        let wait = grace + STOP_TIME;
        futures_util::future::join_all(slots.into_iter().map(|slot| async move {
            if let Ok(mut g) = tokio::time::timeout(wait, slot.lock_owned()).await
                && let Some(p) = g.take()
            {
                p.stop().await;
            }
        }))
        .await;
    }
}

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
