//! The sessions part's live state: one handle per session in use, its single writer, loaded
//! from the store on first use and kept while the daemon runs.

use super::{Service, approvals};
use agentmux_shared::types::{Message, Session};
use agentmux_shared::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub(super) struct Live {
    // std Mutex: held only to look up or insert a handle, never across an await.
    map: Mutex<HashMap<String, Arc<SessionHandle>>>,
}

/// The single writer of one session: every change to it happens under `state`.
pub(crate) struct SessionHandle {
    pub(super) state: tokio::sync::Mutex<SessionState>,
}

pub(crate) struct SessionState {
    pub(super) session: Session,
    /// Queued user messages, oldest first; mirrors the `queued` messages in the store.
    pub(super) queue: VecDeque<Message>,
    pub(super) runner_active: bool,
    pub(super) turn: Option<CancellationToken>,
    pub(super) waiters: HashMap<String, oneshot::Sender<Result<Message>>>,
    pub(super) deleted: bool,
    /// Approvals of the running turn waiting for a decision, by id.
    pub(super) approvals: HashMap<String, approvals::PendingApproval>,
}

impl Service {
    /// The handle of a stored session, loading it on first use.
    pub(super) fn handle(&self, id: &str) -> Result<Arc<SessionHandle>> {
        let mut map = self
            .shared
            .sessions
            .map
            .lock()
            .map_err(|_| Error::internal("session map poisoned"))?;
        if let Some(h) = map.get(id) {
            return Ok(h.clone());
        }
        let session = self
            .store()
            .session(id)?
            .ok_or_else(|| Error::not_found("session", id))?;
        let queue = self.store().queued_messages(id)?.into();
        let h = Arc::new(SessionHandle {
            state: tokio::sync::Mutex::new(SessionState {
                session,
                queue,
                runner_active: false,
                turn: None,
                waiters: HashMap::new(),
                deleted: false,
                approvals: HashMap::new(),
            }),
        });
        map.insert(id.to_string(), h.clone());
        Ok(h)
    }

    pub(super) fn forget(&self, id: &str) {
        if let Ok(mut map) = self.shared.sessions.map.lock() {
            map.remove(id);
        }
    }
}
