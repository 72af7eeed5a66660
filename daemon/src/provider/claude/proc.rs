//! One running `claude`: its stdin and stdout lines, writing our side of the protocol, the loop
//! that reads a turn to its `result` (raising approvals on the way), and the interrupt.

use super::parser::{Item, Parser, Permission, permission_response};
use super::{INSTALL_HINT, INTERRUPT_GRACE};
use crate::provider::cli::process::CliProcess;
use crate::provider::cli::{CliProc, decision_options};
use crate::provider::{ApprovalAnswer, ApprovalRequest, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::types::Decision;
use agentmux_shared::{Error, Result};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// The protocol flags; `[providers.claude] args` come before them.
const PROTOCOL_ARGS: &[&str] = &[
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--permission-prompt-tool",
    "stdio",
    "--include-partial-messages",
    // Claude runs shell commands it deems read-only (`ls`, `git status`) without asking; an
    // `ask` rule makes every one come to agentmux, where the session's policy answers.
    "--settings",
    r#"{"permissions":{"ask":["Bash"]}}"#,
];
/// Quiet, offline-friendly defaults; `[providers.claude] env` may override them.
const QUIET_ENV: &[(&str, &str)] = &[
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
];

/// How to start the CLI.
pub(super) struct Launch<'a> {
    pub command: &'a Path,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a str,
    pub model: &'a str,
    /// Claude's session to resume ("" for a new one).
    pub resume: &'a str,
    pub session_id: &'a str,
}

pub(super) struct Proc {
    cli: CliProcess,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Lines read while an approval was waiting, handled once it is answered.
    backlog: VecDeque<String>,
    pub parser: Parser,
    /// The `initialize` control request was sent.
    initialized: bool,
    /// The request id of a `can_use_tool` request waiting for an answer.
    pending_permission: Option<String>,
    started: std::time::Instant,
    first_output: bool,
}

impl Proc {
    /// Starts `claude` for a session, resuming Claude's session `l.resume` when not empty.
    pub fn spawn(l: &Launch<'_>) -> Result<Proc> {
        let mut cmd = Command::new(l.command);
        cmd.args(l.args).args(PROTOCOL_ARGS);
        if !l.model.is_empty() {
            cmd.arg("--model").arg(l.model);
        }
        if !l.resume.is_empty() {
            cmd.arg(format!("--resume={}", l.resume));
        }
        if !l.cwd.is_empty() {
            cmd.current_dir(l.cwd);
        }
        cmd.envs(QUIET_ENV.iter().copied()).envs(l.env);
        let started = std::time::Instant::now();
        let (cli, stdin, lines) = CliProcess::spawn(&mut cmd, "claude", INSTALL_HINT)?;
        tracing::info!(
            pid = cli.pgid,
            session = %l.session_id,
            resume = l.resume,
            "started claude"
        );
        Ok(Proc {
            cli,
            stdin,
            lines,
            backlog: VecDeque::new(),
            parser: Parser::new(l.cwd),
            initialized: false,
            pending_permission: None,
            started,
            first_output: false,
        })
    }

    pub fn exited(&mut self) -> bool {
        self.cli.exited()
    }

    async fn write(&mut self, v: &Value) -> Result<()> {
        let mut line = v.to_string();
        line.push('\n');
        let res = async {
            self.stdin.write_all(line.as_bytes()).await?;
            self.stdin.flush().await
        }
        .await;
        match res {
            Ok(()) => Ok(()),
            Err(e) => Err(self.died(&format!("cannot write to claude: {e}")).await),
        }
    }

    /// Sends the prompt and reads the turn to its end. `Err`: the process is broken and must
    /// go; `Ok(Err)`: the turn failed but the process is fine.
    pub async fn turn(
        &mut self,
        prompt: &str,
        out: &mpsc::Sender<ProviderEvent>,
        idle: Duration,
    ) -> Result<Result<TurnEnd>> {
        self.start_turn(prompt).await?;
        self.run(out, idle).await
    }

    async fn start_turn(&mut self, prompt: &str) -> Result<()> {
        if !self.initialized {
            self.initialized = true;
            self.write(&json!({
                "type": "control_request",
                "request_id": "req_init",
                "request": {"subtype": "initialize"},
            }))
            .await?;
        }
        self.write(&json!({
            "type": "user",
            "session_id": "",
            "parent_tool_use_id": null,
            "message": {"role": "user", "content": [{"type": "text", "text": prompt}]},
        }))
        .await
    }

    /// Reads until the turn's `result`.
    async fn run(
        &mut self,
        out: &mpsc::Sender<ProviderEvent>,
        idle: Duration,
    ) -> Result<Result<TurnEnd>> {
        loop {
            let next = match self.backlog.pop_front() {
                Some(l) => Ok(Some(l)),
                None => tokio::time::timeout(idle, self.lines.recv()).await,
            };
            let line = match next {
                Err(_) => {
                    return Err(Error::unavailable(format!(
                        "claude printed nothing for {} s during a turn; stopped it",
                        idle.as_secs()
                    )));
                }
                Ok(None) => return Err(self.died("claude exited during the turn").await),
                Ok(Some(l)) => l,
            };
            if !self.first_output {
                self.first_output = true;
                tracing::info!(
                    pgid = self.cli.pgid,
                    ms = self.started.elapsed().as_millis() as u64,
                    "claude answered"
                );
            }
            for item in self.parser.line(&line) {
                match item {
                    Item::Event(ev) => {
                        let _ = out.send(ev).await;
                    }
                    Item::Permission(p) => {
                        let (tx, rx) = oneshot::channel();
                        self.pending_permission = Some(p.request_id.clone());
                        let req = ApprovalRequest {
                            tool_call_id: p.tool_use_id.clone(),
                            tool: p.tool.clone(),
                            input_json: p.input.to_string(),
                            summary: p.summary.clone(),
                            diff: p.diff.clone(),
                            edit: p.edit,
                            options: decision_options(),
                            respond: tx,
                        };
                        let answer = match out.send(ProviderEvent::ApprovalRequest(req)).await {
                            Ok(()) => self.await_answer(rx).await?,
                            Err(_) => None,
                        };
                        self.pending_permission = None;
                        if answer.as_ref().is_none_or(|a| a.decision == Decision::Deny) {
                            self.parser.denied(&p.tool_use_id);
                        }
                        self.write(&permission_response(&p, answer.as_ref()))
                            .await?;
                    }
                    Item::Control {
                        request_id,
                        subtype,
                    } => {
                        let _ = out
                            .send(ProviderEvent::Warning(format!(
                                "claude asked for {subtype:?}, which agentmux does not support"
                            )))
                            .await;
                        self.write(&json!({
                            "type": "control_response",
                            "response": {"subtype": "error", "request_id": request_id,
                                         "error": format!("unsupported control request {subtype}")},
                        }))
                        .await?;
                    }
                    Item::Result(r) => return Ok(r),
                }
            }
        }
    }

    /// Waits for a person's answer while watching the process: if claude dies meanwhile the turn
    /// fails at once (and its approval with it) instead of waiting for a decision nobody can use.
    async fn await_answer(
        &mut self,
        mut rx: oneshot::Receiver<ApprovalAnswer>,
    ) -> Result<Option<ApprovalAnswer>> {
        let mut open = true;
        loop {
            tokio::select! {
                a = &mut rx => return Ok(a.ok()),
                l = self.lines.recv(), if open => match l {
                    Some(l) => self.backlog.push_back(l),
                    None => open = false,
                },
                // stdout can close before the exit is reaped; poll the child after that.
                _ = tokio::time::sleep(Duration::from_millis(200)), if !open => {
                    if self.exited() {
                        return Err(self.died("claude exited while an approval was waiting").await);
                    }
                }
            }
        }
    }

    /// Interrupts the running turn; true when it ended with its `result` in time.
    async fn interrupt(&mut self) -> bool {
        if let Some(id) = self.pending_permission.take() {
            let p = Permission {
                request_id: id,
                ..Permission::default()
            };
            let deny = ApprovalAnswer {
                decision: Decision::Deny,
                message: "The turn was cancelled.".into(),
            };
            if self
                .write(&permission_response(&p, Some(&deny)))
                .await
                .is_err()
            {
                return false;
            }
        }
        let req = json!({
            "type": "control_request",
            "request_id": agentmux_shared::ids::new_id("req"),
            "request": {"subtype": "interrupt"},
        });
        if self.write(&req).await.is_err() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + INTERRUPT_GRACE;
        loop {
            // Lines read while an approval waited belong to this turn too.
            let next = match self.backlog.pop_front() {
                Some(l) => Ok(Some(l)),
                None => tokio::time::timeout_at(deadline, self.lines.recv()).await,
            };
            match next {
                Ok(Some(line)) => {
                    // Keep the parser's state (session id, tools) current.
                    if self
                        .parser
                        .line(&line)
                        .iter()
                        .any(|i| matches!(i, Item::Result(_)))
                    {
                        self.backlog.clear();
                        return true;
                    }
                }
                Ok(None) | Err(_) => return false,
            }
        }
    }

    pub async fn died(&mut self, what: &str) -> Error {
        self.cli.died(what).await
    }

    pub async fn kill(mut self) {
        self.cli.stop().await;
    }
}

impl CliProc for Proc {
    fn can_serve(&mut self, _req: &TurnRequest) -> bool {
        !self.exited()
    }

    async fn interrupt(&mut self) -> bool {
        Proc::interrupt(self).await
    }

    async fn stop(self) {
        self.kill().await;
    }
}
