//! The Claude suite's set-up: a daemon whose `[providers.claude]` runs the pinned `claude` against
//! the fake Anthropic server in a temp HOME, a session in a temp work dir, and helpers to script a
//! Write and read the session back.

use super::super::{cli_bin, id_of, wait_session};
use agentmux_shared::types::Event;
use agentmux_tests::client::Rest;
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake::{FakeModel, Match, Script, Step};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use std::path::PathBuf;

pub(super) const API_KEY: &str = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz";

pub(super) struct Env {
    pub(super) fake: FakeModel,
    pub(super) d: Daemon,
    pub(super) rest: Rest,
    /// The session's working directory.
    pub(super) work: tempfile::TempDir,
    pub(super) home: tempfile::TempDir,
}

pub(super) async fn start() -> Env {
    start_with(60, None).await
}

/// A daemon whose `[providers.claude]` has this idle timeout and, if given, this command.
pub(super) async fn start_with(idle_timeout_secs: u64, command: Option<&str>) -> Env {
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
    pub(super) async fn session(&self, policy: &str) -> String {
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

    pub(super) fn file(&self) -> PathBuf {
        self.work.path().join("hello.txt")
    }

    /// The model writes hello.txt (after some text), then answers "Finished." once it heard back.
    pub(super) fn script_write(&self) {
        self.script_write_call();
        self.fake
            .push(Script::answer("Finished.").when(Match::has_tools()));
    }

    /// Only the model turn that calls Write.
    pub(super) fn script_write_call(&self) {
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

    pub(super) async fn pending_approval(&self, session: &str) -> Value {
        super::super::pending_approval(&self.rest, session, 30).await
    }

    pub(super) async fn idle(&self, session: &str) -> Value {
        wait_session(&self.rest, session, 60, "the turn to end", |s| {
            s["busy"] == false
        })
        .await
    }

    /// Every event of the session so far.
    pub(super) async fn events(&self, session: &str) -> Vec<Event> {
        super::super::session_events(&self.d, &self.rest, session).await
    }
}

/// The pid of the `claude` the daemon started last, from its log.
pub(super) fn claude_pid(d: &Daemon) -> i32 {
    d.log_tail(400)
        .lines()
        .rev()
        .find(|l| l.contains("started claude"))
        .and_then(|l| l.split("pid=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no 'started claude pid=' in the log:\n{}", d.log_tail(50)))
}
