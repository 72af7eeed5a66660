//! The Codex suite's set-up: an isolated HOME/CODEX_HOME per test pointed at the fake
//! Responses server, a daemon configured with `[providers.codex]`, and helpers to read it back.

use super::super::{cli_bin, id_of, wait_session};
use agentmux_shared::types::{Event, EventPayload};
use agentmux_tests::client::Rest;
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake::{FakeModel, Match, Script, Step};
use agentmux_tests::poll_until;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const API_KEY: &str = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz";
pub(super) const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";

/// A per-test directory holding HOME (with CODEX_HOME) and the work dir. Not under /tmp: Codex
/// refuses a CODEX_HOME in a temp dir. Removed on drop.
pub(super) struct TestHome(PathBuf);

impl TestHome {
    pub(super) fn new() -> TestHome {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let base = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".cache/agentmux/test-homes");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = base.join(format!(
            "codex-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(dir.join("home/.codex")).unwrap();
        std::fs::create_dir_all(dir.join("work")).unwrap();
        TestHome(dir)
    }

    pub(super) fn home(&self) -> PathBuf {
        self.0.join("home")
    }

    pub(super) fn codex_home(&self) -> PathBuf {
        self.0.join("home/.codex")
    }

    pub(super) fn work(&self) -> PathBuf {
        self.0.join("work")
    }

    /// The config.toml of tests/fixtures/cli/README.md, pointed at the fake server.
    pub(super) fn write_config(&self, base_url: &str) {
        let config = format!(
            r#"model = "gpt-5.5"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake"
base_url = "{base_url}"
env_key = "FAKE_API_KEY"
wire_api = "responses"

[features]
plugins = false
remote_plugin = false
apps = false
daemon_auto_start = false

[analytics]
enabled = false

[feedback]
enabled = false
"#
        );
        std::fs::write(self.codex_home().join("config.toml"), config).unwrap();
    }

    /// The environment a `codex` needs to run against the fake server.
    pub(super) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home().display().to_string()),
            ("CODEX_HOME".into(), self.codex_home().display().to_string()),
            ("FAKE_API_KEY".into(), API_KEY.into()),
        ]
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) struct Env {
    pub fake: FakeModel,
    pub d: Daemon,
    pub rest: Rest,
    pub dirs: TestHome,
}

impl Drop for Env {
    /// A codex outlives a killed daemon for a moment and would write into the home after it is
    /// removed: stop this test's codex processes (found by their HOME) before the fields drop.
    fn drop(&mut self) {
        let marker = self.dirs.0.display().to_string();
        let ours: Vec<i32> = codex_pids(&self.d)
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&marker))
            })
            .collect();
        for pid in &ours {
            // SAFETY: kill(2) on the process group of a codex this test's daemon started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while ours.iter().any(|p| alive(*p)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub(super) async fn start() -> Env {
    start_with(60, None).await
}

/// A daemon whose `[providers.codex]` has this idle timeout and, if given, this command.
pub(super) async fn start_with(idle_timeout_secs: u64, command: Option<&str>) -> Env {
    let command = match command {
        Some(c) => c.to_string(),
        None => cli_bin().join("codex").display().to_string(),
    };
    let fake = FakeModel::start().await;
    let dirs = TestHome::new();
    dirs.write_config(&fake.base_url());
    let env = dirs
        .env()
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let d = Daemon::start(
        DaemonOptions::fake(fake.base_url())
            .toml("[providers.codex]")
            .toml(&format!("command = {command:?}"))
            .toml(&format!("env = {{ {env} }}"))
            .toml(&format!("idle_timeout_secs = {idle_timeout_secs}")),
    )
    .await;
    let rest = d.rest();
    Env {
        fake,
        d,
        rest,
        dirs,
    }
}

impl Env {
    pub(super) async fn session(&self, policy: &str) -> String {
        let r = self
            .rest
            .post(
                "/v1/sessions",
                json!({"title": "codex", "provider": "codex",
                       "cwd": self.dirs.work().display().to_string(), "approval_policy": policy}),
            )
            .await;
        assert_eq!(r.status, 201, "create a codex session: {}", r.text());
        let s = r.json();
        assert_eq!(s["provider"], "codex");
        id_of(&s)
    }

    pub(super) fn file(&self) -> PathBuf {
        self.dirs.work().join("hello.txt")
    }

    /// The model writes hello.txt with apply_patch (after some text), then answers "Finished."
    /// once it heard back.
    pub(super) fn script_write(&self) {
        self.script_write_call();
        self.fake
            .push(Script::answer("Finished.").when(Match::has_tools()));
    }

    /// Only the model turn that calls apply_patch.
    pub(super) fn script_write_call(&self) {
        self.fake.push(
            Script::new(vec![
                Step::text("I'll create the file."),
                Step::custom_tool("apply_patch", PATCH),
            ])
            .when(Match::has_tools()),
        );
    }

    pub(super) async fn pending_approval(&self, session: &str) -> Value {
        crate::suite::pending_approval(&self.rest, session, 60).await
    }

    pub(super) async fn decide(&self, approval: &Value, decision: &str) -> Value {
        let r = self
            .rest
            .post(
                &format!("/v1/approvals/{}", approval["id"].as_str().unwrap()),
                json!({ "decision": decision }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    pub(super) async fn idle(&self, session: &str) -> Value {
        wait_session(&self.rest, session, 90, "the turn to end", |s| {
            s["busy"] == false
        })
        .await
    }

    /// Every event of the session so far.
    pub(super) async fn events(&self, session: &str) -> Vec<Event> {
        crate::suite::session_events(&self.d, &self.rest, session).await
    }

    pub(super) async fn wait_for_delta(&self, session: &str, text: &str) {
        poll_until("the first delta", Duration::from_secs(60), || async {
            self.events(session)
                .await
                .iter()
                .any(|ev| matches!(&ev.payload, EventPayload::MessageDelta { text: t, .. } if t == text))
                .then_some(())
        })
        .await;
    }

    /// How many `codex` processes the daemon started so far.
    pub(super) fn starts(&self) -> usize {
        self.d
            .log_tail(2000)
            .lines()
            .filter(|l| l.contains("started codex"))
            .count()
    }
}

/// The pids (= process groups) of the `codex` processes the daemon started, from its log.
fn codex_pids(d: &Daemon) -> Vec<i32> {
    d.log_tail(5000)
        .lines()
        .filter(|l| l.contains("started codex"))
        .filter_map(|l| l.split("pid=").nth(1))
        .filter_map(|s| s.split_whitespace().next())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The pid (= process group) of the `codex` the daemon started last.
pub(super) fn codex_pid(d: &Daemon) -> i32 {
    codex_pids(d)
        .pop()
        .unwrap_or_else(|| panic!("no 'started codex pid=' in the log:\n{}", d.log_tail(50)))
}

pub(super) fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks whether the pid exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

pub(super) fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks whether any process of the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

pub(super) fn tool_calls(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::ToolCall(t) => Some((t.name.clone(), t.status.to_string())),
            _ => None,
        })
        .collect()
}
