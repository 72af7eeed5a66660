//! The turn loop of one session: takes queued input in order, streams the provider's answer as
//! durable events, and always leaves the session not busy when a turn ends, however it ends.

use super::{Service, SessionHandle};
use crate::log::NewEvent;
use crate::provider::{ChatMessage, ProviderEvent, TurnEnd, TurnRequest};
use crate::store::Store;
use agentmux_shared::Result;
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{
    EventPayload, Message, MessageStatus, Role, SessionStatus, TurnFinished,
};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(super) fn spawn(svc: Service, h: Arc<SessionHandle>) {
    let tracker = svc.shared.runners.clone();
    tracker.spawn(async move {
        if let Err(e) = run(&svc, &h).await {
            tracing::error!(error = %e, "session runner stopped");
            let mut st = h.state.lock().await;
            st.runner_active = false;
            st.turn = None;
        }
    });
}

struct Turn {
    user: Message,
    assistant: Message,
    cancel: CancellationToken,
    history: Vec<ChatMessage>,
    provider: String,
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
        let outcome = drive(svc, &turn).await;
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
    st.session = s;
    drop(st);
    let history = svc
        .store()
        .messages(&assistant.session_id, 0, assistant.index as usize)?
        .into_iter()
        .filter(|m| m.role != Role::Assistant || !m.content.is_empty())
        .filter(|m| !matches!(m.status, MessageStatus::Queued | MessageStatus::Failed))
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
    }))
}

struct Outcome {
    text: String,
    status: MessageStatus,
    end: TurnEnd,
    error: String,
}

/// Runs the provider until it finishes, fails, or the turn is cancelled or interrupted.
async fn drive(svc: &Service, turn: &Turn) -> Outcome {
    let mut out = Outcome {
        text: String::new(),
        status: MessageStatus::Complete,
        end: TurnEnd::default(),
        error: String::new(),
    };
    let provider = match svc.shared.providers.get(&turn.provider) {
        Ok(p) => p,
        Err(e) => {
            out.status = MessageStatus::Failed;
            out.error = e.message;
            return out;
        }
    };
    let session_id = &turn.assistant.session_id;
    let msg_id = &turn.assistant.id;
    let (tx, mut rx) = mpsc::channel(256);
    let req = TurnRequest {
        model: turn.assistant.model.clone(),
        history: turn.history.clone(),
    };
    let fut = provider.run_turn(req, tx);
    tokio::pin!(fut);
    let shutdown = svc.shared.shutdown.clone();
    let result = loop {
        tokio::select! {
            biased;
            _ = turn.cancel.cancelled() => break None,
            _ = shutdown.cancelled() => break None,
            Some(ev) = rx.recv() => emit(svc, session_id, msg_id, ev, &mut out.text).await,
            r = &mut fut => break Some(r),
        }
    };
    // The provider may have queued output before it returned.
    while let Ok(ev) = rx.try_recv() {
        emit(svc, session_id, msg_id, ev, &mut out.text).await;
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

async fn emit(svc: &Service, session_id: &str, msg_id: &str, ev: ProviderEvent, text: &mut String) {
    let payload = match ev {
        ProviderEvent::Text(t) => {
            text.push_str(&t);
            EventPayload::MessageDelta {
                message_id: msg_id.to_string(),
                text: t,
            }
        }
        ProviderEvent::Reasoning(t) => EventPayload::ReasoningDelta {
            message_id: msg_id.to_string(),
            text: t,
        },
        ProviderEvent::Warning(message) => EventPayload::Warning { message },
    };
    if let Err(e) = svc
        .shared
        .log
        .append(vec![NewEvent::new(session_id, payload)])
        .await
    {
        tracing::error!(error = %e, "dropping a streamed delta");
    }
}

async fn finish_turn(svc: &Service, h: &SessionHandle, turn: Turn, o: Outcome) -> Result<()> {
    let mut st = h.state.lock().await;
    st.turn = None;
    let waiter = st.waiters.remove(&turn.user.id);
    if st.deleted {
        st.runner_active = false;
        return Ok(());
    }
    let now = now_ms();
    let mut a = turn.assistant;
    a.content = o.text;
    a.status = o.status;
    a.usage = o.end.usage;
    if !o.end.model.is_empty() {
        a.model = o.end.model;
    }
    a.stop_reason = o.end.stop_reason;
    a.error = o.error;
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
    };
    let sid = s.id.clone();
    svc.commit(
        vec![Store::put_message(&a), Store::put_session(&s)],
        vec![
            NewEvent::new(&sid, EventPayload::MessageCompleted { message: a.clone() }),
            NewEvent::new(&sid, EventPayload::TurnFinished(finished)),
            NewEvent::new(&sid, EventPayload::SessionUpdated { session: s.clone() }),
        ],
    )
    .await?;
    st.session = s;
    if let Some(w) = waiter {
        let _ = w.send(Ok(a));
    }
    Ok(())
}
