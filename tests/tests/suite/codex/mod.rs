//! Codex through the daemon, end to end: the real `codex app-server` (pinned, installed by
//! `tests/cli/install.sh`), its model API played by the fake Responses server. Plain answers,
//! patch and command approvals (allow, deny, policies), cancel, a CLI that dies or hangs, resume
//! after `kill -9`, and (ignored by default, in `figures`) the first-delta latency figures.

mod harness;

use super::{get_session, messages, send, send_wait, wait_session};
use agentmux_shared::types::EventPayload;
use agentmux_tests::client::Item;
use agentmux_tests::fake::{Match, Script, Step};
use agentmux_tests::poll_until;
use harness::{alive, codex_pid, group_alive, start, start_with, tool_calls};
use pretty_assertions::assert_eq;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn plain_prompt_streams_an_answer() {
    let e = start().await;
    let id = e.session("ask").await;
    e.fake.push(
        Script::new(vec![
            Step::text("Hello from "),
            Step::Text {
                text: "the fake model.".into(),
                delay: Duration::from_millis(50),
            },
        ])
        .with_usage(11, 7)
        .when(Match::has_tools()),
    );
    let mut sse = e
        .rest
        .sse(
            &format!("/v1/events?session={id}&after={}", e.d.last_seq().await),
            None,
        )
        .await;
    let t0 = Instant::now();
    send(&e.rest, &id, "Say hello.").await;
    let mut first_delta = None;
    let mut text = String::new();
    loop {
        let Some(Item::Event(ev)) = sse.next_item().await else {
            continue;
        };
        match ev.payload {
            EventPayload::MessageDelta { text: t, .. } => {
                first_delta.get_or_insert_with(|| t0.elapsed());
                text.push_str(&t);
            }
            EventPayload::TurnFinished(f) => {
                assert_eq!(f.status.as_str(), "complete", "{f:?}");
                assert_eq!(f.stop_reason, "end_turn");
                assert_eq!((f.usage.input_tokens, f.usage.output_tokens), (11, 7));
                break;
            }
            _ => {}
        }
    }
    eprintln!(
        "codex via agentmuxd: send -> first delta {:?} (cold start), turn {:?}",
        first_delta.unwrap(),
        t0.elapsed()
    );
    assert_eq!(text, "Hello from the fake model.");
    let s = get_session(&e.rest, &id).await;
    let thread = s["provider_session_id"].as_str().unwrap_or_default();
    assert_eq!(
        thread.len(),
        36,
        "the Codex thread id (a UUID) is stored: {s}"
    );
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "Hello from the fake model.");
    assert_eq!(msgs[1]["model"], "gpt-5.5");
    assert_eq!(msgs[1]["usage"]["output_tokens"], 7, "{}", msgs[1]);

    // Second turn: the same process, warm, and the same thread.
    e.fake
        .push(Script::answer("Again.").when(Match::has_tools()));
    let t1 = Instant::now();
    let r = send_wait(&e.rest, &id, "Once more.").await;
    eprintln!("codex via agentmuxd: warm turn {:?}", t1.elapsed());
    assert_eq!(r["reply"]["content"], "Again.");
    assert_eq!(e.starts(), 1, "one codex process per session");
    let last = e
        .fake
        .requests()
        .into_iter()
        .rfind(|r| !r.tools().is_empty())
        .unwrap();
    assert!(
        last.history()
            .iter()
            .any(|(role, t)| role == "user" && t.contains("Say hello.")),
        "the second request carries the first turn: {:?}",
        last.history()
    );
}

#[tokio::test]
async fn write_asks_then_allow_writes_the_file_with_a_diff() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    assert_eq!(a["tool"], "apply_patch", "{a}");
    assert_eq!(a["status"], "pending");
    let diff = a["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- /dev/null\n") && diff.contains("\n+hi\n"),
        "{a}"
    );
    assert_eq!(
        a["summary"],
        format!("apply_patch {}", e.file().display()),
        "{a}"
    );
    assert_eq!(a["options"], json!(["allow_once", "allow_always", "deny"]));
    assert!(!e.file().exists(), "nothing is written before the decision");
    assert_eq!(get_session(&e.rest, &id).await["busy"], true);

    assert_eq!(e.decide(&a, "allow_once").await["status"], "allowed");
    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    assert_eq!(msgs[1]["status"], "complete");

    let events = e.events(&id).await;
    let names: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("no {n} in {names:?}"))
    };
    assert!(pos("approval.requested") < pos("approval.resolved"));
    assert!(pos("approval.resolved") < pos("file.changed"));
    let changes: Vec<(String, String)> = events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::FileChanged { path, diff } => Some((path.clone(), diff.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 1, "one change, one event: {changes:?}");
    assert_eq!(changes[0].0, e.file().display().to_string());
    assert!(changes[0].1.contains("+hi"), "{}", changes[0].1);
    assert_eq!(
        tool_calls(&events),
        vec![
            ("apply_patch".to_string(), "started".to_string()),
            ("apply_patch".to_string(), "finished".to_string())
        ]
    );
}

#[tokio::test]
async fn deny_writes_nothing_and_the_model_is_told() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    assert_eq!(e.decide(&a, "deny").await["status"], "denied");
    e.idle(&id).await;
    assert!(!e.file().exists(), "a denied write must not happen");
    let told: Vec<_> = e
        .fake
        .requests()
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert!(
        told.iter().any(|t| t.output.contains("rejected")),
        "the model is told the patch was rejected: {told:?}"
    );
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    let events = e.events(&id).await;
    assert_eq!(
        tool_calls(&events).last().map(|(_, s)| s.as_str()),
        Some("denied")
    );
    assert!(
        !events
            .iter()
            .any(|ev| matches!(ev.payload, EventPayload::FileChanged { .. }))
    );
}

#[tokio::test]
async fn never_ask_policy_writes_without_a_pending_approval() {
    let e = start().await;
    let id = e.session("never-ask").await;
    e.script_write();
    let r = send_wait(&e.rest, &id, "Create hello.txt containing hi.").await;
    assert_eq!(r["reply"]["content"], "I'll create the file.Finished.");
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(list["approvals"][0]["status"], "allowed", "{list}");
    assert_eq!(list["approvals"][0]["reason"], "policy");
    let events = e.events(&id).await;
    assert!(
        !events
            .iter()
            .any(|ev| ev.payload.name() == "approval.requested"),
        "nobody was asked"
    );
}

#[tokio::test]
async fn commands_ask_even_under_auto_edit() {
    let e = start().await;
    let id = e.session("auto-edit").await;
    e.fake.push(
        Script::new(vec![Step::tool(
            "exec_command",
            json!({"cmd": "touch made-by-command.txt"}),
        )])
        .when(Match::has_tools()),
    );
    e.fake
        .push(Script::answer("Done.").when(Match::has_tools()));
    send(&e.rest, &id, "Make a file with a command.").await;
    let a = e.pending_approval(&id).await;
    assert_eq!(a["tool"], "exec_command", "{a}");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("touch made-by-command.txt"),
        "{a}"
    );
    e.decide(&a, "allow_once").await;
    let s = e.idle(&id).await;
    assert_eq!(s["status"], "idle", "{s}");
    assert!(e.dirs.work().join("made-by-command.txt").exists());
    let events = e.events(&id).await;
    let calls = tool_calls(&events);
    assert!(
        calls.contains(&("exec_command".to_string(), "finished".to_string())),
        "{calls:?}"
    );
}

#[tokio::test]
async fn cancel_mid_turn_frees_the_session_and_keeps_the_process() {
    let e = start().await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    e.wait_for_delta(&id, "Working").await;
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
    eprintln!("codex cancel: session free after {:?}", t0.elapsed());
    assert_eq!(s["status"], "idle");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["status"], "cancelled");
    assert_eq!(
        msgs[1]["content"], "Working",
        "soft cancel keeps the partial text"
    );

    // A pending approval is resolved by a cancel, and nothing is written.
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

    // The protocol interrupt was enough: the same process answers the next message.
    e.fake
        .push(Script::answer("Still here.").when(Match::has_tools()));
    let r = send_wait(&e.rest, &id, "Are you there?").await;
    assert_eq!(r["reply"]["content"], "Still here.");
    assert!(!e.file().exists());
    assert_eq!(e.starts(), 1, "{}", e.d.log_tail(100));
}

#[tokio::test]
async fn kill9_then_restart_resumes_the_same_thread() {
    let mut e = start().await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    let r = send_wait(&e.rest, &id, "Remember the word apple.").await;
    assert_eq!(r["reply"]["content"], "First answer.");
    let thread = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!thread.is_empty());

    // A write waiting for a decision when the daemon dies.
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let old = codex_pid(&e.d);
    e.d.kill9().await;
    // Its stdin closed: the orphaned codex goes away by itself.
    poll_until(
        "the orphaned codex to exit",
        Duration::from_secs(30),
        || async { (!group_alive(old)).then_some(()) },
    )
    .await;
    e.d.restart().await;
    e.rest = e.d.rest();
    let s = get_session(&e.rest, &id).await;
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["provider_session_id"], thread.as_str());
    let a = e
        .rest
        .get_ok(&format!("/v1/approvals/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(a["reason"], "daemon_restarted");

    let before = e.fake.requests().len();
    e.fake
        .push(Script::answer("Second answer.").when(Match::body_contains(
            "Which word did I ask you to remember?",
        )));
    let r = send_wait(&e.rest, &id, "Which word did I ask you to remember?").await;
    assert_eq!(r["reply"]["content"], "Second answer.");
    let log = e.d.log_tail(400);
    assert!(
        log.lines().any(|l| l.contains("codex thread open")
            && l.contains(&thread)
            && l.contains("resumed=true")),
        "codex resumed thread {thread}; log:\n{log}"
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
        thread.as_str(),
        "the same Codex thread continues"
    );
    assert!(!e.file().exists());
}

#[tokio::test]
async fn a_codex_that_dies_or_hangs_fails_the_turn_and_the_next_one_resumes() {
    let e = start_with(3, None).await;
    let id = e.session("ask").await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    send_wait(&e.rest, &id, "Remember the word apple.").await;

    // A person taking longer than the idle timeout to decide is not a hung CLI.
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(get_session(&e.rest, &id).await["busy"], true);
    e.decide(&a, "allow_once").await;
    let s = e.idle(&id).await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");

    // The launcher killed mid-turn: the turn fails with why, the whole group is stopped.
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    e.wait_for_delta(&id, "Working").await;
    let pid = codex_pid(&e.d);
    // SAFETY: kill(2) on the codex process this test's daemon started (pid from its log).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let s = wait_session(&e.rest, &id, 20, "the turn to fail", |s| s["busy"] == false).await;
    assert_eq!(s["status"], "failed", "{s}");
    let err = s["last_error"].as_str().unwrap();
    assert!(err.contains("codex exited during the turn"), "{err}");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[5]["status"], "failed");
    assert_eq!(msgs[5]["content"], "Working", "partial text is kept");
    poll_until(
        "the rest of the group to go",
        Duration::from_secs(10),
        || async { (!group_alive(pid)).then_some(()) },
    )
    .await;

    // Hung (no output for idle_timeout_secs): the turn fails and codex is stopped.
    e.fake
        .push(Script::new(vec![Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello again.").await;
    let t0 = Instant::now();
    let s = wait_session(&e.rest, &id, 60, "the idle timeout", |s| {
        s["busy"] == false && s["message_count"] == 8
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
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    let hung = codex_pid(&e.d);
    assert_ne!(hung, pid, "a new process was started for the second turn");
    poll_until(
        "the hung codex to be stopped",
        Duration::from_secs(10),
        || async { (!alive(hung)).then_some(()) },
    )
    .await;

    // The next turn starts codex again, resuming the thread.
    e.fake
        .push(Script::answer("Apple.").when(Match::body_contains("Which word")));
    let r = send_wait(&e.rest, &id, "Which word?").await;
    assert_eq!(r["reply"]["content"], "Apple.");
    let req = e
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.last_user_text().contains("Which word"))
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
async fn reset_starts_a_new_thread_and_a_lost_one_is_replaced() {
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
    e.fake
        .push(Script::answer("Fresh.").when(Match::body_contains("What now?")));
    assert_eq!(
        send_wait(&e.rest, &id, "What now?").await["reply"]["content"],
        "Fresh."
    );
    let last = e.fake.requests().pop().unwrap();
    assert!(
        !last.body.to_string().contains("apple"),
        "a reset session starts a new thread: {:?}",
        last.history()
    );
    let second = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!second.is_empty() && second != first, "{first} {second}");

    // Codex's rollouts are gone when the daemon comes back: a warning and a new thread.
    let old = codex_pid(&e.d);
    e.d.kill9().await;
    poll_until(
        "the orphaned codex to exit",
        Duration::from_secs(30),
        || async { (!group_alive(old)).then_some(()) },
    )
    .await;
    let sessions = e.dirs.codex_home().join("sessions");
    assert!(
        sessions.is_dir(),
        "codex keeps rollouts in {}",
        sessions.display()
    );
    std::fs::remove_dir_all(&sessions).unwrap();
    e.d.restart().await;
    e.rest = e.d.rest();
    e.fake
        .push(Script::answer("New start.").when(Match::body_contains("Still there?")));
    let r = send_wait(&e.rest, &id, "Still there?").await;
    assert_eq!(r["reply"]["content"], "New start.", "{r}");
    let warned = e.events(&id).await.into_iter().any(|ev| {
        matches!(&ev.payload, EventPayload::Warning { message }
            if message.contains("cannot resume the Codex thread") && message.contains(&second))
    });
    assert!(warned, "a warning says the thread could not be resumed");
    let third = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!third.is_empty() && third != second, "{second} {third}");
}

#[tokio::test]
async fn a_missing_cli_is_a_clear_error() {
    let e = start_with(60, Some("/nonexistent/bin/codex")).await;
    let h = e.rest.get_ok("/v1/health").await;
    let codex = h["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "codex")
        .cloned()
        .unwrap();
    assert_eq!(codex["available"], false, "{h}");
    let id = e.session("ask").await;
    send(&e.rest, &id, "Say hello.").await;
    let s = wait_session(&e.rest, &id, 20, "the turn to fail", |s| {
        s["busy"] == false && s["message_count"] == 2
    })
    .await;
    assert_eq!(s["status"], "failed");
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("cannot start") && err.contains("/nonexistent/bin/codex"),
        "{err}"
    );
}
