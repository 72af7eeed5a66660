//! Claude Code when things go wrong: cancel mid-turn, a `claude` that dies or hangs, `kill -9` and
//! SIGTERM of the daemon (the conversation resumes), and a reset or lost conversation.

use super::super::{get_session, messages, send, send_wait, wait_session};
use super::harness::{claude_pid, start, start_with};
use agentmux_shared::types::EventPayload;
use agentmux_tests::fake::{Match, Script, Step};
use agentmux_tests::poll_until;
use pretty_assertions::assert_eq;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn cancel_mid_turn_frees_the_session_and_resolves_its_approval() {
    let e = start().await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    poll_until("the first delta", Duration::from_secs(30), || async {
        let evs = e.events(&id).await;
        evs.iter()
            .any(|ev| matches!(&ev.payload, EventPayload::MessageDelta { text, .. } if text == "Working"))
            .then_some(())
    })
    .await;
    let t0 = Instant::now();
    let r = e
        .rest
        .post(&format!("/v1/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cancelled_turn"], true);
    let s = wait_session(&e.rest, &id, 10, "cancel to free the session", |s| {
        s["busy"] == false
    })
    .await;
    eprintln!("claude cancel: session free after {:?}", t0.elapsed());
    assert_eq!(s["status"], "idle");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["status"], "cancelled");
    assert_eq!(msgs[1]["content"], "Working");

    // The session takes the next message; a pending approval is resolved by a cancel.
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    e.rest
        .post(&format!("/v1/sessions/{id}/cancel"), json!({}))
        .await;
    e.idle(&id).await;
    let a = e
        .rest
        .get_ok(&format!("/v1/approvals/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(a["status"], "cancelled", "{a}");
    assert_eq!(a["reason"], "turn_cancelled");
    assert!(!e.file().exists());
    // And it still answers afterwards. (Claude may still send the denied tool's result to the
    // model while it winds the cancelled turn down: match this turn's own request.)
    e.fake
        .push(Script::answer("Still here.").when(Match::body_contains("Are you there?")));
    let r = send_wait(&e.rest, &id, "Are you there?").await;
    assert_eq!(r["reply"]["content"], "Still here.");
}

#[tokio::test]
async fn kill9_then_restart_resumes_the_same_conversation() {
    let mut e = start().await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    let r = send_wait(&e.rest, &id, "Remember the word apple.").await;
    assert_eq!(r["reply"]["content"], "First answer.");
    let claude_id = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!claude_id.is_empty());

    // A write waiting for a decision when the daemon dies.
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    e.d.kill9().await;
    e.d.restart().await;
    e.rest = e.d.rest();
    let s = get_session(&e.rest, &id).await;
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["provider_session_id"], claude_id.as_str());
    let a = e
        .rest
        .get_ok(&format!("/v1/approvals/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(a["status"], "cancelled");
    assert_eq!(a["reason"], "daemon_restarted");
    e.rest
        .post(
            &format!("/v1/approvals/{}", a["id"].as_str().unwrap()),
            json!({"decision": "allow_once"}),
        )
        .await
        .assert_error(409, "already_exists");

    assert_eq!(e.fake.pending_scripts(), 0);
    let before = e.fake.requests().len();
    e.fake
        .push(Script::answer("Second answer.").when(Match::body_contains(
            "Which word did I ask you to remember?",
        )));
    let r = send_wait(&e.rest, &id, "Which word did I ask you to remember?").await;
    assert_eq!(r["reply"]["content"], "Second answer.");
    let log = e.d.log_tail(400);
    assert!(
        log.lines()
            .any(|l| l.contains("started claude") && l.contains(&claude_id)),
        "claude is started again with --resume={claude_id}; log:\n{log}"
    );
    let req = e
        .fake
        .requests()
        .into_iter()
        .skip(before)
        .find(|r| r.last_user_text().contains("Which word"))
        .expect("the resumed turn reached the model");
    assert!(
        req.history()
            .iter()
            .any(|(role, t)| role == "user" && t.contains("Remember the word apple.")),
        "the resumed request carries the first turn: {:?}",
        req.history()
    );
    assert_eq!(
        get_session(&e.rest, &id).await["provider_session_id"],
        claude_id.as_str(),
        "the same Claude conversation continues"
    );
}
#[tokio::test]
async fn a_claude_that_dies_or_hangs_fails_the_turn_and_the_next_one_resumes() {
    let e = start_with(3, None).await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    send_wait(&e.rest, &id, "Remember the word apple.").await;

    // Killed mid-turn: the turn fails with why, the session is usable.
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    poll_until("the first delta", Duration::from_secs(30), || async {
        let m = messages(&e.rest, &id).await;
        // The delta is streamed before it is stored: watch the events instead.
        let evs = e.events(&id).await;
        (m.len() >= 4
            && evs.iter().any(|ev| {
                matches!(&ev.payload, EventPayload::MessageDelta { text, .. } if text == "Working")
            }))
        .then_some(())
    })
    .await;
    let pid = claude_pid(&e.d);
    // SAFETY: kill(2) on the claude process this test's daemon started (pid from its log).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let s = wait_session(&e.rest, &id, 20, "the turn to fail", |s| s["busy"] == false).await;
    assert_eq!(s["status"], "failed", "{s}");
    let err = s["last_error"].as_str().unwrap();
    assert!(err.contains("claude exited during the turn"), "{err}");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[3]["status"], "failed");
    assert_eq!(msgs[3]["content"], "Working", "partial text is kept");

    // Hung (no output for idle_timeout_secs): the turn fails and claude is stopped.
    e.fake
        .push(Script::new(vec![Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello again.").await;
    let t0 = Instant::now();
    // message_count 6: the turn started (its answer is stored) and it is over.
    let s = wait_session(&e.rest, &id, 30, "the idle timeout", |s| {
        s["busy"] == false && s["message_count"] == 6
    })
    .await;
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("printed nothing for 3 s"),
        "{s}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());

    // The next turn starts claude again, resuming the conversation.
    e.fake
        .push(Script::answer("Apple.").when(Match::body_contains("Which word")));
    let r = send_wait(&e.rest, &id, "Which word?").await;
    assert_eq!(r["reply"]["content"], "Apple.");
    let req = e
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.last_user_text().contains("Which word"))
        .unwrap();
    assert!(
        req.history()
            .iter()
            .any(|(_, t)| t.contains("Remember the word apple.")),
        "{:?}",
        req.history()
    );
}
#[tokio::test]
async fn reset_starts_a_new_conversation_and_a_lost_one_is_replaced() {
    let mut e = start().await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    send_wait(&e.rest, &id, "Remember the word apple.").await;
    let first = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = e
        .rest
        .post(&format!("/v1/sessions/{id}/reset"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["provider_session_id"], "");
    e.fake
        .push(Script::answer("Fresh.").when(Match::body_contains("What now?")));
    assert_eq!(
        send_wait(&e.rest, &id, "What now?").await["reply"]["content"],
        "Fresh."
    );
    let last = e.fake.requests().pop().unwrap();
    assert!(
        !last.body.to_string().contains("apple"),
        "a reset session starts a new Claude conversation: {:?}",
        last.history()
    );
    let second = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!second.is_empty() && second != first, "{first} {second}");

    // Claude's transcript is gone when the daemon comes back: a warning and a new conversation.
    e.d.kill9().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let projects = e.home.path().join(".claude/projects");
    assert!(
        projects.is_dir(),
        "claude keeps transcripts in {}",
        projects.display()
    );
    std::fs::remove_dir_all(&projects).unwrap();
    e.d.restart().await;
    e.rest = e.d.rest();
    e.fake
        .push(Script::answer("New start.").when(Match::body_contains("Still there?")));
    let r = send_wait(&e.rest, &id, "Still there?").await;
    assert_eq!(r["reply"]["content"], "New start.", "{r}");
    let warned = e.events(&id).await.into_iter().any(|ev| {
        matches!(&ev.payload, EventPayload::Warning { message }
            if message.contains("cannot resume the Claude conversation") && message.contains(&second))
    });
    assert!(
        warned,
        "a warning says the conversation could not be resumed"
    );
    let third = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!third.is_empty() && third != second, "{second} {third}");
}

#[tokio::test]
async fn sigterm_with_a_pending_approval_stops_claude_and_resolves_it() {
    let mut e = start().await;
    let id = e.session("ask").await;
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let pid = claude_pid(&e.d);
    let status = e.d.sigterm().await;
    assert!(status.success(), "agentmuxd exit: {status}");
    // SAFETY: signal 0 only checks whether the pid exists.
    assert_ne!(
        unsafe { libc::kill(pid, 0) },
        0,
        "claude is stopped with the daemon"
    );
    e.d.restart().await;
    e.rest = e.d.rest();
    let a = e
        .rest
        .get_ok(&format!("/v1/approvals/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(a["status"], "cancelled", "{a}");
    assert_eq!(a["reason"], "daemon_restarted");
    assert_eq!(get_session(&e.rest, &id).await["status"], "interrupted");
    assert!(!e.file().exists());
}
#[tokio::test]
async fn a_claude_that_dies_while_an_approval_waits_fails_the_turn_at_once() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap().to_string();
    let pid = claude_pid(&e.d);
    // SAFETY: kill(2) on the claude process this test's daemon started (pid from its log).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let s = wait_session(&e.rest, &id, 20, "the turn to fail", |s| s["busy"] == false).await;
    assert_eq!(s["status"], "failed", "{s}");
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("exited while an approval was waiting"),
        "{err}"
    );
    let a = e.rest.get_ok(&format!("/v1/approvals/{aid}")).await;
    assert_eq!(a["status"], "cancelled", "{a}");
    assert_eq!(a["reason"], "turn_ended");
    // The session is usable again.
    e.fake
        .push(Script::answer("Back.").when(Match::has_tools()));
    let r = send_wait(&e.rest, &id, "Still there?").await;
    assert_eq!(r["reply"]["content"], "Back.");
}

#[tokio::test]
async fn kill9_while_an_approval_waits_keeps_the_partial_answer_and_its_tool_call() {
    let mut e = start().await;
    let id = e.session("ask").await;
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap().to_string();
    // The tool call's start is streamed before the request: wait until it is durable.
    poll_until("the tool call event", Duration::from_secs(20), || async {
        e.events(&id)
            .await
            .iter()
            .any(|ev| matches!(&ev.payload, EventPayload::ToolCall(t) if t.name == "Write"))
            .then_some(())
    })
    .await;
    e.d.kill9().await;
    e.d.restart().await;
    let s = get_session(&e.rest, &id).await;
    assert_eq!(s["status"], "interrupted", "{s}");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["status"], "interrupted", "{}", msgs[1]);
    assert_eq!(msgs[1]["content"], "I'll create the file.");
    assert_eq!(msgs[1]["tools"][0]["name"], "Write", "{}", msgs[1]);
    assert_eq!(msgs[1]["tools"][0]["status"], "started");
    let a = e.rest.get_ok(&format!("/v1/approvals/{aid}")).await;
    assert_eq!(a["status"], "cancelled", "{a}");
    assert_eq!(a["reason"], "daemon_restarted");
    assert!(!e.file().exists());
}
