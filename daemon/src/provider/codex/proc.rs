//! One running `codex app-server`: its pipes (a reader, a writer and a stderr task), JSON-RPC
//! calls, the loop that reads a turn to its end, the interrupt and the kill of its process group.

use super::parser::{Item, Parser, approval_response, unsupported_response};
use crate::provider::cli::process::CliProcess;
use crate::provider::cli::{CliProc, decision_options};
use crate::provider::{ApprovalRequest, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::{Error, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

pub(super) const INSTALL_HINT: &str = "install @openai/codex or set [providers.codex] command";

/// How to start the CLI.
pub(super) struct Launch<'a> {
    pub command: &'a Path,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a str,
    pub session_id: &'a str,
}

/// Where a turn's events go: the runner, or nowhere while a cancelled turn winds down.
type Out<'a> = Option<&'a mpsc::Sender<ProviderEvent>>;

pub(super) struct Proc {
    cli: CliProcess,
    lines: mpsc::Receiver<String>,
    writer: mpsc::Sender<String>,
    next_id: u64,
    pub parser: Parser,
    /// Approvals handed out and not answered yet: a person may take their time, so the idle
    /// deadline does not run while any is open.
    waiting: Arc<AtomicUsize>,
    /// `turn/start` was sent and its `turn/completed` not seen yet.
    pub turn_running: bool,
    /// A `turn/completed` read while waiting for an answer.
    early_end: Option<(String, Result<TurnEnd>)>,
    started: Instant,
    first_output: bool,
}

impl Proc {
    pub fn spawn(l: &Launch<'_>) -> Result<Proc> {
        let mut cmd = Command::new(l.command);
        cmd.args(l.args).arg("app-server");
        if !l.cwd.is_empty() {
            cmd.current_dir(l.cwd);
        }
        // Its log goes to stderr: keep it to what matters (the daemon's own RUST_LOG is not
        // meant for it). `[providers.codex] env` may say otherwise.
        cmd.env("RUST_LOG", "warn").envs(l.env);
        let (cli, mut stdin, lines) = CliProcess::spawn(&mut cmd, "codex", INSTALL_HINT)?;
        let pid = cli.pgid;
        tracing::info!(pid, session = %l.session_id, "started codex");
        // A writer task, so approval answers are written from their own tasks and the stdout
        // reader never waits for a person.
        let (writer, mut wrx) = mpsc::channel::<String>(64);
        tokio::spawn(async move {
            while let Some(line) = wrx.recv().await {
                let res = async {
                    stdin.write_all(line.as_bytes()).await?;
                    stdin.write_all(b"\n").await?;
                    stdin.flush().await
                }
                .await;
                if let Err(e) = res {
                    tracing::debug!(pid, error = %e, "cannot write to codex");
                    break;
                }
            }
        });
        Ok(Proc {
            cli,
            lines,
            writer,
            next_id: 1,
            parser: Parser::new(l.cwd),
            waiting: Arc::new(AtomicUsize::new(0)),
            turn_running: false,
            early_end: None,
            started: Instant::now(),
            first_output: false,
        })
    }

    pub fn exited(&mut self) -> bool {
        self.cli.exited()
    }

    async fn send(&mut self, v: &Value) -> Result<()> {
        if self.writer.send(v.to_string()).await.is_err() {
            return Err(self.died("cannot write to codex").await);
        }
        Ok(())
    }

    pub async fn notify(&mut self, method: &str) -> Result<()> {
        self.send(&json!({ "method": method })).await
    }

    /// Sends a request and reads until its answer. `Err`: the process is broken; `Ok(Err)`: it
    /// answered with an error.
    pub async fn call(
        &mut self,
        method: &str,
        params: Value,
        out: &mpsc::Sender<ProviderEvent>,
        idle: Duration,
    ) -> Result<std::result::Result<Value, String>> {
        let id = self.next_id;
        self.next_id += 1;
        if method == "turn/start" {
            self.turn_running = true;
        }
        self.send(&json!({"id": id, "method": method, "params": params}))
            .await?;
        loop {
            let line = self.next_line(idle, method).await?;
            for item in self.handle(&line, Some(out)).await {
                match item {
                    Item::Response { id: got, result } if got.as_u64() == Some(id) => {
                        return Ok(result);
                    }
                    Item::TurnDone { turn_id, result } => {
                        self.early_end = Some((turn_id, result));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Starts a turn: `Ok(Err)` when Codex refused it.
    pub async fn start_turn(
        &mut self,
        prompt: &str,
        out: &mpsc::Sender<ProviderEvent>,
        idle: Duration,
    ) -> Result<std::result::Result<(), String>> {
        self.parser.begin_turn();
        self.early_end = None;
        let params = json!({"threadId": self.parser.thread_id,
                            "input": [{"type": "text", "text": prompt}]});
        match self.call("turn/start", params, out, idle).await? {
            Ok(r) => {
                if let Some(t) = r["turn"]["id"].as_str() {
                    self.parser.turn_id = t.to_string();
                }
                Ok(Ok(()))
            }
            Err(e) => {
                self.turn_running = false;
                Ok(Err(e))
            }
        }
    }

    /// Reads until the running turn's `turn/completed`. `Err`: the process is broken and must
    /// go; `Ok(Err)`: the turn failed but the process is fine.
    pub async fn run(
        &mut self,
        out: &mpsc::Sender<ProviderEvent>,
        idle: Duration,
    ) -> Result<Result<TurnEnd>> {
        if let Some((turn, r)) = self.early_end.take()
            && self.is_current(&turn)
        {
            self.turn_running = false;
            return Ok(r);
        }
        loop {
            let line = self.next_line(idle, "the turn").await?;
            for item in self.handle(&line, Some(out)).await {
                if let Item::TurnDone { turn_id, result } = item {
                    if !self.is_current(&turn_id) {
                        tracing::debug!(turn = %turn_id, "codex ended an earlier turn");
                        continue;
                    }
                    self.turn_running = false;
                    return Ok(result);
                }
            }
        }
    }

    fn is_current(&self, turn: &str) -> bool {
        self.parser.turn_id.is_empty() || turn.is_empty() || turn == self.parser.turn_id
    }

    /// The next stdout line; a process that ended or stayed silent past `idle` (with no
    /// approval waiting for a person) is an error.
    async fn next_line(&mut self, idle: Duration, during: &str) -> Result<String> {
        loop {
            let (lines, child) = (&mut self.lines, &mut self.cli.child);
            // The npm launcher may run the native binary as its child, which keeps the pipes
            // open when the launcher alone dies: its exit counts as the end too.
            let next = async {
                tokio::select! {
                    biased;
                    l = lines.recv() => l,
                    _ = child.wait() => None,
                }
            };
            match tokio::time::timeout(idle, next).await {
                Err(_) if self.waiting.load(Ordering::SeqCst) > 0 => continue,
                Err(_) => {
                    return Err(Error::unavailable(format!(
                        "codex printed nothing for {} s during {during}; stopped it",
                        idle.as_secs()
                    )));
                }
                Ok(None) => {
                    return Err(self.died(&format!("codex exited during {during}")).await);
                }
                Ok(Some(line)) => {
                    if !self.first_output {
                        self.first_output = true;
                        tracing::info!(
                            pgid = self.cli.pgid,
                            ms = self.started.elapsed().as_millis() as u64,
                            "codex answered"
                        );
                    }
                    return Ok(line);
                }
            }
        }
    }

    /// Parses a line, forwards its events, raises or refuses server requests, and returns
    /// what the caller waits for (answers, the turn's end).
    async fn handle(&mut self, line: &str, out: Out<'_>) -> Vec<Item> {
        let mut rest = Vec::new();
        for item in self.parser.line(line) {
            match item {
                Item::Event(ev) => {
                    if let Some(out) = out {
                        let _ = out.send(ev).await;
                    }
                }
                Item::Approval(a) => self.raise(a, out).await,
                Item::Unsupported { id, method } => {
                    tracing::info!(method, "codex asked for something agentmux does not serve");
                    if let Some(out) = out {
                        let _ = out
                            .send(ProviderEvent::Warning(format!(
                                "codex asked for {method:?}, which agentmux does not support"
                            )))
                            .await;
                    }
                    let _ = self
                        .writer
                        .send(unsupported_response(&id, &method).to_string())
                        .await;
                }
                other => rest.push(other),
            }
        }
        rest
    }

    /// Hands an approval request to the runner; a task of its own writes the answer (decline
    /// when the request is dropped unanswered).
    async fn raise(&mut self, a: super::parser::Approval, out: Out<'_>) {
        let (tx, rx) = oneshot::channel();
        let req = ApprovalRequest {
            tool_call_id: a.item,
            tool: a.tool,
            input_json: a.input_json,
            summary: a.summary,
            diff: a.diff,
            edit: a.edit,
            options: decision_options(),
            respond: tx,
        };
        if let Some(out) = out {
            // A send that fails drops `req` and with it the sender: the task declines.
            let _ = out.send(ProviderEvent::ApprovalRequest(req)).await;
        } else {
            drop(req);
        }
        let writer = self.writer.clone();
        let waiting = self.waiting.clone();
        waiting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let answer = rx.await.ok();
            let _ = writer
                .send(approval_response(&a.id, answer.as_ref()).to_string())
                .await;
            waiting.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Interrupts the running turn; true when the process is left usable (the turn ended in
    /// time, or none was running).
    pub async fn interrupt(&mut self, grace: Duration) -> bool {
        if self.parser.thread_id.is_empty() {
            return false; // cancelled while it was starting: its state is unknown
        }
        if !self.turn_running {
            return true;
        }
        let deadline = tokio::time::Instant::now() + grace;
        let mut sent = false;
        loop {
            if !sent && !self.parser.turn_id.is_empty() {
                let msg = json!({"id": self.next_id, "method": "turn/interrupt",
                    "params": {"threadId": self.parser.thread_id, "turnId": self.parser.turn_id}});
                self.next_id += 1;
                if self.writer.send(msg.to_string()).await.is_err() {
                    return false;
                }
                sent = true;
            }
            let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => return false,
            };
            for item in self.handle(&line, None).await {
                match item {
                    Item::TurnDone { turn_id, .. } if self.is_current(&turn_id) => {
                        self.turn_running = false;
                        return true;
                    }
                    // The answer to an unfinished `turn/start` names the turn.
                    Item::Response { result: Ok(r), .. } => {
                        if let Some(t) = r["turn"]["id"].as_str()
                            && self.parser.turn_id.is_empty()
                        {
                            self.parser.turn_id = t.to_string();
                        }
                    }
                    _ => {}
                }
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
    /// A process on another thread than the session's (it was reset or forked) is replaced too.
    fn can_serve(&mut self, req: &TurnRequest) -> bool {
        !self.exited()
            && (req.provider_session_id.is_empty()
                || self.parser.thread_id == req.provider_session_id)
    }

    async fn interrupt(&mut self) -> bool {
        Proc::interrupt(self, super::INTERRUPT_GRACE).await
    }

    async fn stop(self) {
        self.kill().await;
    }
}
