//! One turn on an ACP agent's process: opening (or loading, or replacing) its ACP session,
//! the prompt and everything the agent sends until its result, approvals, and cancel.

use super::super::{
    ApprovalAnswer, ApprovalRequest, ChatMessage, ProviderEvent, TurnEnd, TurnRequest,
};
use super::conn::{self, Conn, Incoming};
use super::map::{self, Mapper, Permission};
use crate::provider::diff;
use agent_client_protocol::v1::{self, schema};
use agent_client_protocol::{UntypedMessage, is_incoming_transport_closed};
use agentmux_shared::types::{Decision, Role};
use agentmux_shared::{Error, Result};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a cancelled prompt may take to answer `cancelled`.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How often a turn checks that the agent is alive and not idle too long.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// What a turn's steps share.
pub(super) struct TurnCtx<'a> {
    pub id: &'a str,
    pub idle: Duration,
    /// For set-up requests (`session/new`, `session/load`).
    pub setup: Duration,
    pub model: String,
    pub out: &'a mpsc::Sender<ProviderEvent>,
}

impl TurnCtx<'_> {
    async fn send(&self, ev: ProviderEvent) {
        let _ = self.out.send(ev).await;
    }
}

pub(super) struct Proc {
    pub conn: Conn,
    pub mapper: Mapper,
    pub load_session: bool,
    /// The ACP session this process has open ("" until `session/new` or `session/load`).
    pub session: String,
    /// The request waiting for a person's (or the policy's) answer; answered `cancelled` or
    /// refused by a cancel.
    pub pending: Option<Pending>,
    /// A `session/prompt` was sent and has not answered yet.
    pub prompting: bool,
}

/// A request the turn raised an approval for.
pub(super) enum Pending {
    Permission(Permission, v1::Responder<Value>),
    /// An `fs/write_text_file` no granted permission covered: its params.
    Write(Value, v1::Responder<Value>),
}

impl Pending {
    /// Answers it as not granted.
    fn drop_unanswered(self, why: &str) {
        match self {
            Pending::Permission(_, r) => {
                let _ = r.respond(map::cancelled_outcome());
            }
            Pending::Write(_, r) => {
                conn::refuse(r, agent_client_protocol::Error::invalid_request(), why);
            }
        }
    }
}

/// Answers an agent request that arrived when no approval can be raised for it.
fn unasked(item: Incoming) {
    match item {
        Incoming::Permission(_, r) => {
            let _ = r.respond(map::cancelled_outcome());
        }
        Incoming::Write(_, r) => conn::refuse(
            r,
            agent_client_protocol::Error::invalid_request(),
            "no turn is running: the write was not made",
        ),
        _ => {}
    }
}

impl Proc {
    /// A request with the idle deadline. `Err` means the process is broken.
    async fn request<R>(
        &mut self,
        ctx: &TurnCtx<'_>,
        what: &str,
        r: R,
    ) -> Result<Result<R::Response>>
    where
        R: agent_client_protocol::JsonRpcRequest,
    {
        let fut = self.conn.cx.send_request(r).block_task();
        match tokio::time::timeout(ctx.setup, fut).await {
            Err(_) => Err(Error::unavailable(format!(
                "{} did not answer {what} within {} s; stopped it",
                ctx.id,
                ctx.setup.as_secs()
            ))),
            Ok(Err(e)) if is_incoming_transport_closed(&e) => Err(self
                .conn
                .died(&format!("{} exited during {what}", ctx.id))
                .await),
            Ok(Err(e)) => Ok(Err(Error::unavailable(rpc_error(&e)))),
            Ok(Ok(v)) => Ok(Ok(v)),
        }
    }

    /// Makes sure the process has the session's conversation open; returns the prompt to send
    /// (with the transcript in front when the old conversation could not be loaded).
    pub async fn open_session(
        &mut self,
        ctx: &TurnCtx<'_>,
        req: &TurnRequest,
        prompt: &str,
    ) -> Result<String> {
        let want = req.provider_session_id.as_str();
        if !self.session.is_empty() && self.session == want {
            return Ok(prompt.to_string());
        }
        let cwd = session_cwd(&req.cwd);
        let mut why = String::new();
        if !want.is_empty() {
            if self.load_session {
                let load = schema::LoadSessionRequest::new(want.to_string(), cwd.clone());
                match self.request(ctx, "session/load", load).await? {
                    Ok(_) => {
                        // What it sent before the answer replays the old conversation.
                        let replayed = self.drain_load_replay(ctx).await?;
                        self.session = want.to_string();
                        tracing::info!(session = %req.session_id, acp_session = want, replayed, "loaded the agent's conversation");
                        if replayed > 0 || replay_prompt(&req.history, prompt) == prompt {
                            return Ok(prompt.to_string());
                        }
                        // Loaded, but empty (seen with Gemini 0.61): it lost the conversation.
                        ctx.send(ProviderEvent::Warning(format!(
                            "{} could not reload its conversation {want} (it came back empty); \
                             agentmux replayed the transcript to it",
                            ctx.id
                        )))
                        .await;
                        return Ok(replay_prompt(&req.history, prompt));
                    }
                    Err(e) => why = e.message,
                }
            } else {
                why = "it cannot load sessions".into();
            }
        }
        let new = schema::NewSessionRequest::new(cwd);
        let created = self.request(ctx, "session/new", new).await??;
        self.session = created.session_id.to_string();
        ctx.send(ProviderEvent::SessionId(self.session.clone()))
            .await;
        if want.is_empty() {
            return Ok(prompt.to_string());
        }
        self.drain_replay(ctx, "while loading its session").await?;
        tracing::warn!(session = %req.session_id, old = want, new = %self.session, why, "the agent could not reload its conversation; replaying the transcript");
        ctx.send(ProviderEvent::Warning(format!(
            "{} could not reload its conversation {want} ({why}); agentmux started a new one \
             and replayed the transcript to it",
            ctx.id
        )))
        .await;
        Ok(replay_prompt(&req.history, prompt))
    }

    /// Whether an update names the session this process has open (updates without a session
    /// id are taken as the current one's).
    fn is_current(&self, v: &serde_json::Value) -> bool {
        v["sessionId"]
            .as_str()
            .is_none_or(|id| self.session.is_empty() || id == self.session)
    }

    /// After `session/load`: the history replay the agent sent before its answer can reach
    /// the inbox after the answer (the connection delivers them on different paths), so
    /// drain until it has been quiet for a moment (a second at most) before deciding whether
    /// the load came back empty; stragglers would otherwise land in the next turn.
    async fn drain_load_replay(&mut self, ctx: &TurnCtx<'_>) -> Result<usize> {
        let quiet = std::time::Duration::from_millis(100);
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        let mut replayed = self.drain_replay(ctx, "while loading its session").await?;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(quiet).await;
            let more = self.drain_replay(ctx, "while loading its session").await?;
            if more == 0 && self.conn.inbox.is_empty() {
                break;
            }
            replayed += more;
        }
        Ok(replayed)
    }

    /// Drops what arrived so far (a load's history replay), keeping warnings and answering
    /// stray permission requests `cancelled`; counts the replayed message chunks.
    async fn drain_replay(&mut self, ctx: &TurnCtx<'_>, during: &str) -> Result<usize> {
        let mut replayed = 0;
        while let Ok(item) = self.conn.inbox.try_recv() {
            match item {
                Incoming::Update(v) => {
                    let kind = v["update"]["sessionUpdate"].as_str().unwrap_or_default();
                    if matches!(kind, "user_message_chunk" | "agent_message_chunk") {
                        replayed += 1;
                    }
                }
                Incoming::PromptDone(_) => {}
                item @ (Incoming::Permission(..) | Incoming::Write(..)) => unasked(item),
                Incoming::Warning(w) => ctx.send(ProviderEvent::Warning(w)).await,
                Incoming::Exited => {
                    return Err(self.conn.died(&format!("{} exited {during}", ctx.id)).await);
                }
            }
        }
        Ok(replayed)
    }

    /// Sends the prompt and maps what comes back until its result. `Err`: the process is
    /// broken and must go; `Ok(Err)`: the turn failed but the process is fine.
    pub async fn prompt(&mut self, ctx: &TurnCtx<'_>, text: &str) -> Result<Result<TurnEnd>> {
        let r = self.run_prompt(ctx, text).await;
        // What was granted was granted for this turn only.
        self.clear_grants();
        r
    }

    fn clear_grants(&self) {
        if let Ok(mut g) = self.conn.grants.lock() {
            g.clear();
        }
    }

    async fn run_prompt(&mut self, ctx: &TurnCtx<'_>, text: &str) -> Result<Result<TurnEnd>> {
        // What arrived between turns (late updates of a cancelled prompt, a stray permission
        // request) is not this turn's.
        self.drain_replay(ctx, "between turns").await?;
        self.mapper.start_turn();
        self.clear_grants();
        let req = schema::PromptRequest::new(self.session.clone(), vec![text.to_string().into()]);
        let msg = UntypedMessage::new("session/prompt", req)
            .map_err(|e| Error::internal(format!("cannot encode the prompt: {e}")))?;
        let tx = self.conn.inbox_tx.clone();
        self.conn
            .cx
            .prepare_request(msg)
            .on_receiving_result(move |r| async move {
                let _ = tx.send(Incoming::PromptDone(r));
                Ok(())
            })
            .map_err(|e| Error::unavailable(format!("cannot reach {}: {e}", ctx.id)))?;
        self.prompting = true;
        let mut waiting: VecDeque<Incoming> = VecDeque::new();
        let mut decision: Option<oneshot::Receiver<ApprovalAnswer>> = None;
        let mut quiet_since = tokio::time::Instant::now();
        loop {
            let step = tokio::select! {
                a = async { decision.as_mut()?.await.ok() }, if decision.is_some() => Step::Decided(a),
                item = self.conn.inbox.recv() => Step::Item(item),
                // The process leader can die while a child of it keeps stdout open.
                _ = tokio::time::sleep(WATCH_EVERY) => Step::Tick,
            };
            let item = match step {
                Step::Tick => {
                    if self.conn.exited() {
                        return Err(self
                            .conn
                            .died(&format!("{} exited during the turn", ctx.id))
                            .await);
                    }
                    // A person deciding is not the agent going quiet.
                    if decision.is_some() {
                        quiet_since = tokio::time::Instant::now();
                    } else if quiet_since.elapsed() >= ctx.idle {
                        return Err(Error::unavailable(format!(
                            "{} sent nothing for {} s during a turn; stopped it",
                            ctx.id,
                            ctx.idle.as_secs()
                        )));
                    }
                    continue;
                }
                other => other,
            };
            if let Step::Item(Some(_)) = &item {
                quiet_since = tokio::time::Instant::now();
            }
            let item = match item {
                Step::Tick => continue,
                Step::Decided(answer) => {
                    decision = None;
                    self.answer(answer);
                    if let Some(next) = waiting.pop_front() {
                        decision = self.ask(ctx, next).await;
                    }
                    continue;
                }
                Step::Item(None) | Step::Item(Some(Incoming::Exited)) => {
                    return Err(self
                        .conn
                        .died(&format!("{} exited during the turn", ctx.id))
                        .await);
                }
                Step::Item(Some(item)) => item,
            };
            match item {
                // A straggler of an earlier session (a load that failed, whose history
                // replay arrives late) is not this turn's.
                Incoming::Update(v) if !self.is_current(&v) => {}
                Incoming::Update(v) => {
                    for ev in self.mapper.update(&v) {
                        ctx.send(ev).await;
                    }
                }
                Incoming::Warning(w) => ctx.send(ProviderEvent::Warning(w)).await,
                item @ (Incoming::Permission(..) | Incoming::Write(..)) => {
                    if decision.is_some() {
                        waiting.push_back(item);
                    } else {
                        decision = self.ask(ctx, item).await;
                    }
                }
                Incoming::PromptDone(r) => {
                    self.prompting = false;
                    waiting.drain(..).for_each(unasked);
                    if let Some(p) = self.pending.take() {
                        p.drop_unanswered("the turn ended first: the write was not made");
                    }
                    return match r {
                        Ok(v) => {
                            let (events, end) = self.mapper.finish(&v, &ctx.model);
                            for ev in events {
                                ctx.send(ev).await;
                            }
                            Ok(Ok(end))
                        }
                        Err(e) if is_incoming_transport_closed(&e) => Err(self
                            .conn
                            .died(&format!("{} exited during the turn", ctx.id))
                            .await),
                        Err(e) => Ok(Err(Error::unavailable(format!(
                            "{}: {}",
                            ctx.id,
                            rpc_error(&e)
                        )))),
                    };
                }
                Incoming::Exited => {} // handled above
            }
        }
    }

    /// Raises an approval for a permission request or an unasked write; returns where its
    /// answer comes.
    async fn ask(
        &mut self,
        ctx: &TurnCtx<'_>,
        item: Incoming,
    ) -> Option<oneshot::Receiver<ApprovalAnswer>> {
        let (tx, rx) = oneshot::channel();
        let (req, pending) = match item {
            Incoming::Permission(params, responder) => {
                let (perm, events) = self.mapper.permission(&params);
                for ev in events {
                    ctx.send(ev).await;
                }
                let req = ApprovalRequest {
                    tool_call_id: perm.tool_call_id.clone(),
                    tool: perm.tool.clone(),
                    input_json: perm.input_json.clone(),
                    summary: perm.summary.clone(),
                    diff: perm.diff.clone(),
                    edit: perm.edit,
                    options: perm.options.iter().map(|(k, _)| k.clone()).collect(),
                    respond: tx,
                };
                (req, Pending::Permission(perm, responder))
            }
            Incoming::Write(params, responder) => {
                let path = params["path"].as_str().unwrap_or_default().to_string();
                let cwd = self.mapper.cwd().to_string();
                let new = params["content"].as_str().unwrap_or_default().to_string();
                // Confined, capped, never waiting on a FIFO.
                let (p, c) = (path.clone(), cwd.clone());
                let old = tokio::task::spawn_blocking(move || diff::read_within(&c, &p))
                    .await
                    .unwrap_or_default();
                let req = ApprovalRequest {
                    tool_call_id: String::new(),
                    tool: "write_text_file".into(),
                    input_json: serde_json::json!({ "path": path }).to_string(),
                    summary: format!("Write {path} (no permission the agent asked for covers it)"),
                    diff: diff::unified(&cwd, &path, &old, &new),
                    // Inside the session directory (the gateway refuses the rest).
                    edit: super::super::cli::inside(&cwd, &path),
                    options: vec!["allow_once".into(), "reject_once".into()],
                    respond: tx,
                };
                (req, Pending::Write(params, responder))
            }
            other => {
                unasked(other);
                return None;
            }
        };
        self.pending = Some(pending);
        if ctx
            .out
            .send(ProviderEvent::ApprovalRequest(req))
            .await
            .is_err()
        {
            self.answer(None);
            return None;
        }
        Some(rx)
    }

    /// Answers the pending request (no answer rejects).
    fn answer(&mut self, answer: Option<ApprovalAnswer>) {
        let decision = answer.map(|a| a.decision);
        let (perm, responder) = match self.pending.take() {
            None => return,
            Some(Pending::Write(params, responder)) => {
                if matches!(decision, Some(Decision::AllowOnce | Decision::AllowAlways)) {
                    let cwd = self.mapper.cwd().to_string();
                    tokio::spawn(async move { conn::write_file(&cwd, &params, responder).await });
                } else {
                    conn::refuse(
                        responder,
                        agent_client_protocol::Error::invalid_request(),
                        "the user denied this write",
                    );
                }
                return;
            }
            Some(Pending::Permission(perm, responder)) => (perm, responder),
        };
        let reply = perm.response(decision);
        let chosen = reply["outcome"]["optionId"].as_str().unwrap_or_default();
        let allowed = perm
            .options
            .iter()
            .any(|(k, id)| id == chosen && k.starts_with("allow"));
        if allowed {
            let cwd = self.mapper.cwd();
            let covered: Vec<_> = perm
                .paths
                .iter()
                .filter_map(|p| super::fs::confine(cwd, p).ok())
                .collect();
            if let Ok(mut g) = self.conn.grants.lock() {
                g.extend(covered);
            }
        } else {
            self.mapper.rejected(&perm.tool_call_id);
        }
        if let Err(e) = responder.respond(reply) {
            tracing::warn!(error = %e, "cannot answer the agent's permission request");
        }
    }

    /// Cancels the running prompt; true when it ended in time and the process can stay.
    pub async fn cancel(&mut self) -> bool {
        if let Some(p) = self.pending.take() {
            p.drop_unanswered("the turn was cancelled: the write was not made");
        }
        self.clear_grants();
        if !self.prompting {
            // Stopped before or between requests: keep it only if it has its session.
            return !self.session.is_empty();
        }
        let cancel = schema::CancelNotification::new(self.session.clone());
        let Ok(n) = UntypedMessage::new("session/cancel", cancel) else {
            return false;
        };
        if conn::notify(&self.conn.cx, n).is_err() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
        loop {
            match tokio::time::timeout_at(deadline, self.conn.inbox.recv()).await {
                Ok(Some(Incoming::PromptDone(r))) => {
                    self.prompting = false;
                    tracing::info!(
                        pgid = self.conn.pgid,
                        ok = r.is_ok(),
                        "cancelled the prompt"
                    );
                    return true;
                }
                Ok(Some(item @ (Incoming::Permission(..) | Incoming::Write(..)))) => unasked(item),
                Ok(Some(Incoming::Update(v))) => {
                    // Keep the tool-call state current; the turn is no longer reported.
                    let _ = self.mapper.update(&v);
                }
                Ok(Some(Incoming::Warning(_))) => {}
                Ok(Some(Incoming::Exited)) | Ok(None) | Err(_) => return false,
            }
        }
    }
}

// Lives for one loop step on the stack: boxing the big variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Step {
    Decided(Option<ApprovalAnswer>),
    Item(Option<Incoming>),
    Tick,
}

fn session_cwd(cwd: &str) -> PathBuf {
    if cwd.is_empty() {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    } else {
        PathBuf::from(cwd)
    }
}

/// A JSON-RPC error from the agent, with its details.
fn rpc_error(e: &agent_client_protocol::Error) -> String {
    match &e.data {
        Some(d) => {
            let detail = d["details"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| d.to_string());
            format!("{} ({detail})", e.message)
        }
        None => e.message.clone(),
    }
}

/// The prompt with the earlier conversation in front, for an agent that lost it.
pub(super) fn replay_prompt(history: &[ChatMessage], prompt: &str) -> String {
    // The last user message is this turn's prompt.
    let earlier = match history.iter().rposition(|m| m.role == Role::User) {
        Some(i) => &history[..i],
        None => history,
    };
    let lines: Vec<String> = earlier
        .iter()
        .filter(|m| !m.content.trim().is_empty() && m.role != Role::System)
        .map(|m| {
            let who = if m.role == Role::User {
                "User"
            } else {
                "Assistant"
            };
            format!("{who}: {}", m.content.trim())
        })
        .collect();
    if lines.is_empty() {
        return prompt.to_string();
    }
    format!(
        "[agentmux: your earlier conversation with this user could not be reloaded; here is \
         its transcript]\n{}\n[end of transcript]\n\n{prompt}",
        lines.join("\n")
    )
}
