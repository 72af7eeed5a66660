//! Claude Code as a provider, over its bidirectional stream-json protocol:
//! `claude -p --input-format stream-json --output-format stream-json --verbose
//! --permission-prompt-tool stdio --include-partial-messages`.
//!
//! One long-lived process per session (its own process group, cwd = the session's), reused across
//! turns and started again with `--resume=<session id>` when it is gone (daemon restart, a cancel
//! that had to kill it). Permission requests (`control_request` `can_use_tool`) become approval
//! requests; cancel (dropping the turn) sends the `interrupt` control request and escalates to
//! SIGINT → SIGTERM → SIGKILL on the process group when no `result` follows within 2 s.
//! Protocol facts: tests/fixtures/cli/README.md.

use super::cli::{self, CliProc, Slots, TurnGuard, clip};
use super::process::CliProcess;
use super::{
    ApprovalAnswer, ApprovalRequest, BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest, diff,
};
use agentmux_shared::config::CliConfig;
use agentmux_shared::types::{Decision, PlanEntry, ProviderHealth, ToolCall, Usage};
use agentmux_shared::{Error, Result};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// How long an interrupted turn may take to end with its `result`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
const INSTALL_HINT: &str = "install @anthropic-ai/claude-code or set [providers.claude] command";
const DEFAULT_DENY: &str = "The user denied this";
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
];
/// Quiet, offline-friendly defaults; `[providers.claude] env` may override them.
const QUIET_ENV: &[(&str, &str)] = &[
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
];

pub struct Claude {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    model: String,
    idle: Duration,
    /// One process per session, behind a lock that a turn (or its cleanup after a cancel) holds.
    slots: Slots<Proc>,
}

impl Claude {
    pub fn new(c: &CliConfig) -> Claude {
        Claude {
            command: if c.command.trim().is_empty() {
                "claude".into()
            } else {
                c.command.trim().to_string()
            },
            args: c.args.clone(),
            env: c.env.clone(),
            model: c.model.clone(),
            idle: Duration::from_secs(c.idle_timeout_secs.max(1)),
            slots: Slots::default(),
        }
    }

    /// Starts `claude` for a session, resuming Claude's session `resume` when not empty.
    fn spawn(&self, req: &TurnRequest, resume: &str) -> Result<Proc> {
        let mut cmd = Command::new(&self.command);
        cmd.args(&self.args).args(PROTOCOL_ARGS);
        if !req.model.is_empty() {
            cmd.arg("--model").arg(&req.model);
        }
        if !resume.is_empty() {
            cmd.arg(format!("--resume={resume}"));
        }
        if !req.cwd.is_empty() {
            cmd.current_dir(&req.cwd);
        }
        cmd.envs(QUIET_ENV.iter().copied()).envs(&self.env);
        let started = std::time::Instant::now();
        let (cli, stdin, lines) = CliProcess::spawn(&mut cmd, "claude", INSTALL_HINT)?;
        tracing::info!(
            pid = cli.pgid,
            session = %req.session_id,
            resume,
            "started claude"
        );
        Ok(Proc {
            cli,
            stdin,
            lines,
            backlog: VecDeque::new(),
            parser: Parser::new(&req.cwd),
            pending_permission: None,
            started,
            first_output: false,
        })
    }

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let prompt = req.prompt()?;
        let slot = self.slots.get(&req.session_id);
        let mut guard = TurnGuard::lock(&slot).await;
        let result = async {
            let Some(g) = guard.slot.as_mut() else {
                return Err(Error::internal("claude slot vanished"));
            };
            let mut resume = req.provider_session_id.clone();
            loop {
                if let Some(p) = g.as_mut()
                    && p.exited()
                {
                    tracing::info!(session = %req.session_id, "claude process had exited; starting it again");
                    if let Some(old) = g.take() {
                        old.kill().await;
                    }
                }
                let fresh = g.is_none();
                if fresh {
                    **g = Some(self.spawn(&req, &resume)?);
                }
                let Some(proc) = g.as_mut() else {
                    return Err(Error::internal("claude process vanished"));
                };
                let result = match proc.start_turn(&prompt).await {
                    Ok(()) => proc.run(&out, self.idle).await,
                    Err(e) => Err(e),
                };
                // A resumed process that ended the turn without its `system/init` could not
                // load the conversation (e.g. its transcript is gone): say so and start a new
                // one rather than fail every turn from now on.
                if fresh && !resume.is_empty() && !proc.parser.saw_init && !is_ok(&result) {
                    let why = proc.died("claude could not resume").await;
                    if let Some(p) = g.take() {
                        p.kill().await;
                    }
                    let _ = out
                        .send(ProviderEvent::Warning(format!(
                            "cannot resume the Claude conversation {resume} ({}); starting a new one",
                            why.message
                        )))
                        .await;
                    resume.clear();
                    continue;
                }
                return match result {
                    Ok(r) => r,
                    Err(e) => {
                        // The process is broken (exited, hung, unwritable): stop it; the next
                        // turn resumes the conversation in a new one.
                        if let Some(p) = g.take() {
                            p.kill().await;
                        }
                        Err(e)
                    }
                };
            }
        }
        .await;
        guard.done = true;
        result
    }
}

impl Provider for Claude {
    fn id(&self) -> &str {
        "claude"
    }

    fn default_model(&self) -> String {
        self.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        cli::health("claude", &self.command, INSTALL_HINT)
    }

    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>> {
        Box::pin(self.turn(req, out))
    }

    fn forget_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, ()> {
        self.slots.forget(session_id);
        Box::pin(async {})
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.slots.stop_all(INTERRUPT_GRACE))
    }
}

struct Proc {
    cli: CliProcess,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Lines read while an approval was waiting, handled once it is answered.
    backlog: VecDeque<String>,
    parser: Parser,
    /// A `can_use_tool` request waiting for an answer: (request id, tool input).
    pending_permission: Option<String>,
    started: std::time::Instant,
    first_output: bool,
}

impl Proc {
    fn exited(&mut self) -> bool {
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

    async fn start_turn(&mut self, prompt: &str) -> Result<()> {
        if !self.parser.initialized {
            self.parser.initialized = true;
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

    /// Reads until the turn's `result`. `Err`: the process is broken and must go; `Ok(Err)`: the
    /// turn failed but the process is fine.
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
                            tool: p.tool.clone(),
                            input_json: p.input.to_string(),
                            summary: p.summary.clone(),
                            diff: p.diff.clone(),
                            edit: is_edit(&self.parser.cwd, &p.tool, &p.input),
                            options: vec![
                                Decision::AllowOnce.as_str().into(),
                                Decision::AllowAlways.as_str().into(),
                                Decision::Deny.as_str().into(),
                            ],
                            respond: tx,
                        };
                        let answer = match out.send(ProviderEvent::ApprovalRequest(req)).await {
                            Ok(()) => self.await_answer(rx).await?,
                            Err(_) => None,
                        };
                        self.pending_permission = None;
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

    async fn died(&mut self, what: &str) -> Error {
        self.cli.died(what).await
    }

    async fn kill(mut self) {
        self.cli.stop().await;
    }
}

impl CliProc for Proc {
    async fn interrupt(&mut self) -> bool {
        Proc::interrupt(self).await
    }

    async fn stop(self) {
        self.kill().await;
    }
}

fn is_ok(r: &Result<Result<TurnEnd>>) -> bool {
    matches!(r, Ok(Ok(_)))
}

/// A `can_use_tool` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Permission {
    pub request_id: String,
    pub tool: String,
    pub input: Value,
    pub suggestions: Value,
    pub summary: String,
    pub diff: String,
}

fn permission_response(p: &Permission, answer: Option<&ApprovalAnswer>) -> Value {
    let inner = match answer {
        Some(a) if a.decision != Decision::Deny => {
            let mut r = json!({"behavior": "allow", "updatedInput": p.input});
            if a.decision == Decision::AllowAlways
                && p.suggestions.as_array().is_some_and(|s| !s.is_empty())
            {
                r["updatedPermissions"] = p.suggestions.clone();
            }
            r
        }
        Some(a) if !a.message.trim().is_empty() => {
            json!({"behavior": "deny", "message": a.message})
        }
        _ => json!({"behavior": "deny", "message": DEFAULT_DENY}),
    };
    json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": p.request_id, "response": inner},
    })
}

/// What one stdout line means.
#[derive(Debug)]
pub(crate) enum Item {
    Event(ProviderEvent),
    Permission(Permission),
    /// A control request other than `can_use_tool`: answered with an error.
    Control {
        request_id: String,
        subtype: String,
    },
    /// The turn's end: `Err` carries why it failed.
    Result(Result<TurnEnd>),
}

/// A tool use seen in an `assistant` line, until its result.
#[derive(Debug, Clone)]
struct ToolUse {
    name: String,
    input_json: String,
    /// `(path, unified diff)` for file edits, computed before the edit lands.
    change: Option<(String, String)>,
}

/// Turns stdout lines into items; keeps what spans lines (tool uses, session id, model).
pub(crate) struct Parser {
    cwd: String,
    tools: HashMap<String, ToolUse>,
    pub session_id: String,
    pub model: String,
    initialized: bool,
    /// `system/init` was seen: the process has loaded (or started) its conversation.
    pub saw_init: bool,
}

impl Parser {
    pub fn new(cwd: &str) -> Parser {
        Parser {
            cwd: cwd.to_string(),
            tools: HashMap::new(),
            session_id: String::new(),
            model: String::new(),
            initialized: false,
            saw_init: false,
        }
    }

    pub fn line(&mut self, line: &str) -> Vec<Item> {
        let line = line.trim();
        if line.is_empty() {
            return Vec::new();
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, line = %clip(line, 300), "claude printed a line that is not JSON");
                return vec![Item::Event(ProviderEvent::Warning(format!(
                    "claude printed a line that is not JSON ({e}): {}",
                    clip(line, 200)
                )))];
            }
        };
        let mut out = Vec::new();
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match v["type"].as_str().unwrap_or_default() {
            "system" => {
                if v["subtype"] == "init" {
                    self.saw_init = true;
                    if let Some(m) = v["model"].as_str() {
                        self.model = m.trim_end_matches("[1m]").to_string();
                    }
                    let id = s(&v["session_id"]);
                    if !id.is_empty() && id != self.session_id {
                        self.session_id = id.clone();
                        out.push(Item::Event(ProviderEvent::SessionId(id)));
                    }
                }
            }
            "stream_event" => {
                let ev = &v["event"];
                if v["parent_tool_use_id"].is_null() && ev["type"] == "content_block_delta" {
                    let d = &ev["delta"];
                    match d["type"].as_str().unwrap_or_default() {
                        "text_delta" => {
                            let t = s(&d["text"]);
                            if !t.is_empty() {
                                out.push(Item::Event(ProviderEvent::Text(t)));
                            }
                        }
                        "thinking_delta" => {
                            let t = s(&d["thinking"]);
                            if !t.is_empty() {
                                out.push(Item::Event(ProviderEvent::Reasoning(t)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            "assistant" => {
                for b in v["message"]["content"].as_array().into_iter().flatten() {
                    if b["type"] != "tool_use" {
                        continue;
                    }
                    let id = s(&b["id"]);
                    let name = s(&b["name"]);
                    let input_json = b["input"].to_string();
                    let change = file_change(&self.cwd, &name, &b["input"]);
                    if name == "TodoWrite"
                        && let Some(entries) = todo_plan(&b["input"])
                    {
                        out.push(Item::Event(ProviderEvent::Plan(entries)));
                    }
                    self.tools.insert(
                        id.clone(),
                        ToolUse {
                            name: name.clone(),
                            input_json: input_json.clone(),
                            change,
                        },
                    );
                    out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
                        id,
                        name,
                        input_json,
                        status: "started".into(),
                        output: String::new(),
                    })));
                }
            }
            "user" => {
                for b in v["message"]["content"].as_array().into_iter().flatten() {
                    if b["type"] != "tool_result" {
                        continue;
                    }
                    let id = s(&b["tool_use_id"]);
                    let failed = b["is_error"].as_bool() == Some(true);
                    let used = self.tools.remove(&id);
                    let (name, input_json) = used
                        .as_ref()
                        .map(|u| (u.name.clone(), u.input_json.clone()))
                        .unwrap_or_default();
                    out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
                        id,
                        name,
                        input_json,
                        status: if failed { "failed" } else { "finished" }.into(),
                        output: content_text(&b["content"]),
                    })));
                    if !failed && let Some((path, diff)) = used.and_then(|u| u.change) {
                        out.push(Item::Event(ProviderEvent::FileChanged { path, diff }));
                    }
                }
            }
            "control_request" => {
                let r = &v["request"];
                let request_id = s(&v["request_id"]);
                let subtype = s(&r["subtype"]);
                if subtype == "can_use_tool" {
                    let tool = s(&r["tool_name"]);
                    let input = r["input"].clone();
                    // Diff against the file as it is now, just before the edit.
                    let change = file_change(&self.cwd, &tool, &input);
                    if let Some(u) = self.tools.get_mut(r["tool_use_id"].as_str().unwrap_or("")) {
                        u.change = change.clone();
                    }
                    out.push(Item::Permission(Permission {
                        request_id,
                        summary: summary(&tool, &input, r["description"].as_str()),
                        diff: change.map(|(_, d)| d).unwrap_or_default(),
                        tool,
                        input,
                        suggestions: r["permission_suggestions"].clone(),
                    }));
                } else {
                    out.push(Item::Control {
                        request_id,
                        subtype,
                    });
                }
            }
            "control_response" => {
                if v["response"]["subtype"] == "error" {
                    out.push(Item::Event(ProviderEvent::Warning(format!(
                        "claude refused a control request: {}",
                        s(&v["response"]["error"])
                    ))));
                }
            }
            "control_cancel_request" => {}
            "result" => out.push(Item::Result(self.result(&v))),
            other => {
                tracing::warn!(kind = other, line = %clip(line, 300), "unknown line from claude");
                out.push(Item::Event(ProviderEvent::Warning(format!(
                    "claude printed an unknown line (type {other:?})"
                ))));
            }
        }
        out
    }

    fn result(&mut self, v: &Value) -> Result<TurnEnd> {
        let subtype = v["subtype"].as_str().unwrap_or_default();
        if let Some(id) = v["session_id"].as_str()
            && self.session_id.is_empty()
        {
            self.session_id = id.to_string();
        }
        if v["is_error"].as_bool() == Some(true) || (subtype != "success" && !subtype.is_empty()) {
            let detail = v["result"]
                .as_str()
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .or_else(|| {
                    v["errors"].as_array().map(|e| {
                        e.iter()
                            .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                })
                .unwrap_or_default();
            let why = match (subtype, detail.is_empty()) {
                ("success" | "", true) => "the turn failed".to_string(),
                ("success" | "", false) => detail,
                (st, true) => st.to_string(),
                (st, false) => format!("{st}: {detail}"),
            };
            return Err(Error::unavailable(format!("claude: {why}")));
        }
        let u = &v["usage"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        Ok(TurnEnd {
            model: self.model.clone(),
            stop_reason: v["stop_reason"].as_str().unwrap_or("end_turn").to_string(),
            usage: Usage {
                input_tokens: n("input_tokens")
                    + n("cache_read_input_tokens")
                    + n("cache_creation_input_tokens"),
                output_tokens: n("output_tokens"),
                reasoning_tokens: 0,
            },
            cost_usd: v["total_cost_usd"].as_f64().unwrap_or(0.0),
        })
    }
}

/// Tools that only edit files: what the `auto-edit` policy allows without asking.
const EDIT_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

/// A file edit inside the session's directory: what `auto-edit` allows without asking.
fn is_edit(cwd: &str, tool: &str, input: &Value) -> bool {
    let path = input["file_path"]
        .as_str()
        .or_else(|| input["notebook_path"].as_str())
        .unwrap_or_default();
    EDIT_TOOLS.contains(&tool) && cli::inside(cwd, path)
}

/// Claude keeps its plan as a todo list: `TodoWrite {todos:[{content,status,activeForm}]}`.
fn todo_plan(input: &Value) -> Option<Vec<PlanEntry>> {
    let todos = input["todos"].as_array()?;
    Some(
        todos
            .iter()
            .map(|t| PlanEntry {
                content: t["content"].as_str().unwrap_or_default().to_string(),
                status: t["status"].as_str().unwrap_or("pending").to_string(),
                priority: t["priority"].as_str().unwrap_or_default().to_string(),
            })
            .collect(),
    )
}

/// `(path, diff)` of the file a Write / Edit / MultiEdit input changes.
fn file_change(cwd: &str, tool: &str, input: &Value) -> Option<(String, String)> {
    let path = input["file_path"].as_str()?;
    let old = diff::read_within(cwd, path);
    let edit = |text: &str, e: &Value| {
        diff::replace(
            text,
            e["old_string"].as_str().unwrap_or_default(),
            e["new_string"].as_str().unwrap_or_default(),
            e["replace_all"].as_bool() == Some(true),
        )
    };
    let new = match tool {
        "Write" => input["content"].as_str()?.to_string(),
        "Edit" => edit(&old, input),
        "MultiEdit" => input["edits"]
            .as_array()?
            .iter()
            .fold(old.clone(), |t, e| edit(&t, e)),
        _ => return None,
    };
    Some((path.to_string(), diff::unified(path, &old, &new)))
}

fn summary(tool: &str, input: &Value, description: Option<&str>) -> String {
    let detail = [
        "command",
        "file_path",
        "notebook_path",
        "url",
        "pattern",
        "path",
    ]
    .iter()
    .find_map(|k| input[*k].as_str())
    .or(description)
    .unwrap_or_default();
    clip(&format!("{tool} {detail}"), 300).trim().to_string()
}

/// Tool result content: a string or a list of text blocks.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the CLI's side of a recorded run through a parser.
    fn replay(name: &str) -> Vec<Item> {
        let path = format!(
            "{}/../tests/fixtures/cli/claude/{name}.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut p = Parser::new("/nonexistent-cwd");
        let mut items = Vec::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["dir"] == "out" {
                items.extend(p.line(&v["msg"].to_string()));
            }
        }
        items
    }

    fn text(items: &[Item]) -> String {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Event(ProviderEvent::Text(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn tool_calls(items: &[Item]) -> Vec<ToolCall> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Event(ProviderEvent::ToolCall(t)) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    fn warnings(items: &[Item]) -> usize {
        items
            .iter()
            .filter(|i| matches!(i, Item::Event(ProviderEvent::Warning(_))))
            .count()
    }

    #[test]
    fn plain_streams_text_and_ends() {
        let items = replay("plain");
        assert_eq!(text(&items), "Hello from the fake model.");
        assert!(
            items
                .iter()
                .any(|i| matches!(i, Item::Event(ProviderEvent::SessionId(id)) if !id.is_empty()))
        );
        let Some(Item::Result(Ok(end))) = items.last() else {
            panic!("last item is not a successful result: {:?}", items.last());
        };
        assert_eq!(end.stop_reason, "end_turn");
        assert!(end.usage.output_tokens > 0, "{end:?}");
        assert_eq!(end.model, "claude-opus-4-8");
        assert_eq!(warnings(&items), 0);
    }

    #[test]
    fn write_allow_asks_then_reports_the_change() {
        let items = replay("write_allow");
        let perms: Vec<&Permission> = items
            .iter()
            .filter_map(|i| match i {
                Item::Permission(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(perms.len(), 1);
        let p = perms[0];
        assert_eq!(p.tool, "Write");
        assert_eq!(p.input["content"], "hi\n");
        assert!(p.diff.contains("+hi"), "{}", p.diff);
        assert_eq!(p.summary, "Write /WORK/hello.txt");
        let allow = permission_response(
            p,
            Some(&ApprovalAnswer {
                decision: Decision::AllowAlways,
                message: String::new(),
            }),
        );
        assert_eq!(allow["response"]["request_id"], p.request_id.as_str());
        assert_eq!(allow["response"]["response"]["behavior"], "allow");
        assert_eq!(allow["response"]["response"]["updatedInput"], p.input);
        assert_eq!(
            allow["response"]["response"]["updatedPermissions"][0]["mode"],
            "acceptEdits"
        );
        let calls = tool_calls(&items);
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            (calls[0].name.as_str(), calls[0].status.as_str()),
            ("Write", "started")
        );
        assert_eq!(calls[1].status, "finished");
        assert!(calls[1].output.contains("File created"), "{calls:?}");
        let changed: Vec<(&String, &String)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Event(ProviderEvent::FileChanged { path, diff }) => Some((path, diff)),
                _ => None,
            })
            .collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, "/WORK/hello.txt");
        assert!(changed[0].1.contains("+hi"));
        assert_eq!(text(&items), "I'll create the file.Finished.");
        assert!(matches!(items.last(), Some(Item::Result(Ok(_)))));
    }

    #[test]
    fn write_deny_fails_the_tool_and_changes_nothing() {
        let items = replay("write_deny");
        let p = items
            .iter()
            .find_map(|i| match i {
                Item::Permission(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap();
        let deny = permission_response(
            &p,
            Some(&ApprovalAnswer {
                decision: Decision::Deny,
                message: String::new(),
            }),
        );
        assert_eq!(deny["response"]["response"]["behavior"], "deny");
        assert_eq!(deny["response"]["response"]["message"], DEFAULT_DENY);
        let calls = tool_calls(&items);
        assert_eq!(calls.last().map(|c| c.status.as_str()), Some("failed"));
        assert!(
            calls
                .last()
                .is_some_and(|c| c.output.contains("denied this write"))
        );
        assert!(
            !items
                .iter()
                .any(|i| matches!(i, Item::Event(ProviderEvent::FileChanged { .. })))
        );
    }

    #[test]
    fn cancel_ends_with_an_error_result() {
        let items = replay("cancel");
        assert!(text(&items).starts_with("Working"), "{}", text(&items));
        let Some(Item::Result(Err(e))) = items.last() else {
            panic!("cancel must end with a failed result: {:?}", items.last());
        };
        assert!(e.message.contains("error_during_execution"), "{e}");
    }

    #[test]
    fn resume_keeps_one_session_id() {
        let items = replay("resume");
        let ids: Vec<&String> = items
            .iter()
            .filter_map(|i| match i {
                Item::Event(ProviderEvent::SessionId(id)) => Some(id),
                _ => None,
            })
            .collect();
        // One parser saw both processes: the resumed one reports the same id, so only one event.
        assert_eq!(ids.len(), 1, "{ids:?}");
    }

    #[test]
    fn truncated_and_garbage_lines_are_warnings() {
        let mut p = Parser::new("/");
        let good = r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}},"parent_tool_use_id":null}"#;
        let items = p.line(&good[..good.len() / 2]);
        assert_eq!(warnings(&items), 1);
        assert_eq!(warnings(&p.line("\u{1b}[31mgarbage\u{0}")), 1);
        assert_eq!(warnings(&p.line(r#"{"type":"brand_new_kind"}"#)), 1);
        assert!(p.line("   ").is_empty());
        assert_eq!(text(&p.line(good)), "ok");
        // A tool result for a tool never seen still reports, without a change.
        let items =
            p.line(r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"x","content":"done"}]}}"#);
        assert_eq!(tool_calls(&items)[0].status, "finished");
        let items = p.line(
            r#"{"type":"control_request","request_id":"r1","request":{"subtype":"hook_callback"}}"#,
        );
        assert!(
            matches!(&items[..], [Item::Control { request_id, subtype }] if request_id == "r1" && subtype == "hook_callback")
        );
    }

    #[test]
    fn edits_diff_against_the_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().to_str().unwrap();
        let f = format!("{cwd}/a.txt");
        std::fs::write(&f, "one\ntwo\n").unwrap();
        let (_, d) = file_change(
            cwd,
            "Edit",
            &json!({"file_path": f, "old_string": "two", "new_string": "2"}),
        )
        .unwrap();
        assert!(d.contains("-two\n+2\n"), "{d}");
        let (_, d) = file_change(
            cwd,
            "MultiEdit",
            &json!({"file_path": f, "edits": [{"old_string": "one", "new_string": "1"}, {"old_string": "two", "new_string": "2"}]}),
        )
        .unwrap();
        assert!(d.contains("+1\n+2\n"), "{d}");
        assert!(file_change(cwd, "Bash", &json!({"command": "ls"})).is_none());
    }

    #[test]
    fn only_edits_inside_the_session_directory_are_edits() {
        assert!(is_edit("/w", "Write", &json!({"file_path": "/w/a.txt"})));
        assert!(is_edit(
            "/w",
            "NotebookEdit",
            &json!({"notebook_path": "n.ipynb"})
        ));
        assert!(!is_edit(
            "/w",
            "Write",
            &json!({"file_path": "/etc/profile"})
        ));
        assert!(!is_edit("/w", "Edit", &json!({"file_path": "/w/../x"})));
        assert!(!is_edit("/w", "Bash", &json!({"command": "ls"})));
        assert!(!is_edit("/w", "Write", &json!({})));
    }

    #[test]
    fn todo_write_is_the_plan() {
        let mut p = Parser::new("/w");
        let items = p.line(
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"TodoWrite","input":{"todos":[{"content":"Read","status":"completed","activeForm":"Reading"},{"content":"Write","status":"in_progress","activeForm":"Writing"}]}}]}}"#,
        );
        let plan: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                Item::Event(ProviderEvent::Plan(e)) => Some(e.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(plan.len(), 1);
        assert_eq!(
            plan[0]
                .iter()
                .map(|e| (e.content.as_str(), e.status.as_str()))
                .collect::<Vec<_>>(),
            vec![("Read", "completed"), ("Write", "in_progress")]
        );
    }
}
