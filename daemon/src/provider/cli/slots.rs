//! One process slot per session: the slot a turn locks, the guard that interrupts a cancelled
//! turn in the background, and stopping every process at shutdown.

use super::super::TurnRequest;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long stopping a process group can take (three signals, each with its grace).
const STOP_TIME: Duration = Duration::from_secs(3);

/// A session's running CLI, as its adapter keeps it.
pub trait CliProc: Send + 'static {
    /// It is alive and can run this turn; else it is stopped and a new one started.
    fn can_serve(&mut self, req: &TurnRequest) -> bool;
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
