//! Claude Code through the daemon, end to end: the real `claude` CLI (pinned, installed by
//! `tests/cli/install.sh`) driven over stream-json, its model API played by the fake server.
//! Here: plain answers, a missing CLI, and Claude's own TUI in a daemon terminal; `approvals`
//! (allow, deny, idempotent decisions, policies, expiry, gRPC) and `recovery` (cancel, a dying or
//! hung CLI, `kill -9` and SIGTERM with resume, reset) hold the rest; `harness` the set-up.

mod approvals;
mod harness;
mod recovery;
mod worktrees;

use super::{cli_bin, get_session, messages, send, send_wait, wait_session};
use agentmux_shared::types::EventPayload;
use agentmux_tests::client::Item;
use agentmux_tests::fake::{Match, Script, Step};
use harness::{API_KEY, start, start_with};
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
