//! Claude Code through the daemon, end to end: the real `claude` CLI (pinned, installed by
//! `tests/cli/install.sh`) driven over stream-json, its model API played by the fake server.
//! Plain answers, approvals (allow, deny, idempotent decisions), cancel, and resume after `kill -9`.

use super::{ROUTES, cli_bin, get_session, id_of, messages, send, send_wait, wait_session};
use agentmux_shared::types::{ApprovalReason, ApprovalStatus, Event, EventPayload};
use agentmux_tests::client::{Item, Rest};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake::{FakeModel, Match, Script, Step};
use agentmux_tests::poll_until;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const API_KEY: &str = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz";

struct Env {
    fake: FakeModel,
    d: Daemon,
    rest: Rest,
    /// The session's working directory.
    work: tempfile::TempDir,
    home: tempfile::TempDir,
}

async fn start() -> Env {
    start_with(60, None).await
}

/// A daemon whose `[providers.claude]` has this idle timeout and, if given, this command.
async fn start_with(idle_timeout_secs: u64, command: Option<&str>) -> Env {
    let command = match command {
        Some(c) => c.to_string(),
        None => cli_bin().join("claude").display().to_string(),
    };
    let fake = FakeModel::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let claude_dir = home.path().join(".claude");
    let env = format!(
        "env = {{ ANTHROPIC_BASE_URL = {:?}, ANTHROPIC_API_KEY = {API_KEY:?}, CLAUDE_CONFIG_DIR = {:?}, HOME = {:?} }}",
        fake.root_url(),
        claude_dir.display().to_string(),
        home.path().display().to_string(),
    );
    let d = Daemon::start(
        DaemonOptions::fake(fake.base_url())
            .toml("[providers.claude]")
            .toml(&format!("command = {command:?}"))
            .toml(&env)
            .toml(&format!("idle_timeout_secs = {idle_timeout_secs}")),
    )
    .await;
    let rest = d.rest();
    Env {
        fake,
        d,
        rest,
        work,
        home,
    }
}

impl Env {
    async fn session(&self, policy: &str) -> String {
        let r = self
            .rest
            .post(
                "/v1/sessions",
                json!({"title": "claude", "provider": "claude",
                       "cwd": self.work.path().display().to_string(), "approval_policy": policy}),
            )
            .await;
        assert_eq!(r.status, 201, "create a claude session: {}", r.text());
        let s = r.json();
        assert_eq!(s["provider"], "claude");
        assert_eq!(s["approval_policy"], policy);
        id_of(&s)
    }

    fn file(&self) -> PathBuf {
        self.work.path().join("hello.txt")
    }

    /// The model writes hello.txt (after some text), then answers "Finished." once it heard back.
    fn script_write(&self) {
        self.script_write_call();
        self.fake
            .push(Script::answer("Finished.").when(Match::has_tools()));
    }

    /// Only the model turn that calls Write.
    fn script_write_call(&self) {
        self.fake.push(
            Script::new(vec![
                Step::text("I'll create the file."),
                Step::tool(
                    "Write",
                    json!({"file_path": self.file().display().to_string(), "content": "hi\n"}),
                ),
            ])
            .when(Match::has_tools()),
        );
    }

    async fn pending_approval(&self, session: &str) -> Value {
        super::pending_approval(&self.rest, session, 30).await
    }

    async fn idle(&self, session: &str) -> Value {
        wait_session(&self.rest, session, 60, "the turn to end", |s| {
            s["busy"] == false
        })
        .await
    }

    /// Every event of the session so far.
    async fn events(&self, session: &str) -> Vec<Event> {
        super::session_events(&self.d, &self.rest, session).await
    }
}

#[test]
fn approval_routes_are_in_the_auth_table() {
    for (m, p) in [
        ("GET", "/v1/approvals"),
        ("GET", "/v1/approvals/{id}"),
        ("POST", "/v1/approvals/{id}"),
    ] {
        assert!(
            ROUTES.iter().any(|(rm, rp, _)| *rm == m && *rp == p),
            "{m} {p} missing from ROUTES"
        );
    }
}

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
                assert!(f.usage.output_tokens > 0, "{f:?}");
                break;
            }
            _ => {}
        }
    }
    eprintln!(
        "claude via agentmuxd: send -> first delta {:?} (cold start), turn {:?}",
        first_delta.unwrap(),
        t0.elapsed()
    );
    assert_eq!(text, "Hello from the fake model.");
    let s = get_session(&e.rest, &id).await;
    assert!(
        !s["provider_session_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "the Claude session id is stored: {s}"
    );
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "Hello from the fake model.");
    assert_eq!(msgs[1]["model"], "claude-opus-4-8");

    // Second turn: the same process, warm.
    e.fake
        .push(Script::answer("Again.").when(Match::has_tools()));
    let t1 = Instant::now();
    let r = send_wait(&e.rest, &id, "Once more.").await;
    eprintln!("claude via agentmuxd: warm turn {:?}", t1.elapsed());
    assert_eq!(r["reply"]["content"], "Again.");
    let reqs: Vec<_> = e
        .fake
        .requests()
        .into_iter()
        .filter(|r| !r.tools().is_empty())
        .collect();
    let last = reqs.last().unwrap();
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
    assert_eq!(a["tool"], "Write", "{a}");
    assert_eq!(a["status"], "pending");
    assert!(a["id"].as_str().unwrap().starts_with("apr_"), "{a}");
    assert!(a["diff"].as_str().unwrap().contains("+hi"), "{a}");
    assert_eq!(
        serde_json::from_str::<Value>(a["input_json"].as_str().unwrap()).unwrap()["content"],
        "hi\n"
    );
    assert_eq!(a["options"], json!(["allow_once", "allow_always", "deny"]));
    assert!(!e.file().exists(), "nothing is written before the decision");
    assert_eq!(
        get_session(&e.rest, &id).await["busy"],
        true,
        "the turn waits for the decision"
    );

    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "allowed");
    // The same decision again is fine; a different one conflicts.
    let again = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    e.rest
        .post(&format!("/v1/approvals/{aid}"), json!({"decision": "deny"}))
        .await
        .assert_error(409, "already_exists");

    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    assert_eq!(msgs[1]["status"], "complete");
    // The answer keeps what the turn did, so history shows it after a reload.
    assert_eq!(msgs[1]["tools"][0]["name"], "Write", "{}", msgs[1]);
    assert_eq!(msgs[1]["tools"][0]["status"], "finished");
    assert_eq!(msgs[1]["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        msgs[1]["changes"][0]["path"],
        e.file().display().to_string()
    );
    assert!(
        msgs[1]["changes"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+hi")
    );

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
    let diff = events
        .iter()
        .find_map(|ev| match &ev.payload {
            EventPayload::FileChanged { path, diff } => Some((path.clone(), diff.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(diff.0, e.file().display().to_string());
    assert!(diff.1.contains("+hi"), "{}", diff.1);
    let calls: Vec<(String, String)> = events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::ToolCall(t) => Some((t.name.clone(), t.status.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("Write".to_string(), "started".to_string()),
            ("Write".to_string(), "finished".to_string())
        ]
    );
    let resolved = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(resolved["approvals"][0]["reason"], "decided");
    assert_eq!(
        e.rest
            .get_ok(&format!("/v1/approvals?session={id}&pending=true"))
            .await["approvals"],
        json!([])
    );
}

#[tokio::test]
async fn deny_writes_nothing_and_the_model_is_told() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post_with_headers(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "deny", "message": "No files today."}),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "denied");
    // A retry with the same key returns the approval even with another decision.
    let retry = e
        .rest
        .post_with_headers(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["status"], "denied");

    e.idle(&id).await;
    assert!(!e.file().exists(), "a denied write must not happen");
    let told: Vec<_> = e
        .fake
        .requests()
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert!(
        told.iter()
            .any(|t| t.is_error && t.output.contains("No files today.")),
        "the model gets the deny message as an error tool result: {told:?}"
    );
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
}

#[tokio::test]
async fn never_ask_policy_allows_and_records_it() {
    let e = start().await;
    let id = e.session("never-ask").await;
    e.script_write();
    send_wait(&e.rest, &id, "Create hello.txt containing hi.").await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(list["approvals"][0]["status"], "allowed", "{list}");
    assert_eq!(list["approvals"][0]["reason"], "policy");
}

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
async fn auto_edit_allows_edits_and_bad_policies_are_refused() {
    let e = start().await;
    e.rest
        .post(
            "/v1/sessions",
            json!({"provider": "claude", "approval_policy": "sometimes"}),
        )
        .await
        .assert_error(400, "invalid_argument");
    let id = e.session("auto-edit").await;
    e.script_write();
    let r = send_wait(&e.rest, &id, "Create hello.txt containing hi.").await;
    assert_eq!(r["reply"]["content"], "I'll create the file.Finished.");
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(list["approvals"][0]["tool"], "Write");
    assert_eq!(list["approvals"][0]["reason"], "policy", "{list}");
}

/// The pid of the `claude` the daemon started last, from its log.
fn claude_pid(d: &Daemon) -> i32 {
    d.log_tail(400)
        .lines()
        .rev()
        .find(|l| l.contains("started claude"))
        .and_then(|l| l.split("pid=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no 'started claude pid=' in the log:\n{}", d.log_tail(50)))
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
async fn a_missing_cli_is_a_clear_error() {
    let e = start_with(60, Some("/nonexistent/bin/claude")).await;
    let h = e.rest.get_ok("/v1/health").await;
    let claude = h["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "claude")
        .cloned()
        .unwrap();
    assert_eq!(claude["available"], false, "{h}");
    let id = e.session("ask").await;
    send(&e.rest, &id, "Say hello.").await;
    let s = wait_session(&e.rest, &id, 20, "the turn to fail", |s| {
        s["busy"] == false && s["message_count"] == 2
    })
    .await;
    assert_eq!(s["status"], "failed");
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("cannot start") && err.contains("/nonexistent/bin/claude"),
        "{err}"
    );
}

#[tokio::test]
async fn delete_resolves_pending_approvals_and_stops_claude_and_grpc_decides() {
    use agentmux_proto::v1 as pb;
    let e = start().await;
    let grpc = e.d.grpc().await;
    let mut approvals = pb::approval_service_client::ApprovalServiceClient::new(grpc.channel());

    // Decided over gRPC.
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let listed = approvals
        .list_approvals(pb::ListApprovalsRequest {
            session_id: id.clone(),
            pending_only: true,
        })
        .await
        .unwrap()
        .into_inner()
        .approvals;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, a["id"].as_str().unwrap());
    let decided = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: listed[0].id.clone(),
            decision: pb::Decision::AllowAlways as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.status(), pb::ApprovalStatus::Allowed);
    assert_eq!(decided.decision(), pb::Decision::AllowAlways);
    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let err = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: listed[0].id.clone(),
            // Older clients send the decision as text.
            legacy_decision: "deny".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");
    let err = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: "apr_nope".into(),
            decision: pb::Decision::Deny as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");

    // Deleted while an approval waits: it is resolved and claude is stopped. (Claude refuses to
    // overwrite a file it has not read, before asking: start from no file.)
    std::fs::remove_file(e.file()).unwrap();
    let id = e.session("ask").await;
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let pid = claude_pid(&e.d);
    let r = e.rest.delete(&format!("/v1/sessions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The approval was resolved before it went with its session.
    let aid = a["id"].as_str().unwrap();
    let evs = e.events(&id).await;
    assert!(
        evs.iter().any(|ev| matches!(&ev.payload,
            EventPayload::ApprovalResolved { approval } if approval.id == aid
                && approval.status == ApprovalStatus::Cancelled
                && approval.reason == Some(ApprovalReason::SessionDeleted))),
        "{evs:?}"
    );
    let r = e.rest.get(&format!("/v1/approvals/{aid}")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let left = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(left["approvals"], serde_json::json!([]), "{left}");
    poll_until("claude to exit", Duration::from_secs(15), || async {
        // SAFETY: signal 0 only checks whether the pid exists.
        (unsafe { libc::kill(pid, 0) } != 0).then_some(())
    })
    .await;
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

/// Issue 4 with a real provider CLI: Claude Code's own TUI in a daemon terminal, against the fake
/// model. What the program draws is what attached clients see, and a client joining later gets
/// the same screen from the snapshot.
#[tokio::test]
async fn claude_tui_in_a_terminal_draws_the_same_screen_for_every_client() {
    let e = start().await;
    let claude_dir = e.home.path().join(".claude");
    std::fs::create_dir_all(&claude_dir).unwrap();
    // Pre-seeded so the TUI skips onboarding, the API-key prompt and the trust dialog.
    let work = e.work.path().display().to_string();
    let seed = json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {"approved": [&API_KEY[API_KEY.len() - 20..]], "rejected": []},
        "projects": {work.clone(): {"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}},
    });
    for f in [
        claude_dir.join(".claude.json"),
        e.home.path().join(".claude.json"),
    ] {
        std::fs::write(f, seed.to_string()).unwrap();
    }
    e.fake
        .push(Script::answer("Hello from the fake model.").when(Match::has_tools()));
    let env: std::collections::HashMap<String, String> = [
        ("HOME", e.home.path().display().to_string()),
        ("CLAUDE_CONFIG_DIR", claude_dir.display().to_string()),
        ("ANTHROPIC_BASE_URL", e.fake.root_url()),
        ("ANTHROPIC_API_KEY", API_KEY.to_string()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let g = e.d.grpc().await;
    g.terminals()
        .create_terminal(agentmux_proto::v1::CreateTerminalRequest {
            name: "claude-tui".into(),
            command: cli_bin().join("claude").display().to_string(),
            env,
            cwd: work,
            rows: 30,
            cols: 100,
            ..Default::default()
        })
        .await
        .expect("start claude in a terminal");
    let mut a = agentmux_tests::term::Attached::attach(&g, "claude-tui", 30, 100).await;
    a.wait_for("shortcuts", Duration::from_secs(30)).await;
    a.input("Say hello.").await;
    // The TUI takes the text first, then the Enter, as a person would type them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.input("\r").await;
    let screen = a
        .wait_for("Hello from the fake model.", Duration::from_secs(60))
        .await;
    assert!(screen.contains("Say hello."), "{screen}");
    // A second client joining now gets the conversation from the snapshot (and the backlog
    // behind it), without any new input.
    let mut b = agentmux_tests::term::Attached::attach(&g, "claude-tui", 0, 0).await;
    let seen = b
        .wait_for("Hello from the fake model.", Duration::from_secs(5))
        .await;
    assert!(seen.contains("Say hello."), "{seen}");
    drop(b);
    let rest = &e.rest;
    let k = rest.post("/v1/terminals/claude-tui/kill", json!({})).await;
    assert_eq!(k.json()["status"], "exited", "{}", k.text());
}

#[tokio::test]
async fn an_unanswered_approval_expires_after_the_sessions_timeout_and_the_model_is_told() {
    let e = start().await;
    let r = e
        .rest
        .post(
            "/v1/sessions",
            json!({"provider": "claude", "cwd": e.work.path().display().to_string(),
                   "approval_policy": "ask", "approval_timeout_secs": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["approval_timeout_secs"], 2);
    let id = id_of(&r.json());
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    let resolved = poll_until(
        "the approval to expire",
        Duration::from_secs(30),
        || async {
            let a = e.rest.get_ok(&format!("/v1/approvals/{aid}")).await;
            (a["status"] != "pending").then_some(a)
        },
    )
    .await;
    assert_eq!(resolved["status"], "expired", "{resolved}");
    assert_eq!(resolved["reason"], "timed_out");
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    e.idle(&id).await;
    assert!(!e.file().exists(), "an expired approval must not write");
    let told: Vec<_> = e
        .fake
        .requests()
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert!(
        told.iter()
            .any(|t| t.is_error && t.output.contains("Nobody answered")),
        "the model hears the approval expired: {told:?}"
    );
    // Deciding it now is a conflict, and the event log says how it ended.
    let late = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    late.assert_error(409, "already_exists");
    let evs = e.events(&id).await;
    assert!(evs.iter().any(|ev| matches!(&ev.payload,
        EventPayload::ApprovalResolved { approval } if approval.id == aid && approval.reason == Some(ApprovalReason::TimedOut))));
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
