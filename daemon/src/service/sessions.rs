//! Session and message operations. Each change to a session happens under its handle's lock
//! and is committed, with its events, before the caller hears back.

use super::{Service, runner};
use crate::log::NewEvent;
use crate::store::{Op, Store};
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{
    ApprovalPolicy, ApprovalReason, CancelResult, CreateSession, EventPayload, MAX_TITLE_CHARS,
    Message, MessagePage, MessageStatus, Page, Role, SendResult, Session, SessionStatus,
    default_name,
};
use agentmux_shared::{Error, ErrorKind, Result};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

fn page_size(n: u32) -> usize {
    match n {
        0 => DEFAULT_PAGE as usize,
        n => n.min(MAX_PAGE) as usize,
    }
}

/// Variables a client may pass to its session's agent: at most 200, each name and value
/// bounded, secret-looking names dropped (keys belong in the daemon's config).
fn client_env(
    env: std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>> {
    if env.len() > 200 {
        return Err(Error::invalid(format!(
            "env has {} variables; the limit is 200",
            env.len()
        )));
    }
    if let Some((k, _)) = env
        .iter()
        .find(|(k, v)| k.len() > 256 || v.len() > 32 * 1024)
    {
        return Err(Error::invalid(format!(
            "env variable {:?} is too long (names up to 256 bytes, values up to 32 KiB)",
            k.chars().take(40).collect::<String>()
        )));
    }
    Ok(env
        .into_iter()
        .filter(|(k, v)| {
            agentmux_shared::types::passable_env(k) && agentmux_shared::types::passable_value(k, v)
        })
        .collect())
}

fn validate_title(title: &str) -> Result<String> {
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::invalid(format!(
            "title is {} characters; the limit is {MAX_TITLE_CHARS}",
            title.chars().count()
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(Error::invalid("title must not contain control characters"));
    }
    Ok(title.to_string())
}

fn updated(session: &Session) -> NewEvent {
    NewEvent::new(
        &session.id,
        EventPayload::SessionUpdated {
            session: session.clone(),
        },
    )
}

impl Service {
    /// Writes a changed session record and tells subscribers (`session.updated`).
    pub(super) async fn save_session(&self, s: &Session) -> Result<()> {
        self.commit(vec![Store::put_session(s)], vec![updated(s)])
            .await
    }

    pub async fn create_session(&self, req: CreateSession) -> Result<Session> {
        let title = validate_title(&req.title)?;
        let approval_policy = ApprovalPolicy::parse(&req.approval_policy)?;
        let provider_id = match req.provider.trim() {
            "" => self.config().daemon.default_provider.clone(),
            p => p.to_string(),
        };
        let provider = self.providers().get(&provider_id)?;
        let cwd = match req.cwd.trim() {
            "" => self.default_dir()?,
            c => {
                let p = std::path::Path::new(c);
                if !p.is_absolute() {
                    return Err(Error::invalid(format!(
                        "cwd {c:?} must be an absolute path"
                    )));
                }
                if !p.is_dir() {
                    return Err(Error::new(
                        agentmux_shared::ErrorKind::NotFound,
                        format!("cwd {c:?} is not a directory"),
                    ));
                }
                self.allowed_dir(c)?
            }
        };
        let now = now_ms();
        let id = new_id("ses");
        // Everything that can refuse the request comes before the name is claimed.
        let env = client_env(req.env)?;
        let name = self.shared.names.claim(&id, &req.name, &title)?;
        let planned = match self.plan_workspace(&id, &name, &cwd, &req.workspace).await {
            Ok(p) => p,
            Err(e) => {
                self.shared.names.release(&name, &id);
                return Err(e);
            }
        };
        let (workspace, cwd) = match planned {
            Some((w, dir)) => (Some(w), dir),
            None => (None, cwd),
        };
        let mut session = Session {
            title: if title.is_empty() {
                format!("session {}", &id[id.len() - 6..])
            } else {
                title
            },
            name,
            id,
            provider: provider_id,
            model: match req.model.trim() {
                "" => provider.default_model(),
                m => m.to_string(),
            },
            cwd,
            approval_policy,
            approval_timeout_secs: req.approval_timeout_secs,
            env,
            workspace,
            created_at_ms: now,
            updated_at_ms: now,
            ..Session::default()
        };
        // Recorded before the worktree is made: a crash in between is reconciled at start.
        let done = self
            .commit(
                vec![Store::put_session(&session)],
                vec![NewEvent::new(
                    &session.id,
                    EventPayload::SessionCreated {
                        session: session.clone(),
                    },
                )],
            )
            .await;
        if let Err(e) = done {
            self.shared.names.release(&session.name, &session.id);
            return Err(e);
        }
        let start = session
            .workspace
            .as_ref()
            .map(|w| w.base_commit.clone())
            .unwrap_or_default();
        self.make_session_workspace(&mut session, &start, None)
            .await?;
        Ok(session)
    }

    /// Makes a session's planned worktree once its record is committed (from `start`, with the
    /// uncommitted changes of `copy_from` when given); on failure the session and its messages
    /// are taken back and its name released, leaving nothing behind.
    async fn make_session_workspace(
        &self,
        session: &mut Session,
        start: &str,
        copy_from: Option<&std::path::Path>,
    ) -> Result<()> {
        let Some(w) = session.workspace.clone() else {
            return Ok(());
        };
        let made = async {
            self.make_workspace(&w, start).await?;
            if let Some(from) = copy_from
                && let Err(e) = self
                    .copy_uncommitted(from, std::path::Path::new(&w.path))
                    .await
            {
                // Its branch is brand new: it goes too.
                self.remove_workspace(&w, true).await;
                return Err(e);
            }
            Ok(())
        }
        .await;
        if let Err(e) = made {
            let mut ops: Vec<Op> = self
                .store()
                .message_keys(&session.id)?
                .into_iter()
                .map(Op::Del)
                .collect();
            ops.push(Op::Del(Store::session_key(&session.id)));
            let _ = self
                .commit(
                    ops,
                    vec![NewEvent::new(
                        &session.id,
                        EventPayload::SessionDeleted {
                            id: session.id.clone(),
                        },
                    )],
                )
                .await;
            self.shared.names.release(&session.name, &session.id);
            return Err(e);
        }
        // Through the session's own lock, on the record as it is now (renamed meanwhile, say).
        let h = self.handle(&session.id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        let mut s = st.session.clone();
        if let Some(w) = s.workspace.as_mut() {
            w.state = super::workspaces::READY.into();
        }
        s.updated_at_ms = now_ms();
        self.save_session(&s).await?;
        st.session = s.clone();
        drop(st);
        self.watch_workspace(&s);
        *session = s;
        Ok(())
    }

    pub fn list_sessions(&self, size: u32, token: &str) -> Result<Page<Session>> {
        let n = page_size(size);
        let last_seq = self.durable_seq();
        let mut items = self.store().sessions("", token, n + 1)?;
        let next_page_token = if items.len() > n {
            items.truncate(n);
            items.last().map(|s| s.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Page {
            items,
            next_page_token,
            last_seq,
        })
    }

    pub fn get_session(&self, id: &str) -> Result<Session> {
        let id = self.resolve(id)?;
        self.store()
            .session(&id)?
            .ok_or_else(|| Error::not_found("session", &id))
    }

    pub async fn rename_session(&self, id: &str, title: &str) -> Result<Session> {
        let title = validate_title(title)?;
        if title.is_empty() {
            return Err(Error::invalid("title must not be empty"));
        }
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        let mut s = st.session.clone();
        // A name that was only the end of the id follows the first title given.
        let old_name = s.name.clone();
        if old_name == default_name(&s.id) {
            s.name = self.shared.names.claim(&s.id, "", &title)?;
        }
        s.title = title;
        s.updated_at_ms = now_ms();
        if let Err(e) = self
            .commit(vec![Store::put_session(&s)], vec![updated(&s)])
            .await
        {
            if s.name != old_name {
                self.shared.names.release(&s.name, &s.id);
            }
            return Err(e);
        }
        if s.name != old_name {
            self.shared.names.release(&old_name, &s.id);
        }
        st.session = s.clone();
        Ok(s)
    }

    /// Deletes a session and its history. Its worktree goes too, unless it holds work found
    /// nowhere else and `force` is off; its branch stays unless `delete_branch`.
    pub async fn delete_session(
        &self,
        id: &str,
        force: bool,
        delete_branch: bool,
    ) -> Result<String> {
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        if st
            .session
            .workspace
            .as_ref()
            .is_some_and(|w| w.state == super::workspaces::CREATING)
        {
            return Err(Error::precondition(
                "its worktree is being made: delete it once that is done",
            ));
        }
        if !force {
            self.check_workspace_loss(&st.session).await?;
        }
        let workspace = st.session.workspace.clone();
        let (mut ops, mut events) =
            super::approvals::drain_pending(&mut st, ApprovalReason::SessionDeleted);
        ops.push(Op::Del(Store::session_key(&id)));
        ops.extend(self.store().message_keys(&id)?.into_iter().map(Op::Del));
        // Its approvals go with it (after `drain_pending` resolved them: the deletes win).
        ops.extend(self.store().approval_deletes(&id)?);
        events.push(NewEvent::new(
            &id,
            EventPayload::SessionDeleted { id: id.clone() },
        ));
        self.commit(ops, events).await?;
        let provider = st.session.provider.clone();
        st.deleted = true;
        if let Some(t) = st.turn.take() {
            t.cancel();
        }
        for (_, w) in st.waiters.drain() {
            let _ = w.send(Err(Error::not_found("session", &id)));
        }
        let name = st.session.name.clone();
        drop(st);
        self.forget(&id);
        self.shared.names.release(&name, &id);
        self.providers().forget_session(&provider, &id).await;
        if let Some(w) = workspace {
            self.unwatch_workspace(&id);
            self.remove_workspace(&w, delete_branch).await;
        }
        Ok(id)
    }

    pub async fn fork_session(&self, id: &str, at_index: u64, title: &str) -> Result<Session> {
        let title = validate_title(title)?;
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let st = h.state.lock().await;
        st.live()?;
        let src = st.session.clone();
        let upto = if at_index == 0 { u64::MAX } else { at_index };
        let now = now_ms();
        let new_id = new_id("ses");
        let mut ops = Vec::new();
        let mut count = 0u64;
        for m in self.store().messages(&id, 0, usize::MAX)? {
            if m.index >= upto {
                break;
            }
            // Input not yet answered and answers still being written belong to the source.
            if matches!(m.status, MessageStatus::Queued | MessageStatus::Streaming) {
                continue;
            }
            let copy = Message {
                id: agentmux_shared::ids::new_id("msg"),
                session_id: new_id.clone(),
                index: count,
                ..m
            };
            count += 1;
            ops.push(Store::put_message(&copy));
        }
        drop(st);
        let title = if title.is_empty() {
            let mut t: String = src.title.chars().take(MAX_TITLE_CHARS - 7).collect();
            t.push_str(" (fork)");
            t
        } else {
            title
        };
        let name = self.shared.names.claim(&new_id, "", &title)?;
        let (workspace, cwd, start, copy_from) = match self.plan_fork(&src, &new_id, &name).await {
            Ok(Some((w, cwd, start, from))) => (Some(w), cwd, start, from),
            Ok(None) => (None, src.cwd.clone(), String::new(), None),
            Err(e) => {
                self.shared.names.release(&name, &new_id);
                return Err(e);
            }
        };
        let mut session = Session {
            id: new_id,
            name,
            title,
            provider: src.provider,
            model: src.model,
            cwd,
            workspace,
            approval_policy: src.approval_policy,
            approval_timeout_secs: src.approval_timeout_secs,
            env: src.env,
            message_count: count,
            created_at_ms: now,
            updated_at_ms: now,
            forked_from: id,
            ..Session::default()
        };
        ops.push(Store::put_session(&session));
        let done = self
            .commit(
                ops,
                vec![NewEvent::new(
                    &session.id,
                    EventPayload::SessionCreated {
                        session: session.clone(),
                    },
                )],
            )
            .await;
        if let Err(e) = done {
            self.shared.names.release(&session.name, &session.id);
            return Err(e);
        }
        self.make_session_workspace(&mut session, &start, copy_from.as_deref())
            .await?;
        Ok(session)
    }

    pub async fn reset_session(&self, id: &str) -> Result<Session> {
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        if st.session.busy || !st.queue.is_empty() {
            return Err(Error::precondition(
                "session is busy: cancel it first (agentmux session cancel --hard)",
            ));
        }
        let mut ops: Vec<Op> = self
            .store()
            .message_keys(&id)?
            .into_iter()
            .map(Op::Del)
            .collect();
        let mut s = st.session.clone();
        s.message_count = 0;
        s.status = SessionStatus::Idle;
        s.last_error.clear();
        // The provider's own conversation goes with the history.
        s.provider_session_id.clear();
        s.updated_at_ms = now_ms();
        ops.push(Store::put_session(&s));
        self.commit(
            ops,
            vec![NewEvent::new(
                &id,
                EventPayload::SessionReset { session: s.clone() },
            )],
        )
        .await?;
        st.session = s.clone();
        drop(st);
        self.providers().forget_session(&s.provider, &s.id).await;
        Ok(s)
    }

    /// Starts the queued input of a session that is not running (after a restart it waits for
    /// this, or for the next message). Nothing queued is a precondition error, not a no-op, so a
    /// script learns that there was nothing to resume.
    pub async fn resume_session(&self, id: &str) -> Result<Session> {
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        if st.runner_active {
            return Err(Error::precondition("session is already running"));
        }
        if st.queue.is_empty() {
            return Err(Error::precondition(
                "nothing queued to resume: send a message to continue",
            ));
        }
        st.runner_active = true;
        runner::spawn(self.clone(), h.clone());
        Ok(st.session.clone())
    }

    pub async fn cancel_session(&self, id: &str, clear_queue: bool) -> Result<CancelResult> {
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        let cancelled_turn = match &st.turn {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        };
        if !st.approvals.is_empty() {
            let (ops, events) =
                super::approvals::drain_pending(&mut st, ApprovalReason::TurnCancelled);
            self.commit(ops, events).await?;
        }
        let mut dropped = 0u32;
        if clear_queue && !st.queue.is_empty() {
            let now = now_ms();
            let mut ops = Vec::new();
            let mut events = Vec::new();
            let queue: Vec<Message> = st.queue.iter().cloned().collect();
            for mut m in queue {
                m.status = MessageStatus::Cancelled;
                m.completed_at_ms = now;
                ops.push(Store::put_message(&m));
                events.push(NewEvent::new(
                    &id,
                    EventPayload::MessageCompleted { message: m },
                ));
                dropped += 1;
            }
            let mut s = st.session.clone();
            s.queued = 0;
            s.updated_at_ms = now;
            ops.push(Store::put_session(&s));
            events.push(updated(&s));
            self.commit(ops, events).await?;
            let dropped_ids: Vec<String> = st.queue.drain(..).map(|m| m.id).collect();
            for mid in dropped_ids {
                if let Some(w) = st.waiters.remove(&mid) {
                    let _ = w.send(Err(Error::precondition("message cancelled before it ran")));
                }
            }
            st.session = s;
        }
        Ok(CancelResult {
            id,
            cancelled_turn,
            dropped_queued: dropped,
        })
    }

    pub async fn send_message(&self, id: &str, content: &str, wait: bool) -> Result<SendResult> {
        if content.trim().is_empty() {
            return Err(Error::invalid("message content is empty"));
        }
        if content.len() > self.config().daemon.max_body_bytes {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                "message content is over the size limit",
            ));
        }
        let id = self.resolve(id)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        super::workspaces::usable(&st.session)?;
        let now = now_ms();
        let message = Message {
            id: new_id("msg"),
            session_id: id.clone(),
            index: st.session.message_count,
            role: Role::User,
            content: content.to_string(),
            status: MessageStatus::Queued,
            created_at_ms: now,
            ..Message::default()
        };
        let queued = st.runner_active;
        let mut s = st.session.clone();
        s.message_count += 1;
        s.queued = st.queue.len() as u32 + u32::from(queued);
        s.updated_at_ms = now;
        self.commit(
            vec![Store::put_message(&message), Store::put_session(&s)],
            vec![
                NewEvent::new(
                    &id,
                    EventPayload::MessageCreated {
                        message: message.clone(),
                    },
                ),
                updated(&s),
            ],
        )
        .await?;
        st.session = s;
        st.queue.push_back(message.clone());
        let reply = if wait {
            let (tx, rx) = tokio::sync::oneshot::channel();
            st.waiters.insert(message.id.clone(), tx);
            Some(rx)
        } else {
            None
        };
        if !st.runner_active {
            st.runner_active = true;
            runner::spawn(self.clone(), h.clone());
        }
        drop(st);
        let reply = match reply {
            Some(rx) => Some(
                rx.await
                    .map_err(|_| Error::unavailable("the daemon is shutting down"))??,
            ),
            None => None,
        };
        Ok(SendResult {
            message,
            queued,
            reply,
        })
    }

    pub fn list_messages(&self, id: &str, size: u32, after_index: u64) -> Result<MessagePage> {
        let id = self.resolve(id)?;
        let n = page_size(size);
        let last_seq = self.durable_seq();
        let mut messages = self.store().messages(&id, after_index, n + 1)?;
        let more = messages.len() > n;
        messages.truncate(n);
        let next_index = match (more, messages.last()) {
            (true, Some(m)) => m.index + 1,
            _ => 0,
        };
        Ok(MessagePage {
            messages,
            next_index,
            more,
            last_seq,
        })
    }
}

impl super::SessionState {
    pub(super) fn live(&self) -> Result<()> {
        if self.deleted {
            return Err(Error::not_found("session", &self.session.id));
        }
        Ok(())
    }
}
