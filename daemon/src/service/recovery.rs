//! Start-up recovery: what a stopped or killed daemon left running is marked interrupted, with
//! the partial answer (text, tool calls, file changes, plan) rebuilt from the durable events.

use super::Service;
use crate::log::NewEvent;
use crate::store::Store;
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
    rebuild(svc, &mut streaming)?;
    for mut m in streaming {
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
    match svc.commit(ops, events).await {
        // Start anyway: the store still says these turns run, so the next start marks them.
        Err(e) if e.kind == agentmux_shared::ErrorKind::InsufficientStorage => {
            tracing::error!(error = %e, "cannot mark interrupted turns: the disk is full");
            Ok(())
        }
        r => r.map(|_| ()),
    }
}

/// Rebuilds each message from its durable events (text, tool calls, file changes, plan) with
/// the one fold, `Message::apply`, scanning the log backwards only as far as the oldest of
/// their turns, then folding each turn's events oldest first.
fn rebuild(svc: &Service, messages: &mut [Message]) -> Result<()> {
    // One running turn per session: activity events name the session, not the message.
    let by_session: HashMap<String, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.session_id.clone(), i))
        .collect();
    let mut events: Vec<Vec<EventPayload>> = vec![Vec::new(); messages.len()];
    let mut started = vec![false; messages.len()];
    let mut open = messages.len();
    if open == 0 {
        return Ok(());
    }
    for e in svc
        .shared
        .log
        .journal()
        .events_rev(|s| by_session.contains_key(s))
    {
        let e = e?;
        let Some(&i) = by_session.get(&e.session_id) else {
            continue;
        };
        if started[i] {
            continue;
        }
        match &e.payload {
            EventPayload::TurnStarted {
                assistant_message_id,
                ..
            } if *assistant_message_id == messages[i].id => {
                started[i] = true;
                open -= 1;
                if open == 0 {
                    break;
                }
            }
            p if Message::folds(p) => events[i].push(e.payload),
            _ => {}
        }
    }
    for (m, evs) in messages.iter_mut().zip(events) {
        m.content.clear();
        for p in evs.iter().rev() {
            m.apply(p);
        }
    }
    Ok(())
}
