//! The pure half of the Claude adapter: one stream-json stdout line in, what it means out
//! (events, a permission request, the turn's end). Keeps what spans lines: tool uses until their
//! results, the session id, the model.

use super::wire::{self, Block, Delta, Event, Line};
use crate::provider::cli::{clip, inside};
use crate::provider::{ApprovalAnswer, ProviderEvent, TurnEnd, diff};
use agentmux_shared::types::{Decision, PlanEntry, PlanStatus, ToolCall, ToolCallStatus, Usage};
use agentmux_shared::{Error, Result};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) const DEFAULT_DENY: &str = "The user denied this";
/// Tools that only edit files: what the `auto-edit` policy allows without asking.
const EDIT_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

/// A `can_use_tool` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Permission {
    pub request_id: String,
    /// The tool use it is about, so a refusal can mark that call denied.
    pub tool_use_id: String,
    pub tool: String,
    pub input: Value,
    pub suggestions: Value,
    pub summary: String,
    pub diff: String,
    /// A file edit inside the session's directory (what `auto-edit` allows without asking).
    pub edit: bool,
}

/// The `control_response` answering a permission request (no answer denies).
pub(super) fn permission_response(p: &Permission, answer: Option<&ApprovalAnswer>) -> Value {
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
    /// Its permission was refused: its failed result is reported as denied.
    denied: bool,
}

/// Turns stdout lines into items; keeps what spans lines (tool uses, session id, model).
pub(crate) struct Parser {
    cwd: String,
    tools: HashMap<String, ToolUse>,
    pub session_id: String,
    pub model: String,
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
            saw_init: false,
        }
    }

    /// The permission for this tool use was refused.
    pub fn denied(&mut self, tool_use_id: &str) {
        if let Some(u) = self.tools.get_mut(tool_use_id) {
            u.denied = true;
        }
    }

    pub fn line(&mut self, line: &str) -> Vec<Item> {
        let line = line.trim();
        if line.is_empty() {
            return Vec::new();
        }
        let parsed = match serde_json::from_str::<Line>(line) {
            Ok(l) => l,
            Err(e) => return unreadable(line, &e),
        };
        match parsed {
            Line::System(s) => self.system(s),
            Line::StreamEvent(e) => stream_event(e).into_iter().collect(),
            Line::Assistant(m) => self.tool_uses(m.message.content.blocks()),
            Line::User(m) => self.tool_results(m.message.content.blocks()),
            Line::ControlRequest(r) => vec![self.control_request(r)],
            Line::ControlResponse(r) => match r.response.subtype.as_deref() {
                Some("error") => vec![Item::Event(ProviderEvent::Warning(format!(
                    "claude refused a control request: {}",
                    r.response.error.unwrap_or_default()
                )))],
                _ => Vec::new(),
            },
            Line::ControlCancelRequest {} => Vec::new(),
            Line::Result(r) => vec![Item::Result(self.result(r))],
            Line::Unknown => unknown(line),
        }
    }

    fn system(&mut self, s: wire::System) -> Vec<Item> {
        if s.subtype.as_deref() != Some("init") {
            return Vec::new();
        }
        self.saw_init = true;
        if let Some(m) = s.model {
            self.model = m.trim_end_matches("[1m]").to_string();
        }
        let id = s.session_id.unwrap_or_default();
        if id.is_empty() || id == self.session_id {
            return Vec::new();
        }
        self.session_id = id.clone();
        vec![Item::Event(ProviderEvent::SessionId(id))]
    }

    fn tool_uses(&mut self, blocks: Vec<Block>) -> Vec<Item> {
        let mut out = Vec::new();
        for b in blocks {
            let Block::ToolUse { id, name, input } = b else {
                continue;
            };
            let (id, name) = (id.unwrap_or_default(), name.unwrap_or_default());
            let input_json = input.to_string();
            let change = file_change(&self.cwd, &name, &input);
            if name == "TodoWrite"
                && let Some(entries) = todo_plan(&input)
            {
                out.push(Item::Event(ProviderEvent::Plan(entries)));
            }
            self.tools.insert(
                id.clone(),
                ToolUse {
                    name: name.clone(),
                    input_json: input_json.clone(),
                    change,
                    denied: false,
                },
            );
            out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
                id,
                name,
                input_json,
                status: ToolCallStatus::Started,
                output: String::new(),
            })));
        }
        out
    }

    fn tool_results(&mut self, blocks: Vec<Block>) -> Vec<Item> {
        let mut out = Vec::new();
        for b in blocks {
            let Block::ToolResult {
                tool_use_id,
                is_error,
                content,
            } = b
            else {
                continue;
            };
            let id = tool_use_id.unwrap_or_default();
            let failed = is_error == Some(true);
            let used = self.tools.remove(&id);
            let denied = failed && used.as_ref().is_some_and(|u| u.denied);
            let (name, input_json) = used
                .as_ref()
                .map(|u| (u.name.clone(), u.input_json.clone()))
                .unwrap_or_default();
            out.push(Item::Event(ProviderEvent::ToolCall(ToolCall {
                id,
                name,
                input_json,
                status: if denied {
                    ToolCallStatus::Denied
                } else if failed {
                    ToolCallStatus::Failed
                } else {
                    ToolCallStatus::Finished
                },
                output: content_text(&content),
            })));
            if !failed && let Some((path, diff)) = used.and_then(|u| u.change) {
                out.push(Item::Event(ProviderEvent::FileChanged { path, diff }));
            }
        }
        out
    }

    fn control_request(&mut self, c: wire::ControlRequest) -> Item {
        let request_id = c.request_id.unwrap_or_default();
        let r = c.request;
        let subtype = r.subtype.unwrap_or_default();
        if subtype != "can_use_tool" {
            return Item::Control {
                request_id,
                subtype,
            };
        }
        let tool = r.tool_name.unwrap_or_default();
        // Diff against the file as it is now, just before the edit.
        let change = file_change(&self.cwd, &tool, &r.input);
        if let Some(u) = self
            .tools
            .get_mut(r.tool_use_id.as_deref().unwrap_or_default())
        {
            u.change = change.clone();
        }
        Item::Permission(Permission {
            request_id,
            tool_use_id: r.tool_use_id.unwrap_or_default(),
            summary: summary(&tool, &r.input, r.description.as_deref()),
            diff: change.map(|(_, d)| d).unwrap_or_default(),
            edit: is_edit(&self.cwd, &tool, &r.input),
            tool,
            input: r.input,
            suggestions: r.permission_suggestions,
        })
    }

    fn result(&mut self, r: wire::ResultLine) -> Result<TurnEnd> {
        let subtype = r.subtype.as_deref().unwrap_or_default();
        if let Some(id) = r.session_id
            && self.session_id.is_empty()
        {
            self.session_id = id;
        }
        if r.is_error == Some(true) || (subtype != "success" && !subtype.is_empty()) {
            let detail = r
                .result
                .filter(|r| !r.is_empty())
                .or_else(|| {
                    r.errors.map(|e| {
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
        let u = r.usage.unwrap_or_default();
        let n = |v: Option<u64>| v.unwrap_or(0);
        Ok(TurnEnd {
            model: self.model.clone(),
            stop_reason: r.stop_reason.unwrap_or_else(|| "end_turn".into()),
            usage: Usage {
                input_tokens: n(u.input_tokens)
                    + n(u.cache_read_input_tokens)
                    + n(u.cache_creation_input_tokens),
                output_tokens: n(u.output_tokens),
                reasoning_tokens: 0,
            },
            cost_usd: r.total_cost_usd.unwrap_or(0.0),
        })
    }
}

/// The answer's own text and thinking (a subagent's stream is not the answer).
fn stream_event(e: wire::StreamEvent) -> Option<Item> {
    if e.parent_tool_use_id.is_some() {
        return None;
    }
    let Event::ContentBlockDelta { delta } = e.event else {
        return None;
    };
    let ev = match delta {
        Delta::Text { text: Some(t) } if !t.is_empty() => ProviderEvent::Text(t),
        Delta::Thinking { thinking: Some(t) } if !t.is_empty() => ProviderEvent::Reasoning(t),
        _ => return None,
    };
    Some(Item::Event(ev))
}

/// A line that did not parse: not JSON, a line without a `type`, or a known line whose fields
/// are not what the protocol says.
fn unreadable(line: &str, e: &serde_json::Error) -> Vec<Item> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(line) {
        tracing::warn!(error = %e, line = %clip(line, 300), "claude printed a line that is not JSON");
        return vec![Item::Event(ProviderEvent::Warning(format!(
            "claude printed a line that is not JSON ({e}): {}",
            clip(line, 200)
        )))];
    }
    let kind = kind(line);
    if kind.is_empty() {
        return unknown(line);
    }
    tracing::warn!(kind, error = %e, line = %clip(line, 300), "claude printed a line agentmux cannot read");
    vec![Item::Event(ProviderEvent::Warning(format!(
        "claude printed a {kind} line agentmux cannot read: {e}"
    )))]
}

fn unknown(line: &str) -> Vec<Item> {
    let kind = kind(line);
    tracing::warn!(kind, line = %clip(line, 300), "unknown line from claude");
    vec![Item::Event(ProviderEvent::Warning(format!(
        "claude printed an unknown line (type {kind:?})"
    )))]
}

/// A line's `type` ("" when it has none).
fn kind(line: &str) -> String {
    serde_json::from_str::<wire::Tag>(line)
        .ok()
        .and_then(|t| t.kind)
        .unwrap_or_default()
}

/// A file edit inside the session's directory: what `auto-edit` allows without asking.
pub(super) fn is_edit(cwd: &str, tool: &str, input: &Value) -> bool {
    if !EDIT_TOOLS.contains(&tool) {
        return false;
    }
    let f = wire::FileInput::deserialize(input).unwrap_or_default();
    let path = f.file_path.or(f.notebook_path).unwrap_or_default();
    inside(cwd, &path)
}

/// Claude keeps its plan as a todo list: `TodoWrite {todos:[{content,status,activeForm}]}`.
fn todo_plan(input: &Value) -> Option<Vec<PlanEntry>> {
    let t = wire::TodoInput::deserialize(input).ok()?;
    Some(
        t.todos
            .into_iter()
            .map(|t| PlanEntry {
                content: t.content.unwrap_or_default(),
                status: PlanStatus::from_agent(t.status.as_deref().unwrap_or_default()),
                priority: t.priority.unwrap_or_default(),
            })
            .collect(),
    )
}

/// `(path, diff)` of the file a Write / Edit / MultiEdit input changes.
pub(super) fn file_change(cwd: &str, tool: &str, input: &Value) -> Option<(String, String)> {
    if !matches!(tool, "Write" | "Edit" | "MultiEdit") {
        return None;
    }
    let f = wire::FileInput::deserialize(input).ok()?;
    let path = f.file_path?;
    let old = diff::read_within(cwd, &path);
    let edit = |text: &str, e: &wire::Edit| {
        diff::replace(
            text,
            e.old_string.as_deref().unwrap_or_default(),
            e.new_string.as_deref().unwrap_or_default(),
            e.replace_all == Some(true),
        )
    };
    let new = match tool {
        "Write" => f.content?,
        "Edit" => edit(&old, &f.edit),
        _ => f.edits?.iter().fold(old.clone(), |t, e| edit(&t, e)),
    };
    let d = diff::unified(cwd, &path, &old, &new);
    Some((path, d))
}

/// What a permission request shows: the tool and what it touches.
fn summary(tool: &str, input: &Value, description: Option<&str>) -> String {
    // Tool inputs have a schema per tool; these keys name what most of them touch.
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
#[path = "parser_tests.rs"]
mod tests;
