//! End-to-end suites, one module per area, plus the helpers they share.

mod acp;
mod acp_gateway;
mod architecture;
mod auth;
mod bad_input;
mod chat;
mod claude;
mod cli;
mod codex;
mod datadir;
mod durability;
mod events;
mod files;
mod hardening;
mod lifecycle;
mod openapi;
mod providers;
mod review;
mod roots;
mod startup;
mod storage;
mod system;
mod terminals;
mod workflows;
mod workspace_crash;
mod workspaces;

use agentmux_shared::types::Event;
use agentmux_tests::client::{Item, Rest};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake_openai::FakeOpenAi;
use agentmux_tests::poll_until;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The bin dir holding the pinned coding-agent CLIs (`claude`, `codex`, `gemini`, `qwen`, `opencode`): `AGENTMUX_CLI_BIN`, else what `tests/cli/install.sh`
/// prints (it reuses its cache in ~/.cache/agentmux/clis, installing only when missing).
pub fn cli_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        installed(
            "AGENTMUX_CLI_BIN",
            "install.sh",
            "claude",
            "the CLI e2e tests need the pinned CLIs (npm and a reachable registry)",
        )
    })
    .clone()
}

/// A bin dir holding `exe`: `$env` when set, else the last line `tests/cli/<script>` prints (the
/// scripts install into a cache outside the repository on first use and reuse it after).
pub fn installed(env: &str, script: &str, exe: &str, needs: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(env) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join(exe).is_file(),
            "{env}={} has no {exe} in it; run tests/cli/{script}",
            dir.display()
        );
        return dir;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cli")
        .join(script);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}): {needs}, or set {env} to a bin dir with {exe}",
        script.display(),
        out.status
    );
    let dir = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim(),
    );
    assert!(
        dir.join(exe).is_file(),
        "{} printed {} but there is no {exe} in it",
        script.display(),
        dir.display()
    );
    dir
}

/// Every event of `session` so far, read back over SSE.
pub async fn session_events(d: &Daemon, rest: &Rest, session: &str) -> Vec<Event> {
    let head = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?session={session}&after=0"), None)
        .await;
    let mut out = Vec::new();
    while let Some(item) = sse.next_item().await {
        match item {
            Item::Event(e) => {
                let seq = e.seq;
                out.push(e);
                if seq >= head {
                    break;
                }
            }
            Item::Heartbeat => break,
            Item::Lagged(_) => panic!("lagged while reading back events"),
        }
    }
    out
}

/// The session's oldest pending approval, once there is one (within `secs`).
pub async fn pending_approval(rest: &Rest, session: &str, secs: u64) -> Value {
    poll_until("an approval request", Duration::from_secs(secs), || async {
        let v = rest
            .get_ok(&format!("/v1/approvals?session={session}&pending=true"))
            .await;
        v["approvals"].as_array().and_then(|a| a.first().cloned())
    })
    .await
}

/// Every REST route the suites exercise, as `(method, OpenAPI path, concrete path)`.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/v1/health", "/v1/health"),
    ("GET", "/v1/info", "/v1/info"),
    ("GET", "/v1/sessions", "/v1/sessions"),
    ("POST", "/v1/sessions", "/v1/sessions"),
    ("GET", "/v1/sessions/{id}", "/v1/sessions/ses_x"),
    ("PATCH", "/v1/sessions/{id}", "/v1/sessions/ses_x"),
    ("DELETE", "/v1/sessions/{id}", "/v1/sessions/ses_x"),
    ("POST", "/v1/sessions/{id}/fork", "/v1/sessions/ses_x/fork"),
    (
        "POST",
        "/v1/sessions/{id}/reset",
        "/v1/sessions/ses_x/reset",
    ),
    (
        "POST",
        "/v1/sessions/{id}/cancel",
        "/v1/sessions/ses_x/cancel",
    ),
    (
        "POST",
        "/v1/sessions/{id}/resume",
        "/v1/sessions/ses_x/resume",
    ),
    (
        "GET",
        "/v1/sessions/{id}/messages",
        "/v1/sessions/ses_x/messages",
    ),
    (
        "POST",
        "/v1/sessions/{id}/messages",
        "/v1/sessions/ses_x/messages",
    ),
    ("GET", "/v1/events", "/v1/events"),
    ("GET", "/v1/ws", "/v1/ws"),
    ("GET", "/v1/approvals", "/v1/approvals"),
    ("GET", "/v1/approvals/{id}", "/v1/approvals/apr_x"),
    ("POST", "/v1/approvals/{id}", "/v1/approvals/apr_x"),
    (
        "GET",
        "/v1/sessions/{id}/git/status",
        "/v1/sessions/ses_x/git/status",
    ),
    (
        "GET",
        "/v1/sessions/{id}/git/diff",
        "/v1/sessions/ses_x/git/diff",
    ),
    (
        "GET",
        "/v1/sessions/{id}/git/log",
        "/v1/sessions/ses_x/git/log",
    ),
    (
        "GET",
        "/v1/sessions/{id}/git/branches",
        "/v1/sessions/ses_x/git/branches",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/commit",
        "/v1/sessions/ses_x/git/commit",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/stage",
        "/v1/sessions/ses_x/git/stage",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/unstage",
        "/v1/sessions/ses_x/git/unstage",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/discard",
        "/v1/sessions/ses_x/git/discard",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/merge",
        "/v1/sessions/ses_x/git/merge",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/push",
        "/v1/sessions/ses_x/git/push",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/pull",
        "/v1/sessions/ses_x/git/pull",
    ),
    (
        "POST",
        "/v1/sessions/{id}/git/checkout",
        "/v1/sessions/ses_x/git/checkout",
    ),
    ("GET", "/v1/workspaces", "/v1/workspaces"),
    ("GET", "/v1/workflows", "/v1/workflows"),
    (
        "GET",
        "/v1/workflows/{name}",
        "/v1/workflows/implement-review",
    ),
    ("POST", "/v1/workflows/preview", "/v1/workflows/preview"),
    ("GET", "/v1/sessions/{id}/files", "/v1/sessions/ses_x/files"),
    (
        "DELETE",
        "/v1/sessions/{id}/files",
        "/v1/sessions/ses_x/files?path=a",
    ),
    (
        "GET",
        "/v1/sessions/{id}/files/content",
        "/v1/sessions/ses_x/files/content?path=a",
    ),
    (
        "PUT",
        "/v1/sessions/{id}/files/content",
        "/v1/sessions/ses_x/files/content?path=a",
    ),
    (
        "POST",
        "/v1/sessions/{id}/files/upload",
        "/v1/sessions/ses_x/files/upload",
    ),
    (
        "POST",
        "/v1/sessions/{id}/files/rename",
        "/v1/sessions/ses_x/files/rename",
    ),
    ("POST", "/v1/workspaces/gc", "/v1/workspaces/gc"),
    (
        "DELETE",
        "/v1/sessions/{id}/rules/{tool}",
        "/v1/sessions/ses_x/rules/Write",
    ),
    ("GET", "/v1/providers", "/v1/providers"),
    ("GET", "/v1/providers/{id}", "/v1/providers/claude"),
    (
        "POST",
        "/v1/providers/{id}/install",
        "/v1/providers/claude/install",
    ),
    ("GET", "/v1/providers/jobs", "/v1/providers/jobs"),
    ("GET", "/v1/providers/jobs/{id}", "/v1/providers/jobs/job_x"),
    ("GET", "/v1/openapi.json", "/v1/openapi.json"),
    ("GET", "/v1/keys", "/v1/keys"),
    ("POST", "/v1/keys", "/v1/keys"),
    ("DELETE", "/v1/keys/{id}", "/v1/keys/key_x"),
];

/// A fake model server and a daemon pointed at it.
pub async fn start(opts: impl FnOnce(DaemonOptions) -> DaemonOptions) -> (FakeOpenAi, Daemon) {
    let fake = FakeOpenAi::start().await;
    let d = Daemon::start(opts(DaemonOptions::fake(fake.base_url()))).await;
    (fake, d)
}

/// `POST /v1/sessions` that must answer 201; returns the session.
pub async fn create_session(rest: &Rest, title: &str) -> Value {
    let r = rest.post("/v1/sessions", json!({ "title": title })).await;
    assert_eq!(r.status, 201, "POST /v1/sessions: {}", r.text());
    r.json()
}

pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// `POST /v1/sessions/{id}/messages` without waiting; must answer 202.
pub async fn send(rest: &Rest, session: &str, content: &str) -> Value {
    let r = rest
        .post(
            &format!("/v1/sessions/{session}/messages"),
            json!({ "content": content }),
        )
        .await;
    assert_eq!(r.status, 202, "POST messages: {}", r.text());
    r.json()
}

/// `POST /v1/sessions/{id}/messages?wait=true`; must answer 200 with a reply.
pub async fn send_wait(rest: &Rest, session: &str, content: &str) -> Value {
    let r = rest
        .post(
            &format!("/v1/sessions/{session}/messages?wait=true"),
            json!({ "content": content }),
        )
        .await;
    assert_eq!(r.status, 200, "POST messages?wait=true: {}", r.text());
    let v = r.json();
    assert!(
        v["reply"].is_object(),
        "wait=true must return the reply: {v}"
    );
    v
}

pub async fn get_session(rest: &Rest, id: &str) -> Value {
    rest.get_ok(&format!("/v1/sessions/{id}")).await
}

/// Every session (follows paging).
pub async fn all_sessions(rest: &Rest) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = rest
            .get_ok(&format!("/v1/sessions?page_size=500&page_token={token}"))
            .await;
        out.extend(page["sessions"].as_array().cloned().unwrap_or_default());
        token = page["next_page_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if token.is_empty() {
            return out;
        }
    }
}

/// All messages of a session (follows paging).
pub async fn messages(rest: &Rest, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = rest
            .get_ok(&format!(
                "/v1/sessions/{id}/messages?page_size=100&after_index={after}"
            ))
            .await;
        out.extend(page["messages"].as_array().cloned().unwrap_or_default());
        if page["more"].as_bool() != Some(true) {
            return out;
        }
        after = page["next_index"].as_u64().expect("next_index");
    }
}

/// Polls the session until `pred` holds (at most `secs` seconds); returns it.
pub async fn wait_session(
    rest: &Rest,
    id: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut last = Value::Null;
    loop {
        let s = rest.get(&format!("/v1/sessions/{id}")).await;
        if s.status == 200 {
            last = s.json();
            if pred(&last) {
                return last;
            }
        }
        if tokio::time::Instant::now() > deadline {
            panic!("session {id}: timed out after {secs}s waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `GET /v1/health` answers 200 with status ok.
pub async fn assert_healthy(rest: &Rest) {
    let h = rest.get_ok("/v1/health").await;
    assert_eq!(h["status"], "ok", "health: {h}");
}

/// Non-system `(role, content)` pairs of the history a model request carried.
pub fn chat_history(req: &agentmux_tests::fake_openai::Recorded) -> Vec<(String, String)> {
    req.history()
        .into_iter()
        .filter(|(role, _)| role != "system")
        .collect()
}

pub fn pair(role: &str, content: &str) -> (String, String) {
    (role.to_string(), content.to_string())
}
