//! Start-up recovery: what a stopped or killed daemon left running is marked interrupted, with
//! the partial answer (text, tool calls, file changes, plan) rebuilt from the durable events.

use super::Service;
use crate::log::NewEvent;
use crate::store::Store;
use agentmux_proto::v1 as pb;
use agentmux_shared::Result;
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::{
    EventPayload, FileChange, MAX_TOOL_CALLS, Message, MessageStatus, SessionStatus,
    merge_tool_call,
};
use std::collections::HashMap;

pub(super) async fn recover(svc: &Service) -> Result<()> {
    let mut ops = Vec::new();
    let mut events = Vec::new();
    let mut streaming: Vec<Message> = Vec::new();
    let mut after = String::new();
    loop {
        let page = svc.store().sessions("", &after, 512)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for mut s in page {
            if !s.busy && s.status != SessionStatus::Busy {
                continue;
            }
            let messages = svc.store().messages(&s.id, 0, usize::MAX)?;
            streaming.extend(
                messages
                    .iter()
                    .filter(|m| m.status == MessageStatus::Streaming)
                    .cloned(),
            );
            s.busy = false;
            s.status = SessionStatus::Interrupted;
            s.queued = messages
                .iter()
                .filter(|m| m.status == MessageStatus::Queued)
                .count() as u32;
            s.updated_at_ms = now_ms();
            ops.push(Store::put_session(&s));
            events.push(NewEvent::new(
                &s.id,
                EventPayload::SessionUpdated { session: s.clone() },
            ));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    let mut partial = partial_messages(svc, &streaming)?;
    for mut m in streaming {
        partial.remove(&m.id).unwrap_or_default().apply(&mut m);
        m.status = MessageStatus::Interrupted;
        m.stop_reason = "interrupted".into();
        m.completed_at_ms = now_ms();
        ops.push(Store::put_message(&m));
        events.push(NewEvent::new(
            &m.session_id.clone(),
            EventPayload::MessageCompleted { message: m },
        ));
    }
    tracing::info!(sessions = events.len(), "marked interrupted turns");
    svc.commit(ops, events).await
}

/// What an interrupted answer had streamed before the stop: its text and its activity.
#[derive(Default)]
struct Partial {
    /// Newest first while scanning backwards.
    chunks: Vec<String>,
    events: Vec<pb::event::Payload>,
    started: bool,
}

/// Rebuilds each message from its durable deltas, tool calls, file changes and plan, scanning
/// the log backwards only as far as the oldest of their turns.
fn partial_messages(svc: &Service, messages: &[Message]) -> Result<HashMap<String, Partial>> {
    let mut parts: HashMap<String, Partial> = messages
        .iter()
        .map(|m| (m.id.clone(), Partial::default()))
        .collect();
    // One running turn per session: activity events name the session, not the message.
    let by_session: HashMap<&str, &str> = messages
        .iter()
        .map(|m| (m.session_id.as_str(), m.id.as_str()))
        .collect();
    let mut open = messages.len();
    if open == 0 {
        return Ok(parts);
    }
    for e in svc.shared.log.journal().events_rev() {
        let e = e?;
        let Some(payload) = e.payload else { continue };
        match payload {
            pb::event::Payload::MessageDelta(d) => {
                if let Some(p) = parts.get_mut(&d.message_id) {
                    p.chunks.push(d.text);
                }
            }
            pb::event::Payload::TurnStarted(t) => {
                if let Some(p) = parts.get_mut(&t.assistant_message_id)
                    && !p.started
                {
                    p.started = true;
                    open -= 1;
                    if open == 0 {
                        break;
                    }
                }
            }
            ev @ (pb::event::Payload::ToolCall(_)
            | pb::event::Payload::FileChanged(_)
            | pb::event::Payload::PlanUpdated(_)) => {
                if let Some(p) = by_session
                    .get(e.session_id.as_str())
                    .and_then(|id| parts.get_mut(*id))
                    && !p.started
                {
                    p.events.push(ev);
                }
            }
            _ => {}
        }
    }
    Ok(parts)
}

impl Partial {
    fn apply(mut self, m: &mut Message) {
        self.chunks.reverse();
        m.content = self.chunks.concat();
        for ev in self.events.into_iter().rev() {
            match ev {
                pb::event::Payload::ToolCall(t) => merge_tool_call(&mut m.tools, &t.into()),
                pb::event::Payload::FileChanged(c) if m.changes.len() < MAX_TOOL_CALLS => {
                    m.changes.push(FileChange {
                        path: c.path,
                        diff: c.diff,
                    });
                }
                pb::event::Payload::PlanUpdated(p) => {
                    m.plan = p.entries.into_iter().map(Into::into).collect();
                }
                _ => {}
            }
        }
    }
}
