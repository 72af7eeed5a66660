//! Turns: input queued behind a busy session runs in order; soft cancel keeps the partial
//! answer and the queue, hard cancel drops the queue; a deleted session frees its turn.

use super::*;
use agentmux_shared::types::{MessageStatus, Role, SessionStatus};
use pretty_assertions::assert_eq;

#[tokio::test]
async fn input_sent_while_busy_is_queued_and_runs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Text("one"), Step::Hang]);
    let first = e.svc.send_message(&s.id, "first", false).await.unwrap();
    assert!(!first.queued);
    e.next("the first delta", |p| {
        matches!(p, EventPayload::MessageDelta { .. }).then_some(())
    })
    .await;
    for text in ["second", "third"] {
        let r = e.svc.send_message(&s.id, text, false).await.unwrap();
        assert!(r.queued, "{text} waits for the running turn");
    }
    assert_eq!(e.svc.get_session(&s.id).unwrap().queued, 2);
    // A soft cancel ends the running turn only: the queue goes on.
    let c = e.svc.cancel_session(&s.id, false).await.unwrap();
    assert!(c.cancelled_turn);
    assert_eq!(c.dropped_queued, 0);
    let a = e.finished().await;
    assert_eq!(
        (a.status, a.content.as_str()),
        (MessageStatus::Cancelled, "one")
    );
    let second = e.finished().await;
    let third = e.finished().await;
    assert_eq!(
        (second.content.as_str(), third.content.as_str()),
        ("ok", "ok")
    );
    assert_eq!(e.provider.prompts(), ["first", "second", "third"]);
    let s = e.svc.get_session(&s.id).unwrap();
    assert_eq!(
        (s.busy, s.queued, s.status),
        (false, 0, SessionStatus::Idle)
    );
    let roles: Vec<Role> = e.messages(&s.id).iter().map(|m| m.role).collect();
    assert_eq!(roles.len(), 6);
}

#[tokio::test]
async fn hard_cancel_drops_the_queue_and_frees_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Text("partial"), Step::Hang]);
    e.svc.send_message(&s.id, "first", false).await.unwrap();
    e.next("the first delta", |p| {
        matches!(p, EventPayload::MessageDelta { .. }).then_some(())
    })
    .await;
    e.svc
        .send_message(&s.id, "never runs", false)
        .await
        .unwrap();
    let c = e.svc.cancel_session(&s.id, true).await.unwrap();
    assert_eq!((c.cancelled_turn, c.dropped_queued), (true, 1));
    let a = e.finished().await;
    assert_eq!(
        (a.status, a.content.as_str()),
        (MessageStatus::Cancelled, "partial")
    );
    e.next("the session freed", |p| match p {
        EventPayload::SessionUpdated { session } if !session.busy => Some(()),
        _ => None,
    })
    .await;
    let msgs = e.messages(&s.id);
    let dropped = msgs.iter().find(|m| m.content == "never runs").unwrap();
    assert_eq!(dropped.status, MessageStatus::Cancelled);
    assert_eq!(
        e.provider.prompts(),
        ["first"],
        "dropped input never reaches the provider"
    );
    // Usable again, and the dropped input is not part of the next turn's history.
    let r = e.svc.send_message(&s.id, "again", true).await.unwrap();
    assert_eq!(r.reply.unwrap().content, "ok");
    let last = e.provider.requests.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.history.iter().all(|m| m.content != "never runs"),
        "{:?}",
        last.history
    );
}

#[tokio::test]
async fn a_turn_reads_a_bounded_tail_of_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    for i in 0..(super::super::runner::HISTORY_TAIL / 2 + 5) {
        e.svc
            .send_message(&s.id, &format!("m{i}"), true)
            .await
            .unwrap();
    }
    let last = e.provider.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.history.len(), super::super::runner::HISTORY_TAIL);
    assert_eq!(
        last.prompt().unwrap(),
        format!("m{}", super::super::runner::HISTORY_TAIL / 2 + 4)
    );
}

#[tokio::test]
async fn deleting_a_busy_session_ends_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Hang]);
    e.svc.send_message(&s.id, "hang", false).await.unwrap();
    e.next("the turn", |p| {
        matches!(p, EventPayload::TurnStarted { .. }).then_some(())
    })
    .await;
    e.svc.delete_session(&s.id, false, false).await.unwrap();
    assert!(e.svc.get_session(&s.id).is_err());
    assert!(e.messages_result(&s.id).is_err());
}

#[tokio::test]
async fn a_long_queue_behind_a_turn_does_not_push_its_input_out_of_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Hang]);
    e.svc.send_message(&s.id, "first", false).await.unwrap();
    e.next("the turn", |p| {
        matches!(p, EventPayload::TurnStarted { .. }).then_some(())
    })
    .await;
    let queued = super::super::runner::HISTORY_TAIL + 5;
    for i in 0..queued {
        e.svc
            .send_message(&s.id, &format!("q{i}"), false)
            .await
            .unwrap();
    }
    e.provider.push(vec![Step::Hang]);
    e.svc.cancel_session(&s.id, false).await.unwrap();
    e.finished().await;
    e.next("the next turn", |p| {
        matches!(p, EventPayload::TurnStarted { .. }).then_some(())
    })
    .await;
    let c = e.svc.cancel_session(&s.id, true).await.unwrap();
    assert_eq!(c.dropped_queued as usize, queued - 1);
    let reqs = e.provider.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].prompt().unwrap(), "q0");
    let texts: Vec<&str> = reqs[1].history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["first", "q0"], "queued input is not history");
}
