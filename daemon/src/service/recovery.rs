//! Start-up recovery: what a stopped or killed daemon left running is marked interrupted, with
//! the partial answer rebuilt from the durable deltas.

use super::Service;
use crate::log::NewEvent;
use crate::store::Store;
use agentmux_proto::v1 as pb;
use agentmux_shared::Result;
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::{EventPayload, Message, MessageStatus, SessionStatus};
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
    let mut partial = partial_texts(svc, &streaming)?;
    for mut m in streaming {
        m.content = partial.remove(&m.id).unwrap_or_default();
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

/// Concatenates the durable deltas of each message, scanning the log backwards only as far as
/// the oldest of their turns.
fn partial_texts(svc: &Service, messages: &[Message]) -> Result<HashMap<String, String>> {
    let mut chunks: HashMap<String, Vec<String>> = messages
        .iter()
        .map(|m| (m.id.clone(), Vec::new()))
        .collect();
    let mut open = messages.len();
    if open == 0 {
        return Ok(HashMap::new());
    }
    for e in svc.shared.log.journal().events_rev() {
        match e?.payload {
            Some(pb::event::Payload::MessageDelta(d)) => {
                if let Some(c) = chunks.get_mut(&d.message_id) {
                    c.push(d.text);
                }
            }
            Some(pb::event::Payload::TurnStarted(t))
                if chunks.contains_key(&t.assistant_message_id) =>
            {
                open -= 1;
                if open == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(chunks
        .into_iter()
        .map(|(id, mut c)| {
            c.reverse();
            (id, c.concat())
        })
        .collect())
}
