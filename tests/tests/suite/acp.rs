//! ACP agents through the daemon, end to end: the real pinned `gemini`, `qwen` and `opencode`
//! CLIs (installed by `tests/cli/install.sh`) over the Agent Client Protocol, their model APIs
//! played by the fake server. One body per behaviour, run for each CLI: plain answers,
//! approvals (allow, deny), cancel, resume after `kill -9`; plus death, hang and a missing
//! binary once.

use super::{cli_bin, get_session, id_of, messages, send, wait_session};
use agentmux_shared::types::{Event, EventPayload};
use agentmux_tests::client::{Item, Rest};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake::{FakeModel, Match, Script, Step};
use agentmux_tests::poll_until;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const API_KEY: &str = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz";

/// How long a turn may take on a loaded 2-core box (OpenCode alone needs 3–4 s to start).
const TURN_SECS: u64 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    Gemini,
    Qwen,
    OpenCode,
}

impl Cli {
    fn id(self) -> &'static str {
        match self {
            Cli::Gemini => "gemini",
            Cli::Qwen => "qwen",
            Cli::OpenCode => "opencode",
        }
    }

    /// The model's call of this CLI's file-writing tool.
    fn write_step(self, path: &Path) -> Step {
        let path = path.display().to_string();
        match self {
            Cli::Gemini | Cli::Qwen => {
                Step::tool("write_file", json!({"file_path": path, "content": "hi\n"}))
            }
            Cli::OpenCode => Step::tool("write", json!({"filePath": path, "content": "hi\n"})),
        }
    }

    /// Writes the CLI's settings into `home`; returns `(model, env)` for its config section.
    fn setup(self, home: &Path, fake: &FakeModel) -> (String, Vec<(String, String)>) {
        let h = |p: &str| home.join(p).display().to_string();
        let mut env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("XDG_CONFIG_HOME".to_string(), h(".config")),
            ("XDG_DATA_HOME".to_string(), h(".local/share")),
            ("XDG_CACHE_HOME".to_string(), h(".cache")),
            ("XDG_STATE_HOME".to_string(), h(".local/state")),
            ("NO_COLOR".to_string(), "1".to_string()),
        ];
        let settings = |dir: &str, auth: &str| {
            let d = home.join(dir);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("settings.json"),
                json!({
                    "security": {"auth": {"selectedType": auth}},
                    "general": {"disableAutoUpdate": true, "disableUpdateNag": true},
                    "privacy": {"usageStatisticsEnabled": false},
                    "telemetry": {"enabled": false},
                })
                .to_string(),
            )
            .unwrap();
        };
        let mut add = |k: &str, v: String| env.push((k.to_string(), v));
        let model = match self {
            Cli::Gemini => {
                settings(".gemini", "gemini-api-key");
                add("GEMINI_API_KEY", API_KEY.into());
                add("GOOGLE_GEMINI_BASE_URL", fake.root_url());
                add("GEMINI_CLI_TRUST_WORKSPACE", "true".into());
                "gemini-2.5-flash"
            }
            Cli::Qwen => {
                settings(".qwen", "openai");
                add("OPENAI_API_KEY", API_KEY.into());
                add("OPENAI_BASE_URL", fake.base_url());
                add("OPENAI_MODEL", "fake-model".into());
                "fake-model"
            }
            Cli::OpenCode => {
                let d = home.join(".config/opencode");
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(
                    d.join("opencode.json"),
                    json!({
                        "$schema": "https://opencode.ai/config.json",
                        "autoupdate": false,
                        "share": "disabled",
                        "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
                            "options": {"baseURL": fake.base_url(), "apiKey": API_KEY},
                            "models": {"m": {"name": "m", "tool_call": true}}}},
                        "model": "fake/m",
                        "small_model": "fake/m",
                        "permission": {"edit": "ask", "bash": "ask"},
                    })
                    .to_string(),
                )
                .unwrap();
                for k in [
                    "OPENCODE_DISABLE_AUTOUPDATE",
                    "OPENCODE_DISABLE_MODELS_FETCH",
                    "OPENCODE_DISABLE_DEFAULT_PLUGINS",
                    "OPENCODE_DISABLE_LSP_DOWNLOAD",
                    "OPENCODE_DISABLE_SHARE",
                ] {
                    add(k, "1".into());
                }
                // It would npm-install plugins at start: point npm at a dead port.
                add("npm_config_registry", "http://127.0.0.1:9/".into());
                ""
            }
        };
        (model.to_string(), env)
    }
}

struct Env {
    cli: Cli,
    fake: FakeModel,
    d: Daemon,
    rest: Rest,
    work: tempfile::TempDir,
    _home: tempfile::TempDir,
}

async fn start(cli: Cli) -> Env {
    start_with(cli, 120, None).await
}

/// A daemon with the CLI's section (`idle_timeout_secs`, and `command` when given).
async fn start_with(cli: Cli, idle_timeout_secs: u64, command: Option<&str>) -> Env {
    let fake = FakeModel::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (model, env) = cli.setup(home.path(), &fake);
    let command = command
        .map(str::to_string)
        .unwrap_or_else(|| cli_bin().join(cli.id()).display().to_string());
    let env = env
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let d = Daemon::start(
        DaemonOptions::fake(fake.base_url())
            .toml(&format!("[providers.{}]", cli.id()))
            .toml(&format!("command = {command:?}"))
            .toml(&format!("model = {model:?}"))
            .toml(&format!("env = {{ {env} }}"))
            .toml(&format!("idle_timeout_secs = {idle_timeout_secs}")),
    )
    .await;
    let rest = d.rest();
    Env {
        cli,
        fake,
        d,
        rest,
        work,
        _home: home,
    }
}

impl Env {
    async fn session(&self) -> String {
        let r = self
            .rest
            .post(
                "/v1/sessions",
                json!({"title": self.cli.id(), "provider": self.cli.id(),
                       "cwd": self.work.path().display().to_string(), "approval_policy": "ask"}),
            )
            .await;
        assert_eq!(
            r.status,
            201,
            "create a {} session: {}",
            self.cli.id(),
            r.text()
        );
        let s = r.json();
        assert_eq!(s["provider"], self.cli.id());
        id_of(&s)
    }

    fn file(&self) -> PathBuf {
        self.work.path().join("hello.txt")
    }

    /// The model writes hello.txt after some text, then says "Finished." once it heard back.
    fn script_write(&self) {
        self.fake.push(
            Script::new(vec![
                Step::text("I'll create the file."),
                self.cli.write_step(&self.file()),
            ])
            .when(Match::has_tools()),
        );
        self.fake
            .push(Script::answer("Finished.").when(Match::has_tools()));
    }

    async fn pending_approval(&self, session: &str) -> Value {
        super::pending_approval(&self.rest, session, TURN_SECS).await
    }

    /// Waits until the session is idle with `count` messages; returns it.
    async fn settled(&self, session: &str, count: usize) -> Value {
        wait_session(&self.rest, session, TURN_SECS, "the turn to end", |s| {
            s["busy"] == false && s["message_count"] == count
        })
        .await
    }

    /// Sends and waits for the answer; returns the assistant message.
    async fn ask(&self, session: &str, text: &str) -> Value {
        let before = messages(&self.rest, session).await.len();
        send(&self.rest, session, text).await;
        self.settled(session, before + 2).await;
        let msgs = messages(&self.rest, session).await;
        msgs[before + 1].clone()
    }

    /// Every event of the session so far.
    async fn events(&self, session: &str) -> Vec<Event> {
        super::session_events(&self.d, &self.rest, session).await
    }

    /// Requests of the agent's main turns (side requests offer no tools).
    fn main_requests(&self) -> Vec<agentmux_tests::fake::Recorded> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| !r.tools().is_empty())
            .collect()
    }
}

/// Sends and times the first `message.delta` at an SSE subscriber and the turn's end.
async fn timed_turn(e: &Env, id: &str, prompt: &str) -> (Duration, String, Value) {
    let mut sse = e
        .rest
        .sse(
            &format!("/v1/events?session={id}&after={}", e.d.last_seq().await),
            None,
        )
        .await;
    let t0 = Instant::now();
    send(&e.rest, id, prompt).await;
    let mut first = None;
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(TURN_SECS);
    loop {
        assert!(
            Instant::now() < deadline,
            "no turn.finished; text so far {text:?}"
        );
        let Some(Item::Event(ev)) = sse.next_item().await else {
            continue;
        };
        match ev.payload {
            EventPayload::MessageDelta { text: t, .. } => {
                first.get_or_insert_with(|| t0.elapsed());
                text.push_str(&t);
            }
            EventPayload::TurnFinished(f) => {
                let f = serde_json::to_value(&f).unwrap();
                return (first.expect("a delta before the end"), text, f);
            }
            _ => {}
        }
    }
}

async fn plain(cli: Cli) {
    let e = start(cli).await;
    let id = e.session().await;
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
    let (cold, text, f) = timed_turn(&e, &id, "Say hello.").await;
    assert_eq!(text, "Hello from the fake model.");
    assert_eq!(f["status"], "complete", "{f}");
    assert_eq!(f["stop_reason"], "end_turn", "{f}");
    assert!(
        f["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "usage is reported: {f}"
    );
    let s = get_session(&e.rest, &id).await;
    let acp_id = s["provider_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!acp_id.is_empty(), "the ACP session id is stored: {s}");

    // A second turn: the same process and ACP session, warm.
    e.fake
        .push(Script::answer("Again.").when(Match::has_tools()));
    let (warm, text, _) = timed_turn(&e, &id, "Once more.").await;
    assert_eq!(text, "Again.");
    eprintln!(
        "{} via agentmuxd: send -> first delta cold {cold:?}, warm {warm:?}",
        cli.id()
    );
    let last = e.main_requests().pop().unwrap();
    assert!(
        last.history()
            .iter()
            .any(|(role, t)| role == "user" && t.contains("Say hello.")),
        "the second request carries the first turn: {:?}",
        last.history()
    );
    assert_eq!(
        get_session(&e.rest, &id).await["provider_session_id"],
        acp_id.as_str()
    );
    let log = e.d.log_tail(400);
    assert_eq!(
        log.matches("started acp agent").count(),
        1,
        "one agent process for both turns:\n{log}"
    );
}

async fn write_allow(cli: Cli) {
    let e = start(cli).await;
    let id = e.session().await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    assert!(!a["tool"].as_str().unwrap().is_empty(), "{a}");
    assert!(a["diff"].as_str().unwrap().contains("+hi"), "{a}");
    let options: Vec<&str> = a["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        options.contains(&"allow_once") && options.contains(&"reject_once"),
        "{a}"
    );
    assert!(!e.file().exists(), "nothing is written before the decision");
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{}", a["id"].as_str().unwrap()),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = e.settled(&id, 2).await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");

    let events = e.events(&id).await;
    let changed: Vec<(String, String)> = events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::FileChanged { path, diff } => Some((path.clone(), diff.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1, "one file.changed: {changed:?}");
    assert_eq!(changed[0].0, e.file().display().to_string());
    assert!(changed[0].1.contains("+hi"), "{}", changed[0].1);
    let names: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("approval.resolved") < pos("file.changed"), "{names:?}");
    let statuses: Vec<String> = events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::ToolCall(t) => Some(t.status.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.first().map(String::as_str), Some("started"));
    assert_eq!(statuses.last().map(String::as_str), Some("finished"));
}

async fn deny(cli: Cli) {
    let e = start(cli).await;
    let id = e.session().await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{}", a["id"].as_str().unwrap()),
            json!({"decision": "deny", "message": "No files today."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    e.settled(&id, 2).await;
    assert!(!e.file().exists(), "a denied write must not happen");
    let events = e.events(&id).await;
    let last_call = events
        .iter()
        .rev()
        .find_map(|ev| match &ev.payload {
            EventPayload::ToolCall(t) => Some(t.clone()),
            _ => None,
        })
        .expect("a tool.call event");
    assert_eq!(last_call.status, "denied", "{last_call:?}");
    assert!(
        !events
            .iter()
            .any(|ev| matches!(ev.payload, EventPayload::FileChanged { .. }))
    );
    let msgs = messages(&e.rest, &id).await;
    if cli == Cli::OpenCode {
        // OpenCode ends the turn at a rejection without telling the model.
        assert_eq!(msgs[1]["content"], "I'll create the file.");
    } else {
        let told: Vec<_> = e
            .main_requests()
            .iter()
            .flat_map(|r| r.tool_results())
            .collect();
        assert!(
            told.iter()
                .any(|t| t.output.contains("canceled by the user")),
            "the model is told the write was refused: {told:?}"
        );
        assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    }
}

async fn cancel(cli: Cli) {
    let e = start(cli).await;
    let id = e.session().await;
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    poll_until(
        "the first delta",
        Duration::from_secs(TURN_SECS),
        || async {
            let evs = e.events(&id).await;
            evs.iter()
                .any(|ev| matches!(&ev.payload, EventPayload::MessageDelta { text, .. } if text == "Working"))
                .then_some(())
        },
    )
    .await;
    let t0 = Instant::now();
    let r = e
        .rest
        .post(&format!("/v1/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = wait_session(&e.rest, &id, 15, "cancel to free the session", |s| {
        s["busy"] == false
    })
    .await;
    eprintln!("{} cancel: session free after {:?}", cli.id(), t0.elapsed());
    assert_eq!(s["status"], "idle", "{s}");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["status"], "cancelled");
    assert_eq!(msgs[1]["content"], "Working");

    // The session takes the next message, on the same agent process.
    e.fake
        .push(Script::answer("Still here.").when(Match::has_tools()));
    let m = e.ask(&id, "Are you there?").await;
    assert_eq!(m["content"], "Still here.", "{m}");
    let log = e.d.log_tail(400);
    assert!(log.contains("cancelled the prompt"), "{log}");
    assert_eq!(log.matches("started acp agent").count(), 1, "{log}");
}

async fn kill9_resume(cli: Cli) {
    let mut e = start(cli).await;
    let id = e.session().await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    let m = e.ask(&id, "Remember the word apple.").await;
    assert_eq!(m["content"], "First answer.");
    let first_id = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!first_id.is_empty());

    e.d.kill9().await;
    e.d.restart().await;
    e.rest = e.d.rest();
    e.fake
        .push(Script::answer("Second answer.").when(Match::body_contains(
            "Which word did I ask you to remember?",
        )));
    let m = e.ask(&id, "Which word did I ask you to remember?").await;
    assert_eq!(m["content"], "Second answer.", "{m}");
    let req = e
        .main_requests()
        .into_iter()
        .rev()
        .find(|r| r.body.to_string().contains("Which word did I ask"))
        .expect("the resumed turn reached the model");
    assert!(
        req.body.to_string().contains("Remember the word apple."),
        "the resumed request carries the first turn: {:?}",
        req.history()
    );
    let now_id = get_session(&e.rest, &id).await["provider_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let warned = e.events(&id).await.into_iter().any(|ev| {
        matches!(&ev.payload, EventPayload::Warning { message }
            if message.contains("could not reload its conversation") && message.contains(&first_id))
    });
    if cli == Cli::Gemini {
        // Gemini 0.61 mostly cannot load a session in a new process (it fails, or comes back
        // empty): then the agent is told the transcript and a warning says so. Where the load
        // did bring the conversation back (seen on a loaded machine), it is the same session.
        assert!(
            warned || now_id == first_id,
            "a warning says the transcript was replayed, or the session itself came back"
        );
        eprintln!(
            "gemini resume: {}",
            if now_id == first_id {
                "loaded empty"
            } else {
                "new session"
            }
        );
    } else {
        assert!(!warned, "loaded without a fallback");
        assert_eq!(now_id, first_id, "the same ACP session continues");
    }
    // Loaded history is not new text: the reply is only the new answer.
    assert_eq!(m["content"], "Second answer.");
}

#[tokio::test]
async fn gemini_plain_prompt_streams_an_answer() {
    plain(Cli::Gemini).await
}
#[tokio::test]
async fn qwen_plain_prompt_streams_an_answer() {
    plain(Cli::Qwen).await
}
#[tokio::test]
async fn opencode_plain_prompt_streams_an_answer() {
    plain(Cli::OpenCode).await
}
#[tokio::test]
async fn gemini_write_asks_then_allow_writes_the_file_with_a_diff() {
    write_allow(Cli::Gemini).await
}
#[tokio::test]
async fn qwen_write_asks_then_allow_writes_the_file_with_a_diff() {
    write_allow(Cli::Qwen).await
}
#[tokio::test]
async fn opencode_write_asks_then_allow_writes_the_file_with_a_diff() {
    write_allow(Cli::OpenCode).await
}
#[tokio::test]
async fn gemini_deny_writes_nothing_and_the_model_is_told() {
    deny(Cli::Gemini).await
}
#[tokio::test]
async fn qwen_deny_writes_nothing_and_the_model_is_told() {
    deny(Cli::Qwen).await
}
#[tokio::test]
async fn opencode_deny_writes_nothing_and_the_tool_call_is_denied() {
    deny(Cli::OpenCode).await
}
#[tokio::test]
async fn gemini_cancel_mid_turn_frees_the_session() {
    cancel(Cli::Gemini).await
}
#[tokio::test]
async fn qwen_cancel_mid_turn_frees_the_session() {
    cancel(Cli::Qwen).await
}
#[tokio::test]
async fn opencode_cancel_mid_turn_frees_the_session() {
    cancel(Cli::OpenCode).await
}
#[tokio::test]
async fn gemini_kill9_then_restart_continues_through_a_replayed_transcript() {
    kill9_resume(Cli::Gemini).await
}
#[tokio::test]
async fn qwen_kill9_then_restart_loads_the_same_session() {
    kill9_resume(Cli::Qwen).await
}
#[tokio::test]
async fn opencode_kill9_then_restart_loads_the_same_session() {
    kill9_resume(Cli::OpenCode).await
}

/// The pid of the agent the daemon started last, from its log.
fn agent_pid(d: &Daemon) -> i32 {
    d.log_tail(400)
        .lines()
        .rev()
        .find(|l| l.contains("started acp agent"))
        .and_then(|l| l.split("pid=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no 'started acp agent pid=' in the log:\n{}",
                d.log_tail(50)
            )
        })
}

#[tokio::test]
async fn an_agent_that_dies_or_hangs_fails_the_turn_and_the_next_one_loads() {
    let e = start_with(Cli::Qwen, 15, None).await;
    let id = e.session().await;
    e.fake
        .push(Script::answer("First answer.").when(Match::has_tools()));
    let m = e.ask(&id, "Remember the word apple.").await;
    assert_eq!(m["content"], "First answer.", "{m}");

    // Killed mid-turn: the turn fails with why; the session stays usable.
    e.fake
        .push(Script::new(vec![Step::text("Working"), Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello.").await;
    poll_until(
        "the first delta",
        Duration::from_secs(TURN_SECS),
        || async {
            e.events(&id)
                .await
                .iter()
                .any(|ev| matches!(&ev.payload, EventPayload::MessageDelta { text, .. } if text == "Working"))
                .then_some(())
        },
    )
    .await;
    let pid = agent_pid(&e.d);
    // SAFETY: kill(2) on the agent this test's daemon started (pid from its log).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let s = e.settled(&id, 4).await;
    assert_eq!(s["status"], "failed", "{s}");
    let err = s["last_error"].as_str().unwrap();
    assert!(err.contains("qwen exited during the turn"), "{err}");
    assert_eq!(messages(&e.rest, &id).await[3]["content"], "Working");

    // Hung (nothing for idle_timeout_secs): the turn fails and the agent is stopped.
    e.fake
        .push(Script::new(vec![Step::Hang]).when(Match::has_tools()));
    send(&e.rest, &id, "Say hello again.").await;
    let t0 = Instant::now();
    let s = e.settled(&id, 6).await;
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("sent nothing for 15 s"),
        "{s}"
    );
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());

    // The next turn starts the agent again and loads the conversation.
    e.fake
        .push(Script::answer("Apple.").when(Match::body_contains("Which word")));
    let m = e.ask(&id, "Which word?").await;
    assert_eq!(m["content"], "Apple.");
    let req = e
        .main_requests()
        .into_iter()
        .rev()
        .find(|r| r.last_user_text().contains("Which word"))
        .unwrap();
    assert!(
        req.body.to_string().contains("Remember the word apple."),
        "{:?}",
        req.history()
    );
}

#[tokio::test]
async fn a_configured_acp_agent_runs_and_a_missing_one_is_a_clear_error() {
    let fake = FakeModel::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (_, env) = Cli::Qwen.setup(home.path(), &fake);
    let env = env
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let qwen = cli_bin().join("qwen").display().to_string();
    let d = Daemon::start(
        DaemonOptions::fake(fake.base_url())
            .toml("[providers.acp.myqwen]")
            .toml(&format!("command = {qwen:?}"))
            .toml(r#"args = ["--acp", "--auth-type", "openai"]"#)
            .toml(&format!("env = {{ {env} }}"))
            .toml("[providers.acp.ghost]")
            .toml(r#"command = "/nonexistent/bin/ghost-agent""#),
    )
    .await;
    let rest = d.rest();
    let h = rest.get_ok("/v1/health").await;
    let find = |id: &str| {
        h["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {h}"))
    };
    assert_eq!(find("myqwen")["available"], true, "{h}");
    assert_eq!(find("ghost")["available"], false, "{h}");
    let create = |provider: &str| {
        let r = rest.post(
            "/v1/sessions",
            json!({"provider": provider, "cwd": work.path().display().to_string()}),
        );
        async move {
            let r = r.await;
            assert_eq!(r.status, 201, "{}", r.text());
            id_of(&r.json())
        }
    };
    let id = create("myqwen").await;
    fake.push(Script::answer("Configured.").when(Match::has_tools()));
    send(&rest, &id, "Say hello.").await;
    let s = wait_session(&rest, &id, TURN_SECS, "the turn", |s| {
        s["busy"] == false && s["message_count"] == 2
    })
    .await;
    assert_eq!(s["status"], "idle", "{s}");
    assert_eq!(messages(&rest, &id).await[1]["content"], "Configured.");

    let id = create("ghost").await;
    send(&rest, &id, "Say hello.").await;
    let s = wait_session(&rest, &id, 30, "the turn to fail", |s| {
        s["busy"] == false && s["message_count"] == 2
    })
    .await;
    assert_eq!(s["status"], "failed");
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("cannot start") && err.contains("/nonexistent/bin/ghost-agent"),
        "{err}"
    );
}
