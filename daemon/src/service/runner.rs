//! The turn loop of one session: takes queued input in order, streams the provider's answer as
//! durable events, and always leaves the session not busy when a turn ends, however it ends.

use super::approvals;
use super::{Service, SessionHandle};
use crate::log::NewEvent;
use crate::provider::{ChatMessage, ProviderEvent, TurnEnd, TurnRequest};
use crate::store::Store;
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{
    ApprovalPolicy, ApprovalReason, EventPayload, Message, MessageStatus, Role, SessionStatus,
    ToolCallStatus, TurnFinished,
};
use agentmux_shared::{Error, ErrorKind, Result};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(super) fn spawn(svc: Service, h: Arc<SessionHandle>) {
    let tracker = svc.shared.tasks.clone();
    tracker.spawn(async move {
        // The loop runs in a task of its own so that even a panic in it comes back here as an
        // error, and the session is freed either way.
        let (s, hh) = (svc.clone(), h.clone());
        let err = match tokio::spawn(async move { run(&s, &hh).await }).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(join) => Error::internal(format!("session runner crashed: {join}")),
        };
        tracing::error!(error = %err, "session runner stopped");
        release(&svc, &h, err).await;
    });
}

/// Leaves a session whose runner failed not busy, with the reason, and answers its waiters.
async fn release(svc: &Service, h: &SessionHandle, err: Error) {
    let mut st = h.state.lock().await;
    st.runner_active = false;
    st.turn = None;
    for (_, w) in st.waiters.drain() {
        let _ = w.send(Err(err.clone()));
    }
    let why = match err.kind {
        ErrorKind::Internal => format!("internal error: {}", err.message),
        _ => err.message.clone(),
    };
    if st.deleted {
        return;
    }
    let mut s = st.session.clone();
    s.busy = false;
    s.status = SessionStatus::Failed;
    s.last_error = why;
    s.updated_at_ms = now_ms();
    // Approvals of the failed turn can no longer reach anyone.
    let (mut ops, mut events) = approvals::drain_pending(&mut st, ApprovalReason::TurnEnded);
    ops.push(Store::put_session(&s));
    events.push(NewEvent::new(
        &s.id,
        EventPayload::SessionUpdated { session: s.clone() },
    ));
    let res = svc.commit(ops, events).await;
    if let Err(e) = res {
        tracing::error!(error = %e, "cannot record a failed runner; the session is freed in memory");
    }
    st.session = s;
}

/// Earlier messages a turn reads: its input plus the context an HTTP model is sent.
pub(super) const HISTORY_TAIL: usize = 200;

struct Turn {
    user: Message,
    assistant: Message,
    cancel: CancellationToken,
    history: Vec<ChatMessage>,
    provider: String,
    cwd: String,
    env: std::collections::BTreeMap<String, String>,
    provider_session_id: String,
    policy: ApprovalPolicy,
    approval_timeout_secs: u64,
}

async fn run(svc: &Service, h: &SessionHandle) -> Result<()> {
    loop {
        if svc.shared.shutdown.is_cancelled() {
            h.state.lock().await.runner_active = false;
            return Ok(());
        }
        let Some(turn) = start_turn(svc, h).await? else {
            return Ok(());
        };
        let outcome = drive(svc, h, &turn).await;
        finish_turn(svc, h, turn, outcome).await?;
    }
}

/// Takes the next queued message and marks the session busy, or ends the runner.
async fn start_turn(svc: &Service, h: &SessionHandle) -> Result<Option<Turn>> {
    let mut st = h.state.lock().await;
    if st.deleted {
        st.runner_active = false;
        return Ok(None);
    }
    let Some(mut user) = st.queue.front().cloned() else {
        st.runner_active = false;
        return Ok(None);
    };
    let now = now_ms();
    user.status = MessageStatus::Complete;
    let mut s = st.session.clone();
    let assistant = Message {
        id: new_id("msg"),
        session_id: s.id.clone(),
        index: s.message_count,
        role: Role::Assistant,
        status: MessageStatus::Streaming,
        model: s.model.clone(),
        created_at_ms: now,
        reply_to: user.id.clone(),
        ..Message::default()
    };
    s.message_count += 1;
    s.busy = true;
    s.status = SessionStatus::Busy;
    s.queued = (st.queue.len() - 1) as u32;
    s.last_error.clear();
    s.updated_at_ms = now;
    svc.commit(
        vec![
            Store::put_message(&user),
            Store::put_message(&assistant),
            Store::put_session(&s),
        ],
        vec![
            NewEvent::new(
                &s.id,
                EventPayload::TurnStarted {
                    user_message_id: user.id.clone(),
                    assistant_message_id: assistant.id.clone(),
                },
            ),
            NewEvent::new(
                &s.id,
                EventPayload::MessageCreated {
                    message: assistant.clone(),
                },
            ),
            NewEvent::new(&s.id, EventPayload::SessionUpdated { session: s.clone() }),
        ],
    )
    .await?;
    st.queue.pop_front();
    let cancel = CancellationToken::new();
    st.turn = Some(cancel.clone());
    let provider = s.provider.clone();
    let cwd = s.cwd.clone();
    let env = s.env.clone();
    let provider_session_id = s.provider_session_id.clone();
    let policy = s.approval_policy;
    let approval_timeout_secs = s.approval_timeout_secs;
    st.session = s;
    drop(st);
    // A bounded tail: CLI agents keep the conversation themselves and use only the last
    // prompt; HTTP models get the recent context. Either way the read does not grow with the
    // session.
    let history = svc
        .store()
        // Up to this turn's input: what lies between it and the answer is queued input.
        .messages_before(&assistant.session_id, user.index + 1, HISTORY_TAIL)?
        .into_iter()
        .filter(|m| m.role != Role::Assistant || !m.content.is_empty())
        .filter(|m| !matches!(m.status, MessageStatus::Queued | MessageStatus::Failed))
        // Input dropped by a hard cancel never ran: the model must not see it.
        .filter(|m| !(m.role == Role::User && m.status == MessageStatus::Cancelled))
        .map(|m| ChatMessage {
            role: m.role,
            content: m.content,
        })
        .collect();
    Ok(Some(Turn {
        user,
        assistant,
        cancel,
        history,
        provider,
        cwd,
        env,
        provider_session_id,
        policy,
        approval_timeout_secs,
    }))
}

struct Outcome {
    /// The answer as its events fold it (text, tool calls, changes, plan).
    answer: Message,
    status: MessageStatus,
    end: TurnEnd,
    error: String,
}

/// Runs the provider until it finishes, fails, or the turn is cancelled or interrupted.
async fn drive(svc: &Service, h: &SessionHandle, turn: &Turn) -> Outcome {
    let mut out = Outcome {
        answer: turn.assistant.clone(),
        status: MessageStatus::Complete,
        end: TurnEnd::default(),
        error: String::new(),
    };
    let provider = match svc.providers().get(&turn.provider) {
        Ok(p) => p,
        Err(e) => {
            out.status = MessageStatus::Failed;
            out.error = e.message;
            return out;
        }
    };
    let (tx, mut rx) = mpsc::channel(256);
    let req = TurnRequest {
        model: turn.assistant.model.clone(),
        history: turn.history.clone(),
        session_id: turn.assistant.session_id.clone(),
        cwd: turn.cwd.clone(),
        env: turn.env.clone(),
        provider_session_id: turn.provider_session_id.clone(),
    };
    let fut = provider.run_turn(req, tx);
    tokio::pin!(fut);
    let mut asked = std::collections::HashSet::new();
    let shutdown = svc.shared.shutdown.clone();
    let result = loop {
        tokio::select! {
            biased;
            _ = turn.cancel.cancelled() => break None,
            _ = shutdown.cancelled() => break None,
            Some(ev) = rx.recv() => emit(svc, h, turn, ev, &mut out.answer, &mut asked).await,
            r = &mut fut => break Some(r),
        }
    };
    // The provider may have queued output before it returned.
    while let Ok(ev) = rx.try_recv() {
        emit(svc, h, turn, ev, &mut out.answer, &mut asked).await;
    }
    match result {
        Some(Ok(end)) => out.end = end,
        Some(Err(e)) => {
            out.status = MessageStatus::Failed;
            out.error = e.message;
        }
        None if turn.cancel.is_cancelled() => {
            out.status = MessageStatus::Cancelled;
            out.end.stop_reason = "cancelled".into();
        }
        None => {
            out.status = MessageStatus::Interrupted;
            out.end.stop_reason = "interrupted".into();
        }
    }
    out
}

/// `asked`: the tool calls of this turn that an approval was raised for (and, once recorded,
/// those the agent ran without asking).
async fn emit(
    svc: &Service,
    h: &SessionHandle,
    turn: &Turn,
    ev: ProviderEvent,
    answer: &mut Message,
    asked: &mut std::collections::HashSet<String>,
) {
    let session_id = &turn.assistant.session_id;
    let msg_id = &turn.assistant.id;
    let payload = match ev {
        ProviderEvent::Text(t) => EventPayload::MessageDelta {
            message_id: msg_id.to_string(),
            text: t,
        },
        ProviderEvent::Reasoning(t) => EventPayload::ReasoningDelta {
            message_id: msg_id.to_string(),
            text: t,
        },
        ProviderEvent::Warning(message) => EventPayload::Warning { message },
        ProviderEvent::ToolCall(t) => {
            // Ended without asking: the agent allowed itself (a "safe" read or command).
            let ran = matches!(t.status, ToolCallStatus::Finished | ToolCallStatus::Failed);
            if ran
                && !t.id.is_empty()
                && asked.insert(t.id.clone())
                && let Err(e) = approvals::record_cli_allowed(svc, h, session_id, &t).await
            {
                tracing::error!(error = %e, "cannot record a tool call the agent allowed itself");
            }
            EventPayload::ToolCall(t)
        }
        ProviderEvent::FileChanged { path, diff } => EventPayload::FileChanged { path, diff },
        ProviderEvent::Plan(entries) => EventPayload::PlanUpdated { entries },
        ProviderEvent::SessionId(id) => {
            if let Err(e) = set_provider_session(svc, h, &id).await {
                tracing::error!(error = %e, "cannot store the provider session id");
            }
            return;
        }
        ProviderEvent::ApprovalRequest(r) => {
            if !r.tool_call_id.is_empty() {
                asked.insert(r.tool_call_id.clone());
            }
            let ask = approvals::Ask {
                session_id: &turn.assistant.session_id,
                policy: turn.policy,
                timeout_secs: turn.approval_timeout_secs,
            };
            if let Err(e) = approvals::raise(svc, h, ask, r).await {
                tracing::error!(error = %e, "cannot record an approval request");
            }
            return;
        }
    };
    answer.apply(&payload);
    if let Err(e) = svc
        .shared
        .log
        .append(vec![NewEvent::new(session_id, payload)])
        .await
    {
        tracing::error!(error = %e, "dropping a streamed delta");
    }
}

/// Stores the provider's own session id as soon as it is known, so a restart can resume it.
async fn set_provider_session(svc: &Service, h: &SessionHandle, id: &str) -> Result<()> {
    let mut st = h.state.lock().await;
    if st.deleted || st.session.provider_session_id == id {
        return Ok(());
    }
    let mut s = st.session.clone();
    s.provider_session_id = id.to_string();
    s.updated_at_ms = now_ms();
    svc.commit(
        vec![Store::put_session(&s)],
        vec![NewEvent::new(
            &s.id,
            EventPayload::SessionUpdated { session: s.clone() },
        )],
    )
    .await?;
    st.session = s;
    Ok(())
}

/// Records how the turn ended. On a full disk the end stays in memory and is written as soon
/// as space returns (the session's input waits behind it); whoever waits for the answer is told
/// at once. A shutdown in the meantime leaves it to the next start's recovery.
async fn finish_turn(svc: &Service, h: &SessionHandle, turn: Turn, o: Outcome) -> Result<()> {
    let mut st = h.state.lock().await;
    st.turn = None;
    let mut waiter = st.waiters.remove(&turn.user.id);
    // Approvals the turn left open end with it (drained once, written with the end).
    let reason = match o.status {
        MessageStatus::Cancelled => ApprovalReason::TurnCancelled,
        // The daemon is stopping: what a restart would say.
        MessageStatus::Interrupted => ApprovalReason::DaemonRestarted,
        _ => ApprovalReason::TurnEnded,
    };
    let drained = approvals::drain_pending(&mut st, reason);
    let mut a = o.answer;
    a.status = o.status;
    a.usage = o.end.usage;
    if !o.end.model.is_empty() {
        a.model = o.end.model;
    }
    a.stop_reason = o.end.stop_reason;
    a.error = o.error;
    let mut wait = std::time::Duration::from_millis(500);
    loop {
        if st.deleted {
            st.runner_active = false;
            return Ok(());
        }
        let now = now_ms();
        a.completed_at_ms = now;
        let mut s = st.session.clone();
        s.usage.add(&a.usage);
        s.queued = st.queue.len() as u32;
        // With more input waiting the session stays busy: the next turn starts right away.
        s.busy = s.queued > 0 && !svc.shared.shutdown.is_cancelled();
        s.status = match a.status {
            _ if s.busy => SessionStatus::Busy,
            MessageStatus::Failed => SessionStatus::Failed,
            MessageStatus::Interrupted => SessionStatus::Interrupted,
            _ => SessionStatus::Idle,
        };
        s.last_error = a.error.clone();
        s.updated_at_ms = now;
        let finished = TurnFinished {
            user_message_id: turn.user.id.clone(),
            assistant_message_id: a.id.clone(),
            status: a.status,
            stop_reason: a.stop_reason.clone(),
            error: a.error.clone(),
            usage: a.usage,
            cost_usd: o.end.cost_usd,
        };
        let sid = s.id.clone();
        let (mut ops, mut events) = (drained.0.clone(), drained.1.clone());
        ops.extend([Store::put_message(&a), Store::put_session(&s)]);
        events.extend([
            NewEvent::new(&sid, EventPayload::MessageCompleted { message: a.clone() }),
            NewEvent::new(&sid, EventPayload::TurnFinished(finished)),
            NewEvent::new(&sid, EventPayload::SessionUpdated { session: s.clone() }),
        ]);
        match svc.commit(ops, events).await {
            Ok(_) => {
                st.session = s;
                if let Some(w) = waiter {
                    let _ = w.send(Ok(a));
                }
                return Ok(());
            }
            Err(e) if e.kind == ErrorKind::InsufficientStorage => {
                if let Some(w) = waiter.take() {
                    tracing::warn!(session = %sid, "disk full: the turn's end is kept and written when space returns");
                    let _ = w.send(Err(e.clone()));
                }
                drop(st);
                let stop = svc.shared.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {
                        h.state.lock().await.runner_active = false;
                        return Ok(());
                    }
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
                st = h.state.lock().await;
            }
            Err(e) => {
                if let Some(w) = waiter {
                    let _ = w.send(Err(e.clone()));
                }
                return Err(e);
            }
        }
    }
}
