//! OpenAI Responses: `POST /v1/responses` (what Codex speaks). SSE `response.created`,
//! `response.output_item.added`, `response.output_text.delta` /
//! `response.reasoning_summary_text.delta`, `response.output_item.done` (a `message`, `reasoning`,
//! `function_call` or `custom_tool_call` item), `response.completed` with usage; or one `response`.

use super::{
    Collected, Encoder, MODEL, Script, Shared, ToolCall, ToolInput, ToolResult, Wire, answer,
    content_text, sse_event, take_script,
};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

const RESPONSE_ID: &str = "resp_fake";

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (r, script) = take_script(
        &shared,
        Wire::Responses,
        "/v1/responses",
        &query,
        &headers,
        &body,
    );
    if !r.body.is_object() {
        return super::error_response(400, error_body(400, "bad json (compressed body?)"));
    }
    let model = r.body["model"].as_str().unwrap_or(MODEL).to_string();
    let stream = r.body["stream"].as_bool() == Some(true);
    let enc = Events {
        model: model.clone(),
        seq: 0,
        output_index: 0,
        open: None,
        output: Vec::new(),
    };
    answer(shared, script, stream, error_body, enc, move |s, c| {
        whole(s, c, &model)
    })
    .await
}

fn error_body(status: u16, message: &str) -> Value {
    let code = match status {
        429 => "rate_limit_exceeded",
        400 => "invalid_request_error",
        _ => "server_error",
    };
    json!({"error": {"message": message, "type": code, "code": code, "param": null}})
}

fn usage(script: &Script) -> Value {
    json!({
        "input_tokens": script.usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": script.usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": script.usage.prompt_tokens + script.usage.completion_tokens,
    })
}

fn response(model: &str, status: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({
        "id": RESPONSE_ID, "object": "response", "created_at": 0, "status": status,
        "model": model, "output": output, "usage": usage,
    })
}

fn message_item(id: &str, text: &str) -> Value {
    json!({"type": "message", "id": id, "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"type": "reasoning", "id": id,
           "summary": [{"type": "summary_text", "text": text}]})
}

fn call_item(call: &ToolCall) -> Value {
    match &call.input {
        ToolInput::Json(v) => json!({
            "type": "function_call", "id": format!("fc_{}", call.id), "status": "completed",
            "call_id": call.id, "name": call.name, "arguments": v.to_string(),
        }),
        ToolInput::Freeform(s) => json!({
            "type": "custom_tool_call", "id": format!("ctc_{}", call.id), "status": "completed",
            "call_id": call.id, "name": call.name, "input": s,
        }),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Message,
    Reasoning,
}

struct Events {
    model: String,
    seq: u64,
    output_index: u64,
    /// The open message or reasoning item and its text so far.
    open: Option<(Open, String)>,
    /// Finished items, repeated in `response.completed`.
    output: Vec<Value>,
}

impl Events {
    fn event(&mut self, kind: &str, mut v: Value) -> String {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        sse_event(kind, &v)
    }

    fn item_id(&self, kind: Open) -> String {
        match kind {
            Open::Message => format!("msg_fake_{}", self.output_index),
            Open::Reasoning => format!("rs_fake_{}", self.output_index),
        }
    }

    fn close(&mut self, out: &mut Vec<String>) {
        if let Some((kind, text)) = self.open.take() {
            let id = self.item_id(kind);
            let item = match kind {
                Open::Message => message_item(&id, &text),
                Open::Reasoning => reasoning_item(&id, &text),
            };
            out.push(self.event(
                "response.output_item.done",
                json!({"output_index": self.output_index, "item": item}),
            ));
            self.output.push(item);
            self.output_index += 1;
        }
    }

    fn delta(&mut self, kind: Open, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.open.as_ref().map(|(k, _)| *k) != Some(kind) {
            self.close(&mut out);
            let id = self.item_id(kind);
            let item = match kind {
                Open::Message => json!({"type": "message", "id": id, "status": "in_progress",
                                        "role": "assistant", "content": []}),
                Open::Reasoning => json!({"type": "reasoning", "id": id, "summary": []}),
            };
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": self.output_index, "item": item}),
            ));
            self.open = Some((kind, String::new()));
        }
        let id = self.item_id(kind);
        let ev = match kind {
            Open::Message => self.event(
                "response.output_text.delta",
                json!({"item_id": id, "output_index": self.output_index, "content_index": 0,
                       "delta": text}),
            ),
            Open::Reasoning => self.event(
                "response.reasoning_summary_text.delta",
                json!({"item_id": id, "output_index": self.output_index, "summary_index": 0,
                       "delta": text}),
            ),
        };
        out.push(ev);
        if let Some((_, acc)) = self.open.as_mut() {
            acc.push_str(text);
        }
        out
    }
}

impl Encoder for Events {
    fn start(&mut self) -> Vec<String> {
        let r = response(&self.model, "in_progress", vec![], Value::Null);
        vec![self.event("response.created", json!({ "response": r }))]
    }

    fn text(&mut self, text: &str) -> Vec<String> {
        self.delta(Open::Message, text)
    }

    fn reasoning(&mut self, text: &str) -> Vec<String> {
        self.delta(Open::Reasoning, text)
    }

    fn tool_call(&mut self, call: &ToolCall) -> Vec<String> {
        let mut out = Vec::new();
        self.close(&mut out);
        let item = call_item(call);
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": self.output_index, "item": added}),
        ));
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": self.output_index, "item": item}),
        ));
        self.output.push(item);
        self.output_index += 1;
        out
    }

    fn finish(&mut self, script: &Script) -> Vec<String> {
        let mut out = Vec::new();
        self.close(&mut out);
        let r = response(
            &self.model,
            "completed",
            std::mem::take(&mut self.output),
            usage(script),
        );
        out.push(self.event("response.completed", json!({ "response": r })));
        out
    }
}

fn whole(script: &Script, c: Collected, model: &str) -> Value {
    let mut output = Vec::new();
    if !c.reasoning.is_empty() {
        output.push(reasoning_item("rs_fake_0", &c.reasoning));
    }
    if !c.text.is_empty() {
        output.push(message_item("msg_fake_0", &c.text));
    }
    output.extend(c.calls.iter().map(call_item));
    response(model, "completed", output, usage(script))
}

/// `(role, text)` of `instructions` (as `system`) and every `message` item of `input`.
pub(crate) fn history(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(s) = body["instructions"].as_str() {
        out.push(("system".to_string(), s.to_string()));
    }
    match &body["input"] {
        Value::String(s) => out.push(("user".to_string(), s.clone())),
        Value::Array(items) => {
            for it in items {
                if it["type"] == "message" || (it["type"].is_null() && it["role"].is_string()) {
                    out.push((
                        it["role"].as_str().unwrap_or_default().to_string(),
                        content_text(&it["content"]),
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

pub(crate) fn tool_results(body: &Value) -> Vec<ToolResult> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|it| {
            it["type"] == "function_call_output" || it["type"] == "custom_tool_call_output"
        })
        .map(|it| ToolResult {
            call_id: it["call_id"].as_str().unwrap_or_default().to_string(),
            output: match &it["output"] {
                Value::String(s) => s.clone(),
                Value::Array(_) => content_text(&it["output"]),
                other => other.to_string(),
            },
            is_error: false,
        })
        .collect()
}

/// Function and custom tools by name; built-in tools (e.g. `web_search`) by type.
pub(crate) fn tools(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            t["name"]
                .as_str()
                .or(t["type"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{json, post, sse};
    use super::super::{FakeModel, Script, Step};
    use super::*;

    const PATCH: &str = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n";

    #[tokio::test]
    async fn streams_text_custom_and_function_calls_with_usage() {
        let fake = FakeModel::start().await;
        fake.push(
            Script::new(vec![
                Step::text("Writing "),
                Step::text("it."),
                Step::custom_tool("apply_patch", PATCH),
                Step::tool("shell", json!({"command": ["ls"]})),
            ])
            .with_usage(20, 5),
        );
        let resp = post(
            &format!("{}/responses", fake.base_url()),
            json!({"model": "gpt-5.5", "stream": true, "instructions": "be brief",
                   "input": [{"type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": "add a.txt"}]}],
                   "tools": [{"type": "custom", "name": "apply_patch"},
                             {"type": "function", "name": "shell"}]}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let events = sse(&resp.text().await.unwrap());
        let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let msg = json(&events[4].1);
        assert_eq!(msg["item"]["content"][0]["text"], "Writing it.");
        let patch = json(&events[6].1)["item"].clone();
        assert_eq!(patch["type"], "custom_tool_call");
        assert_eq!(patch["name"], "apply_patch");
        assert_eq!(patch["input"], PATCH);
        let call = json(&events[8].1)["item"].clone();
        assert_eq!(call["type"], "function_call");
        assert_eq!(
            json(call["arguments"].as_str().unwrap())["command"][0],
            "ls"
        );
        assert_ne!(call["call_id"], patch["call_id"]);
        let done = json(&events[9].1);
        assert_eq!(done["response"]["id"], RESPONSE_ID);
        assert_eq!(done["response"]["usage"]["input_tokens"], 20);
        assert_eq!(done["response"]["usage"]["total_tokens"], 25);
        assert_eq!(done["response"]["output"].as_array().unwrap().len(), 3);
        let seqs: Vec<u64> = events
            .iter()
            .map(|(_, d)| json(d)["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..10).collect::<Vec<_>>());

        let r = &fake.requests()[0];
        assert_eq!(r.last_user_text(), "add a.txt");
        assert_eq!(r.tools(), vec!["apply_patch".to_string(), "shell".into()]);
    }

    #[tokio::test]
    async fn reads_tool_outputs_and_answers_errors() {
        let fake = FakeModel::start().await;
        fake.push(Script::http_error(429, "slow down"));
        let url = format!("{}/responses", fake.base_url());
        let resp = post(&url, json!({"model": "m", "stream": true, "input": []})).await;
        assert_eq!(resp.status(), 429);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["message"], "slow down");
        let resp = post(
            &url,
            json!({"model": "m", "input": [
                {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": PATCH},
                {"type": "custom_tool_call_output", "call_id": "c1", "output": "rejected by user"},
                {"type": "function_call_output", "call_id": "c2", "output": {"ok": true}}]}),
        )
        .await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"][0]["content"][0]["text"], "echo: ");
        let results = fake.requests()[1].tool_results();
        assert_eq!(results[0].output, "rejected by user");
        assert_eq!(results[1].call_id, "c2");
        assert_eq!(results[1].output, r#"{"ok":true}"#);
    }
}
