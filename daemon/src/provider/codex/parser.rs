//! The pure half of the Codex adapter: one `codex app-server` stdout line in, what it means out
//! (events, answers to our requests, approval requests, the turn's end). Keeps what spans lines:
//! the thread and turn ids, started items (their tool call and file changes), the turn's usage.

use super::super::cli::{clip, inside};
use super::super::{ApprovalAnswer, ProviderEvent, TurnEnd, diff};
use agentmux_shared::types::{Decision, PlanEntry, PlanStatus, ToolCall, ToolCallStatus, Usage};
use agentmux_shared::{Error, Result};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// Tool names as the model knows them (what Codex offers it).
pub(crate) const PATCH_TOOL: &str = "apply_patch";
pub(crate) const EXEC_TOOL: &str = "exec_command";

/// What one stdout line means.
#[derive(Debug)]
pub(crate) enum Item {
    Event(ProviderEvent),
    /// The answer to one of our requests: its result, or the error's message.
    Response {
        id: Value,
        result: std::result::Result<Value, String>,
    },
    Approval(Approval),
    /// A server request agentmux does not serve: answered with a JSON-RPC error.
    Unsupported {
        id: Value,
        method: String,
    },
    /// `turn/completed`: `Err` says why the turn did not complete.
    TurnDone {
        turn_id: String,
        result: Result<TurnEnd>,
    },
}

/// A server request asking before a command runs or a patch is applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Approval {
    /// The JSON-RPC id to answer.
    pub id: Value,
    /// The item (tool call) it is about.
    pub item: String,
    pub tool: String,
    pub input_json: String,
    pub summary: String,
    pub diff: String,
    /// Only edits files inside the workspace (what `auto-edit` allows without asking).
    pub edit: bool,
}

/// The reply to an approval request; no answer (the request was dropped) declines.
pub(crate) fn approval_response(id: &Value, answer: Option<&ApprovalAnswer>) -> Value {
    let decision = match answer.map(|a| a.decision) {
        Some(Decision::AllowOnce) => "accept",
        Some(Decision::AllowAlways) => "acceptForSession",
        Some(Decision::Deny) | None => "decline",
    };
    json!({"id": id, "result": {"decision": decision}})
}

/// The reply to a server request we do not serve.
pub(crate) fn unsupported_response(id: &Value, method: &str) -> Value {
    json!({"id": id, "error": {"code": -32601, "message": format!("agentmux does not support {method}")}})
}

/// Token usage of one turn, from `thread/tokenUsage/updated` (each update's `last` is one model
/// request; an update repeating the running total adds nothing).
#[derive(Debug, Default)]
struct TurnUsage {
    turn_id: String,
    usage: Usage,
    last_total: Option<u64>,
}

pub(crate) struct Parser {
    cwd: String,
    pub thread_id: String,
    pub model: String,
    /// The running turn, from `turn/start`'s answer or `turn/started`.
    pub turn_id: String,
    /// Started tool items: id → (name, input JSON).
    tools: HashMap<String, (String, String)>,
    /// `fileChange` items: id → (path, unified diff) per change.
    changes: HashMap<String, Vec<(String, String)>>,
    usage: TurnUsage,
    /// The last non-retried `error` notification of the turn.
    error: String,
}

impl Parser {
    pub fn new(cwd: &str) -> Parser {
        Parser {
            cwd: cwd.to_string(),
            thread_id: String::new(),
            model: String::new(),
            turn_id: String::new(),
            tools: HashMap::new(),
            changes: HashMap::new(),
            usage: TurnUsage::default(),
            error: String::new(),
        }
    }

    /// Forgets the previous turn's leftovers before a new one starts.
    pub fn begin_turn(&mut self) {
        self.turn_id.clear();
        self.tools.clear();
        self.changes.clear();
        self.error.clear();
    }

    /// Takes the thread from a `thread/start` or `thread/resume` answer.
    pub fn thread_opened(&mut self, result: &Value) {
        if let Some(id) = result["thread"]["id"].as_str() {
            self.thread_id = id.to_string();
        }
        if let Some(m) = result["model"].as_str() {
            self.model = m.to_string();
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
                tracing::warn!(error = %e, line = %clip(line, 300), "codex printed a line that is not JSON");
                return vec![warning(format!(
                    "codex printed a line that is not JSON ({e}): {}",
                    clip(line, 200)
                ))];
            }
        };
        let id = v.get("id").filter(|i| !i.is_null()).cloned();
        match (v["method"].as_str(), id) {
            (Some(method), Some(id)) => vec![self.request(id, method, &v["params"])],
            (Some(method), None) => self.notification(method, &v["params"]),
            (None, Some(id)) => {
                let result = match v.get("error") {
                    Some(e) => Err(e["message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())),
                    None => Ok(v["result"].clone()),
                };
                vec![Item::Response { id, result }]
            }
            (None, None) => {
                tracing::warn!(line = %clip(line, 300), "codex printed a line that is not JSON-RPC");
                vec![warning(format!(
                    "codex printed a line that is not JSON-RPC: {}",
                    clip(line, 200)
                ))]
            }
        }
    }

    fn request(&mut self, id: Value, method: &str, p: &Value) -> Item {
        match method {
            "item/fileChange/requestApproval" => {
                let item = p["itemId"].as_str().unwrap_or_default();
                let changes = self.changes.get(item).cloned().unwrap_or_default();
                let paths: Vec<&str> = changes.iter().map(|(p, _)| p.as_str()).collect();
                let mut summary = format!("{PATCH_TOOL} {}", paths.join(", "));
                let reason = p["reason"].as_str().unwrap_or_default();
                if !reason.is_empty() {
                    summary = format!("{summary} ({reason})");
                }
                let input = self
                    .tools
                    .get(item)
                    .map(|(_, input)| input.clone())
                    .unwrap_or_else(|| json!({"itemId": item}).to_string());
                Item::Approval(Approval {
                    id,
                    item: item.to_string(),
                    tool: PATCH_TOOL.into(),
                    input_json: input,
                    summary: clip(summary.trim(), 300),
                    diff: changes
                        .iter()
                        .map(|(_, d)| d.as_str())
                        .collect::<Vec<_>>()
                        .join(""),
                    // Asking for write access to another root, or changing files outside the
                    // session's directory, is more than an edit.
                    edit: p["grantRoot"].is_null()
                        && !changes.is_empty()
                        && changes.iter().all(|(path, _)| inside(&self.cwd, path)),
                })
            }
            "item/commandExecution/requestApproval" => {
                let command = p["command"].as_str().unwrap_or_default();
                let reason = p["reason"].as_str().unwrap_or_default();
                let summary = match (command.is_empty(), reason.is_empty()) {
                    (false, _) => command.to_string(),
                    (true, false) => reason.to_string(),
                    (true, true) => "run a command".to_string(),
                };
                Item::Approval(Approval {
                    id,
                    item: p["itemId"].as_str().unwrap_or_default().to_string(),
                    tool: EXEC_TOOL.into(),
                    input_json:
                        json!({"command": p["command"], "cwd": p["cwd"], "reason": p["reason"]})
                            .to_string(),
                    summary: clip(&summary, 300),
                    diff: String::new(),
                    edit: false,
                })
            }
            other => Item::Unsupported {
                id,
                method: other.to_string(),
            },
        }
    }

    fn notification(&mut self, method: &str, p: &Value) -> Vec<Item> {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let mut out = Vec::new();
        match method {
            "item/agentMessage/delta" => {
                let t = s(&p["delta"]);
                if !t.is_empty() {
                    out.push(Item::Event(ProviderEvent::Text(t)));
                }
            }
            "item/reasoning/summaryTextDelta" | "item/reasoning/textDelta" => {
                let t = s(&p["delta"]);
                if !t.is_empty() {
                    out.push(Item::Event(ProviderEvent::Reasoning(t)));
                }
            }
            "item/started" => self.item_started(&p["item"], &mut out),
            "item/completed" => self.item_completed(&p["item"], &mut out),
            "item/fileChange/patchUpdated" => {
                let id = s(&p["itemId"]);
                let changes = self.file_changes(&p["changes"]);
                self.changes.insert(id, changes);
            }
            "turn/started" => {
                if self.turn_id.is_empty() {
                    self.turn_id = s(&p["turn"]["id"]);
                }
            }
            "turn/plan/updated" => {
                let entries = p["plan"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|step| PlanEntry {
                        content: s(&step["step"]),
                        status: PlanStatus::from_agent(step["status"].as_str().unwrap_or_default()),
                        priority: String::new(),
                    })
                    .collect();
                out.push(Item::Event(ProviderEvent::Plan(entries)));
            }
            "thread/tokenUsage/updated" => self.token_usage(p),
            "turn/completed" => out.push(self.turn_completed(&p["turn"])),
            "error" => {
                let msg = error_message(&p["error"]);
                if p["willRetry"].as_bool() == Some(true) {
                    out.push(warning(format!("codex: {msg} (retrying)")));
                } else {
                    self.error = msg;
                }
            }
            "warning" | "guardianWarning" => {
                out.push(warning(format!("codex: {}", s(&p["message"]))));
            }
            "configWarning" => {
                // Every start without bubblewrap on PATH says so; it still runs sandboxed.
                tracing::info!(summary = %s(&p["summary"]), "codex config warning");
            }
            other => tracing::debug!(method = other, "codex notification ignored"),
        }
        out
    }

    fn item_started(&mut self, item: &Value, out: &mut Vec<Item>) {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        if item["type"] == "fileChange" {
            let changes = self.file_changes(&item["changes"]);
            self.changes.insert(id.clone(), changes);
        }
        let Some((name, input)) = tool_of(item) else {
            return;
        };
        let input_json = input.to_string();
        self.tools
            .insert(id.clone(), (name.clone(), input_json.clone()));
        out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
            id,
            name,
            input_json,
            status: ToolCallStatus::Started,
            output: String::new(),
        })));
    }

    fn item_completed(&mut self, item: &Value, out: &mut Vec<Item>) {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        let Some((name, input)) = tool_of(item) else {
            return;
        };
        let (name, input_json) = self
            .tools
            .remove(&id)
            .unwrap_or_else(|| (name, input.to_string()));
        let status = item["status"].as_str().unwrap_or("completed");
        let (status, output) = match status {
            "declined" => (ToolCallStatus::Denied, "declined by the user".to_string()),
            "failed" => (ToolCallStatus::Failed, tool_output(item)),
            _ => (ToolCallStatus::Finished, tool_output(item)),
        };
        out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
            id: id.clone(),
            name,
            input_json,
            status,
            output,
        })));
        if item["type"] == "fileChange" {
            // The completed item has the final changes; the started one is the fallback.
            let mut changes = self.file_changes(&item["changes"]);
            if let Some(started) = self.changes.remove(&id)
                && changes.is_empty()
            {
                changes = started;
            }
            if status == "finished" {
                for (path, diff) in changes {
                    out.push(Item::Event(ProviderEvent::FileChanged { path, diff }));
                }
            }
        }
    }

    /// `(absolute path, unified diff)` of each change of a `fileChange` item.
    fn file_changes(&self, changes: &Value) -> Vec<(String, String)> {
        changes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let path = self.absolute(c["path"].as_str()?);
                let text = c["diff"].as_str().unwrap_or_default();
                let d = match c["kind"]["type"].as_str().unwrap_or_default() {
                    // An added file's `diff` is its content; a deleted one's is what it held.
                    "add" => diff::unified(&self.cwd, &path, "", text),
                    "delete" => diff::unified(&self.cwd, &path, text, ""),
                    _ => with_headers(&self.cwd, &path, c["kind"]["move_path"].as_str(), text),
                };
                Some((path, d))
            })
            .collect()
    }

    fn absolute(&self, path: &str) -> String {
        if Path::new(path).is_absolute() || self.cwd.is_empty() {
            path.to_string()
        } else {
            Path::new(&self.cwd).join(path).display().to_string()
        }
    }

    fn token_usage(&mut self, p: &Value) {
        let turn = p["turnId"].as_str().unwrap_or_default();
        let u = &p["tokenUsage"];
        if turn != self.usage.turn_id {
            self.usage = TurnUsage {
                turn_id: turn.to_string(),
                ..TurnUsage::default()
            };
        }
        let total = u["total"]["totalTokens"].as_u64();
        if total.is_some() && total == self.usage.last_total {
            return;
        }
        self.usage.last_total = total;
        let last = &u["last"];
        let n = |k: &str| last[k].as_u64().unwrap_or(0);
        self.usage.usage.add(&Usage {
            input_tokens: n("inputTokens"),
            output_tokens: n("outputTokens"),
            reasoning_tokens: n("reasoningOutputTokens"),
        });
    }

    fn turn_completed(&mut self, turn: &Value) -> Item {
        let turn_id = turn["id"].as_str().unwrap_or_default().to_string();
        let error = match &turn["error"] {
            Value::Null => std::mem::take(&mut self.error),
            e => error_message(e),
        };
        let result = match turn["status"].as_str().unwrap_or_default() {
            "completed" => {
                let usage = if self.usage.turn_id == turn_id {
                    self.usage.usage
                } else {
                    Usage::default()
                };
                Ok(TurnEnd {
                    model: self.model.clone(),
                    stop_reason: "end_turn".into(),
                    usage,
                    cost_usd: 0.0,
                })
            }
            "interrupted" if error.is_empty() => {
                Err(Error::unavailable("codex: the turn was interrupted"))
            }
            "interrupted" => Err(Error::unavailable(format!(
                "codex: the turn was interrupted: {error}"
            ))),
            status => Err(Error::unavailable(if error.is_empty() {
                format!("codex: the turn ended with status {status:?}")
            } else {
                format!("codex: {error}")
            })),
        };
        Item::TurnDone { turn_id, result }
    }
}

/// The tool call a thread item stands for: (name, input), or None for messages and the like.
fn tool_of(item: &Value) -> Option<(String, Value)> {
    let s = |k: &str| item[k].as_str().unwrap_or_default().to_string();
    Some(match item["type"].as_str()? {
        "commandExecution" => (
            EXEC_TOOL.into(),
            json!({"command": item["command"], "cwd": item["cwd"]}),
        ),
        "fileChange" => {
            let changes: Vec<Value> = item["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"path": c["path"], "kind": c["kind"]["type"]}))
                .collect();
            (PATCH_TOOL.into(), json!({ "changes": changes }))
        }
        "mcpToolCall" => (
            format!("mcp__{}__{}", s("server"), s("tool")),
            item["arguments"].clone(),
        ),
        "dynamicToolCall" => (s("tool"), item["arguments"].clone()),
        "webSearch" => ("web_search".into(), json!({"query": item["query"]})),
        "imageView" => ("view_image".into(), json!({"path": item["path"]})),
        "collabAgentToolCall" => (
            s("tool"),
            json!({"prompt": item["prompt"], "receiverThreadIds": item["receiverThreadIds"]}),
        ),
        _ => return None,
    })
}

/// What a finished tool item produced.
fn tool_output(item: &Value) -> String {
    match item["type"].as_str().unwrap_or_default() {
        "commandExecution" => {
            let mut o = item["aggregatedOutput"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(code) = item["exitCode"].as_i64()
                && code != 0
            {
                o.push_str(&format!("\n(exit code {code})"));
            }
            o
        }
        "fileChange" => {
            let n = item["changes"].as_array().map_or(0, Vec::len);
            match item["status"].as_str() {
                Some("failed") => "the patch did not apply".into(),
                _ => format!("applied {n} change(s)"),
            }
        }
        "mcpToolCall" => match &item["error"] {
            Value::Null => content_text(&item["result"]["content"]),
            e => error_message(e),
        },
        "dynamicToolCall" => content_text(&item["contentItems"]),
        _ => String::new(),
    }
}

/// Text of MCP-style content blocks.
fn content_text(v: &Value) -> String {
    match v {
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn error_message(e: &Value) -> String {
    let msg = e["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string());
    match e["additionalDetails"].as_str() {
        Some(d) if !d.is_empty() => format!("{msg} ({d})"),
        _ => msg,
    }
}

/// An update's diff as Codex gives it may lack the file headers: add them.
fn with_headers(cwd: &str, path: &str, move_path: Option<&str>, text: &str) -> String {
    if text.starts_with("--- ") || text.starts_with("diff ") || text.is_empty() {
        return text.to_string();
    }
    let name = diff::header_name(cwd, path);
    let to = diff::header_name(cwd, move_path.unwrap_or(path));
    format!("--- a/{name}\n+++ b/{to}\n{text}")
}

fn warning(msg: String) -> Item {
    Item::Event(ProviderEvent::Warning(msg))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
