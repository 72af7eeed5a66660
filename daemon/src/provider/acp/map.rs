//! The pure half of the ACP adapter: `session/update` notifications, `session/request_permission`
//! requests and `session/prompt` results (as JSON) turned into agentmux events. No I/O, so the
//! recorded fixtures of every CLI run through exactly this code in the unit tests.

use super::super::{ProviderEvent, TurnEnd, diff};
use agentmux_shared::types::{Decision, PlanEntry, PlanStatus, ToolCall, ToolCallStatus, Usage};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Tool kinds that only change files (what the `auto-edit` policy allows without asking).
const EDIT_KINDS: &[&str] = &["edit", "delete", "move"];

/// A tool call seen in updates or a permission request, until it ends.
#[derive(Debug, Clone, Default)]
struct Tool {
    name: String,
    input: Value,
    /// `(absolute path, old text, new text)` of the latest `diff` content seen for it.
    change: Option<(String, String, String)>,
    /// A permission for it was rejected (Gemini then reports nothing more about it).
    rejected: bool,
    ended: bool,
}

/// A `session/request_permission` request, ready to become an approval.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Permission {
    pub tool_call_id: String,
    pub tool: String,
    pub input_json: String,
    pub summary: String,
    pub diff: String,
    pub edit: bool,
    /// The files the tool call names (its diffs and locations): granting it lets the agent
    /// write them through `fs/write_text_file` for the rest of the turn.
    pub paths: Vec<String>,
    /// `(kind, optionId)` as the agent offered them.
    pub options: Vec<(String, String)>,
}

impl Permission {
    /// The JSON-RPC result answering it: the option of the decision's kind, by its id.
    /// No answer (the approval was dropped) rejects; no option of a fitting kind cancels.
    pub fn response(&self, decision: Option<Decision>) -> Value {
        let kinds: &[&str] = match decision {
            Some(Decision::AllowOnce) => &["allow_once", "allow_always"],
            Some(Decision::AllowAlways) => &["allow_always", "allow_once"],
            Some(Decision::Deny) | None => &["reject_once", "reject_always"],
        };
        let chosen = kinds
            .iter()
            .find_map(|k| self.options.iter().find(|(kind, _)| kind == k));
        match chosen {
            Some((_, id)) => json!({"outcome": {"outcome": "selected", "optionId": id}}),
            None => cancelled_outcome(),
        }
    }
}

/// The answer to a permission request whose turn was cancelled.
pub(crate) fn cancelled_outcome() -> Value {
    json!({"outcome": {"outcome": "cancelled"}})
}

/// Keeps what spans updates within one session: tool calls, reported changes, usage.
pub(crate) struct Mapper {
    cwd: String,
    tools: HashMap<String, Tool>,
    /// Tool calls whose change was already reported as `FileChanged`.
    reported: HashSet<String>,
    /// Usage reported inside updates (Qwen: an empty chunk with `_meta.usage`), this turn.
    pub usage: Usage,
}

impl Mapper {
    pub fn new(cwd: &str) -> Mapper {
        Mapper {
            cwd: cwd.to_string(),
            tools: HashMap::new(),
            reported: HashSet::new(),
            usage: Usage::default(),
        }
    }

    /// A new turn starts: usage counts from zero.
    pub fn start_turn(&mut self) {
        self.usage = Usage::default();
    }

    /// Events for one `session/update` notification's params.
    pub fn update(&mut self, params: &Value) -> Vec<ProviderEvent> {
        let u = &params["update"];
        let Some(kind) = u["sessionUpdate"].as_str() else {
            tracing::warn!(params = %clip(&params.to_string(), 300), "malformed session/update");
            return vec![ProviderEvent::Warning(format!(
                "the agent sent a malformed session/update: {}",
                clip(&params.to_string(), 200)
            ))];
        };
        let mut out = Vec::new();
        match kind {
            "agent_message_chunk" | "agent_thought_chunk" => {
                self.meta_usage(&u["_meta"]["usage"]);
                let text = content_text(&u["content"]);
                if !text.is_empty() {
                    out.push(if kind == "agent_message_chunk" {
                        ProviderEvent::Text(text)
                    } else {
                        ProviderEvent::Reasoning(text)
                    });
                }
            }
            "tool_call" | "tool_call_update" => out.extend(self.tool_update(u)),
            "plan" => {
                let entries = u["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| PlanEntry {
                        content: s(&e["content"]),
                        status: PlanStatus::from_agent(e["status"].as_str().unwrap_or_default()),
                        priority: s(&e["priority"]),
                    })
                    .collect();
                out.push(ProviderEvent::Plan(entries));
            }
            // History replays, commands, modes, titles, …: nothing a turn reports.
            other => tracing::debug!(kind = other, "ignored session/update"),
        }
        out
    }

    fn meta_usage(&mut self, u: &Value) {
        if !u.is_object() {
            return;
        }
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        self.usage.add(&Usage {
            input_tokens: n("inputTokens"),
            output_tokens: n("outputTokens"),
            reasoning_tokens: n("thoughtTokens"),
        });
    }

    fn tool_update(&mut self, u: &Value) -> Vec<ProviderEvent> {
        let id = s(&u["toolCallId"]);
        let first = !self.tools.contains_key(&id);
        let change = self.diff_content(&u["content"]);
        let t = self.tools.entry(id.clone()).or_default();
        if t.name.is_empty() {
            t.name = tool_name(u);
        }
        if has_input(&u["rawInput"]) {
            t.input = u["rawInput"].clone();
        }
        if change.is_some() {
            t.change = change;
        }
        let status = match u["status"].as_str().unwrap_or_default() {
            "completed" => ToolCallStatus::Finished,
            "failed" if t.rejected => ToolCallStatus::Denied,
            "failed" => ToolCallStatus::Failed,
            _ if first => ToolCallStatus::Started,
            _ => ToolCallStatus::Updated,
        };
        if matches!(
            status,
            ToolCallStatus::Finished | ToolCallStatus::Failed | ToolCallStatus::Denied
        ) {
            t.ended = true;
        }
        let call = ToolCall {
            id: id.clone(),
            name: t.name.clone(),
            input_json: input_json(&t.input),
            status,
            output: content_text_all(&u["content"]),
        };
        let mut out = vec![ProviderEvent::ToolCall(call)];
        if status == "finished"
            && let Some((path, old, new)) = t.change.clone()
            && self.reported.insert(id)
        {
            let d = diff::unified(&self.cwd, &path, &old, &new);
            if !d.is_empty() {
                out.push(ProviderEvent::FileChanged { path, diff: d });
            }
        }
        out
    }

    /// The first `diff` content block, its path made absolute against the session's cwd.
    fn diff_content(&self, content: &Value) -> Option<(String, String, String)> {
        content.as_array()?.iter().find_map(|c| {
            (c["type"] == "diff").then(|| {
                (
                    self.absolute(&s(&c["path"])),
                    s(&c["oldText"]),
                    s(&c["newText"]),
                )
            })
        })
    }

    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    fn absolute(&self, path: &str) -> String {
        if path.is_empty() || Path::new(path).is_absolute() {
            return path.to_string();
        }
        Path::new(&self.cwd).join(path).display().to_string()
    }

    /// A permission request's params; the tool call it names is remembered (and reported as
    /// started when it is new: Gemini sends no `tool_call` before asking).
    pub fn permission(&mut self, params: &Value) -> (Permission, Vec<ProviderEvent>) {
        let tc = &params["toolCall"];
        let id = s(&tc["toolCallId"]);
        let diffs: Vec<(String, String, String)> = tc["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == "diff")
            .map(|c| {
                (
                    self.absolute(&s(&c["path"])),
                    s(&c["oldText"]),
                    s(&c["newText"]),
                )
            })
            .collect();
        let only_diffs = tc["content"]
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.iter().all(|x| x["type"] == "diff"));
        let kind = s(&tc["kind"]);
        let locations: Vec<String> = tc["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["path"].as_str().filter(|p| !p.is_empty()))
            .map(|p| self.absolute(p))
            .collect();
        let mut events = Vec::new();
        let first = !self.tools.contains_key(&id);
        let t = self.tools.entry(id.clone()).or_default();
        if t.name.is_empty() {
            t.name = tool_name(tc);
        }
        if t.input.is_null() && has_input(&tc["rawInput"]) {
            t.input = tc["rawInput"].clone();
        }
        if let Some(c) = diffs.first() {
            t.change = Some(c.clone());
        }
        if first {
            events.push(ProviderEvent::ToolCall(ToolCall {
                id: id.clone(),
                name: t.name.clone(),
                input_json: input_json(&t.input),
                status: ToolCallStatus::Started,
                output: String::new(),
            }));
        }
        let input = if has_input(&tc["rawInput"]) {
            tc["rawInput"].clone()
        } else if !t.input.is_null() {
            t.input.clone()
        } else {
            json!({"title": tc["title"], "kind": tc["kind"], "locations": tc["locations"]})
        };
        let title = s(&tc["title"]);
        let location = tc["locations"][0]["path"].as_str().unwrap_or_default();
        let summary = if !title.is_empty() && (location.is_empty() || title.contains(location)) {
            title
        } else {
            format!(
                "{} {}",
                if kind.is_empty() { &t.name } else { &kind },
                location
            )
        };
        // Only an edit grants writing its files: allowing a read or a command does not.
        let mut paths: Vec<String> = Vec::new();
        if EDIT_KINDS.contains(&kind.as_str()) {
            paths.extend(diffs.iter().map(|(p, _, _)| p.clone()));
            paths.extend(locations);
        }
        let perm = Permission {
            paths,
            tool_call_id: id,
            tool: t.name.clone(),
            input_json: input.to_string(),
            summary: clip(summary.trim(), 300),
            diff: diffs
                .iter()
                .map(|(p, o, n)| diff::unified(&self.cwd, p, o, n))
                .collect::<Vec<_>>()
                .join(""),
            // Only file edits inside the session's directory count as edits.
            edit: EDIT_KINDS.contains(&kind.as_str())
                && only_diffs
                && !diffs.is_empty()
                && diffs
                    .iter()
                    .all(|(p, _, _)| super::super::cli::inside(&self.cwd, p)),
            options: params["options"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| (s(&o["kind"]), s(&o["optionId"])))
                .collect(),
        };
        (perm, events)
    }

    /// The permission for this tool call was not granted.
    pub fn rejected(&mut self, tool_call_id: &str) {
        if let Some(t) = self.tools.get_mut(tool_call_id) {
            t.rejected = true;
        }
    }

    /// The turn's `session/prompt` result. Rejected tool calls the agent never closed are
    /// reported as denied first.
    pub fn finish(&mut self, result: &Value, model: &str) -> (Vec<ProviderEvent>, TurnEnd) {
        let mut events = Vec::new();
        let mut open: Vec<(&String, &mut Tool)> = self
            .tools
            .iter_mut()
            .filter(|(_, t)| t.rejected && !t.ended)
            .collect();
        open.sort_by(|a, b| a.0.cmp(b.0));
        for (id, t) in open {
            t.ended = true;
            events.push(ProviderEvent::ToolCall(ToolCall {
                id: id.clone(),
                name: t.name.clone(),
                input_json: input_json(&t.input),
                status: ToolCallStatus::Denied,
                output: "The user rejected this tool call.".into(),
            }));
        }
        self.tools.retain(|_, t| !t.ended);
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
        let u = &result["usage"];
        let quota = &result["_meta"]["quota"]["token_count"];
        let usage = if u.is_object() {
            // OpenCode
            Usage {
                input_tokens: n(u, "inputTokens"),
                output_tokens: n(u, "outputTokens"),
                reasoning_tokens: n(u, "thoughtTokens"),
            }
        } else if quota.is_object() {
            // Gemini
            Usage {
                input_tokens: n(quota, "input_tokens"),
                output_tokens: n(quota, "output_tokens"),
                reasoning_tokens: 0,
            }
        } else {
            // Qwen: summed from the updates
            self.usage
        };
        let end = TurnEnd {
            model: model.to_string(),
            stop_reason: result["stopReason"]
                .as_str()
                .unwrap_or("end_turn")
                .to_string(),
            usage,
            cost_usd: 0.0,
        };
        (events, end)
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn tool_name(tc: &Value) -> String {
    [&tc["title"], &tc["kind"]]
        .iter()
        .find_map(|v| v.as_str().filter(|x| !x.is_empty()))
        .unwrap_or("tool")
        .to_string()
}

/// `rawInput` that says something (OpenCode's first `tool_call` has `{}`).
fn has_input(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

fn input_json(v: &Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        v.to_string()
    }
}

/// The text of one content block (`{"type":"text","text":…}`).
fn content_text(c: &Value) -> String {
    if c["type"] == "text" {
        s(&c["text"])
    } else {
        String::new()
    }
}

/// The text of a tool call's content list (`{"type":"content","content":{…text…}}` blocks).
fn content_text_all(content: &Value) -> String {
    content
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "content")
        .map(|c| content_text(&c["content"]))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) use super::super::cli::clip;

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// What a recorded run's agent sent, turned into events by one mapper (cwd `/WORK`).
    /// Permission requests are answered as recorded; `rejected` is noted like the adapter does.
    struct Run {
        events: Vec<ProviderEvent>,
        perms: Vec<Permission>,
        ends: Vec<TurnEnd>,
    }

    fn replay(cli: &str, name: &str) -> Run {
        let path = format!(
            "{}/../tests/fixtures/cli/{cli}/{name}.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut m = Mapper::new("/WORK");
        let mut run = Run {
            events: Vec::new(),
            perms: Vec::new(),
            ends: Vec::new(),
        };
        let mut prompt_ids = HashSet::new();
        let mut last_perm = None;
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let msg = &v["msg"];
            if v["dir"] == "in" {
                if msg["method"] == "session/prompt" {
                    prompt_ids.insert(msg["id"].to_string());
                    m.start_turn();
                }
                if let Some(p) = last_perm.take()
                    && msg["result"]["outcome"]["optionId"].is_string()
                {
                    let p: Permission = p;
                    let chosen = msg["result"]["outcome"]["optionId"].as_str().unwrap();
                    let kind = &p.options.iter().find(|(_, id)| id == chosen).unwrap().0;
                    if kind.starts_with("reject") {
                        m.rejected(&p.tool_call_id);
                    }
                }
                continue;
            }
            if v["dir"] != "out" {
                continue;
            }
            match msg["method"].as_str() {
                Some("session/update") => run.events.extend(m.update(&msg["params"])),
                Some("session/request_permission") => {
                    let (p, ev) = m.permission(&msg["params"]);
                    run.events.extend(ev);
                    last_perm = Some(p.clone());
                    run.perms.push(p);
                }
                Some(_) => {}
                None if prompt_ids.contains(&msg["id"].to_string())
                    && msg["result"].is_object() =>
                {
                    let (ev, end) = m.finish(&msg["result"], "m");
                    run.events.extend(ev);
                    run.ends.push(end);
                    prompt_ids.remove(&msg["id"].to_string());
                }
                None => {}
            }
        }
        run
    }

    fn text(ev: &[ProviderEvent]) -> String {
        ev.iter()
            .filter_map(|e| match e {
                ProviderEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn calls(ev: &[ProviderEvent]) -> Vec<(String, String)> {
        ev.iter()
            .filter_map(|e| match e {
                ProviderEvent::ToolCall(t) => Some((t.name.clone(), t.status.to_string())),
                _ => None,
            })
            .collect()
    }

    fn changes(ev: &[ProviderEvent]) -> Vec<(String, String)> {
        ev.iter()
            .filter_map(|e| match e {
                ProviderEvent::FileChanged { path, diff } => Some((path.clone(), diff.clone())),
                _ => None,
            })
            .collect()
    }

    fn warnings(ev: &[ProviderEvent]) -> usize {
        ev.iter()
            .filter(|e| matches!(e, ProviderEvent::Warning(_)))
            .count()
    }

    #[test]
    fn plain_streams_text_with_usage_per_cli() {
        for (cli, input, output) in [("gemini", 11, 7), ("qwen", 11, 7), ("opencode", 11, 7)] {
            let r = replay(cli, "plain");
            assert_eq!(text(&r.events), "Hello from the fake model.", "{cli}");
            assert_eq!(warnings(&r.events), 0, "{cli}");
            assert_eq!(r.ends.len(), 1, "{cli}");
            assert_eq!(r.ends[0].stop_reason, "end_turn", "{cli}");
            assert_eq!(
                (r.ends[0].usage.input_tokens, r.ends[0].usage.output_tokens),
                (input, output),
                "{cli}"
            );
        }
    }

    #[test]
    fn write_allow_asks_by_kind_and_reports_one_change() {
        for cli in ["gemini", "qwen", "opencode"] {
            let r = replay(cli, "write_allow");
            assert_eq!(r.perms.len(), 1, "{cli}");
            let p = &r.perms[0];
            assert!(p.diff.contains("+hi"), "{cli}: {}", p.diff);
            assert!(p.edit, "{cli}: an edit with diff content only");
            assert!(!p.tool.is_empty() && !p.summary.is_empty(), "{cli}: {p:?}");
            let kinds: Vec<&str> = p.options.iter().map(|(k, _)| k.as_str()).collect();
            assert!(
                kinds.contains(&"allow_once") && kinds.contains(&"reject_once"),
                "{cli}: {kinds:?}"
            );
            // Answered by kind: each agent's own option id comes back.
            let once = p.response(Some(Decision::AllowOnce));
            let id = &p.options.iter().find(|(k, _)| k == "allow_once").unwrap().1;
            assert_eq!(once["outcome"]["optionId"], id.as_str(), "{cli}");
            let deny = p.response(None);
            let rid = &p
                .options
                .iter()
                .find(|(k, _)| k == "reject_once")
                .unwrap()
                .1;
            assert_eq!(deny["outcome"]["optionId"], rid.as_str(), "{cli}");

            let ch = changes(&r.events);
            assert_eq!(ch.len(), 1, "{cli}: {ch:?}");
            assert_eq!(ch[0].0, "/WORK/hello.txt", "{cli}");
            assert!(ch[0].1.contains("+hi"), "{cli}: {}", ch[0].1);
            let c = calls(&r.events);
            assert_eq!(
                c.first().map(|x| x.1.as_str()),
                Some("started"),
                "{cli}: {c:?}"
            );
            assert_eq!(
                c.last().map(|x| x.1.as_str()),
                Some("finished"),
                "{cli}: {c:?}"
            );
            assert_eq!(text(&r.events), "I'll create the file.Finished.", "{cli}");
            assert_eq!(warnings(&r.events), 0, "{cli}");
        }
    }

    #[test]
    fn write_deny_marks_the_tool_denied_and_changes_nothing() {
        for cli in ["gemini", "qwen", "opencode"] {
            let r = replay(cli, "write_deny");
            assert_eq!(r.perms.len(), 1, "{cli}");
            assert!(changes(&r.events).is_empty(), "{cli}");
            let c = calls(&r.events);
            assert_eq!(
                c.last().map(|x| x.1.as_str()),
                Some("denied"),
                "{cli}: {c:?}"
            );
            assert_eq!(
                c.iter().filter(|x| x.1 == "denied").count(),
                1,
                "{cli}: failed once: {c:?}"
            );
            assert_eq!(r.ends.len(), 1, "{cli}");
        }
    }

    #[test]
    fn cancel_ends_with_cancelled() {
        for cli in ["gemini", "qwen", "opencode"] {
            let r = replay(cli, "cancel");
            assert!(text(&r.events).starts_with("Working"), "{cli}");
            assert_eq!(r.ends[0].stop_reason, "cancelled", "{cli}");
        }
    }

    #[test]
    fn options_without_a_fitting_kind_cancel() {
        let p = Permission {
            options: vec![("allow_once".into(), "yes".into())],
            ..Permission::default()
        };
        assert_eq!(
            p.response(Some(Decision::AllowAlways))["outcome"]["optionId"],
            "yes"
        );
        assert_eq!(p.response(Some(Decision::Deny)), cancelled_outcome());
        assert_eq!(p.response(None), cancelled_outcome());
    }

    #[test]
    fn malformed_and_unknown_updates() {
        let mut m = Mapper::new("/w");
        assert_eq!(warnings(&m.update(&json!({"sessionId": "s"}))), 1);
        assert_eq!(warnings(&m.update(&json!({"update": "garbage"}))), 1);
        assert!(
            m.update(&json!({"update": {"sessionUpdate": "brand_new_kind", "x": 1}}))
                .is_empty()
        );
        assert!(
            m.update(&json!({"update": {"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": "old"}}}))
                .is_empty()
        );
        // A chunk with a non-text block says nothing; a thought is reasoning.
        assert!(
            m.update(&json!({"update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "image"}}}))
                .is_empty()
        );
        let ev = m.update(&json!({"update": {"sessionUpdate": "agent_thought_chunk", "content": {"type": "text", "text": "hmm"}}}));
        assert!(matches!(&ev[..], [ProviderEvent::Reasoning(t)] if t == "hmm"));
    }

    #[test]
    fn plan_and_tool_output() {
        let mut m = Mapper::new("/w");
        let ev = m.update(&json!({"update": {"sessionUpdate": "plan", "entries": [
            {"content": "Read", "status": "completed", "priority": "high"},
            {"content": "Write", "status": "in_progress", "priority": "low"}]}}));
        let [ProviderEvent::Plan(p)] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!(p[1].content, "Write");
        assert_eq!(p[1].status, "in_progress");
        assert_eq!(p[0].priority, "high");
        let ev = m.update(
            &json!({"update": {"sessionUpdate": "tool_call", "toolCallId": "t1",
            "title": "ls", "kind": "execute", "status": "pending", "rawInput": {"command": "ls"}}}),
        );
        let ev2 = m.update(&json!({"update": {"sessionUpdate": "tool_call_update", "toolCallId": "t1",
            "status": "completed", "content": [{"type": "content", "content": {"type": "text", "text": "a.txt"}}]}}));
        let [ProviderEvent::ToolCall(start)] = &ev[..] else {
            panic!("{ev:?}")
        };
        let [ProviderEvent::ToolCall(done)] = &ev2[..] else {
            panic!("{ev2:?}")
        };
        assert_eq!(
            (start.name.as_str(), start.status.as_str()),
            ("ls", "started")
        );
        assert_eq!(start.input_json, r#"{"command":"ls"}"#);
        assert_eq!(
            (done.status.as_str(), done.output.as_str()),
            ("finished", "a.txt")
        );
        assert_eq!(done.input_json, r#"{"command":"ls"}"#);
    }

    #[test]
    fn a_command_permission_is_not_an_edit() {
        let mut m = Mapper::new("/w");
        let (p, _) = m.permission(&json!({"toolCall": {"toolCallId": "c", "title": "rm -rf x",
            "kind": "execute", "rawInput": {"command": "rm -rf x"}},
            "options": [{"optionId": "a", "kind": "allow_once"}]}));
        assert!(!p.edit);
        assert_eq!(p.diff, "");
        assert_eq!(p.summary, "rm -rf x");
        assert_eq!(p.input_json, r#"{"command":"rm -rf x"}"#);
    }

    #[test]
    fn only_an_edit_grants_writing_its_files() {
        let mut m = Mapper::new("/w");
        let (read, _) = m.permission(&json!({"toolCall": {"toolCallId": "r", "kind": "read",
            "title": "read .env", "locations": [{"path": ".env"}]},
            "options": [{"optionId": "a", "kind": "allow_once"}]}));
        assert!(read.paths.is_empty(), "{:?}", read.paths);
        let (edit, _) = m.permission(&json!({"toolCall": {"toolCallId": "e", "kind": "edit",
            "title": "edit a.rs", "locations": [{"path": "a.rs"}],
            "content": [{"type": "diff", "path": "/w/a.rs", "oldText": "a", "newText": "b"}]},
            "options": [{"optionId": "a", "kind": "allow_once"}]}));
        assert_eq!(edit.paths, ["/w/a.rs", "/w/a.rs"]);
    }
}
