//! Anthropic Messages: `POST /v1/messages` (Claude Code adds `?beta=true`), SSE `message_start`,
//! `content_block_start` / `content_block_delta` (`text_delta`, `thinking_delta`,
//! `input_json_delta`) / `content_block_stop`, `message_delta`, `message_stop`; or one `message`
//! JSON. `POST /v1/messages/count_tokens` answers a rough count.

use super::{
    Collected, Encoder, MODEL, Script, Shared, ToolCall, ToolResult, Wire, answer, content_text,
    sse_event, take_script,
};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (r, script) = take_script(
        &shared,
        Wire::Anthropic,
        "/v1/messages",
        &query,
        &headers,
        &body,
    );
    if !r.body.is_object() {
        return super::error_response(400, error_body(400, "bad json"));
    }
    let model = r.body["model"].as_str().unwrap_or(MODEL).to_string();
    let stream = r.body["stream"].as_bool() == Some(true);
    let enc = Events {
        model: model.clone(),
        index: 0,
        open: None,
    };
    answer(shared, script, stream, error_body, enc, move |s, c| {
        whole(s, c, &model)
    })
    .await
}

/// `POST /v1/messages/count_tokens`: about one token per 4 bytes of the request.
pub(crate) async fn count_tokens(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = (body.len() / 4).max(1);
    shared.record_other(super::recorded(
        Wire::Other,
        super::path_and_query("/v1/messages/count_tokens", &query),
        &headers,
        &body,
    ));
    axum::Json(json!({"input_tokens": n})).into_response()
}

fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn stop_reason(script: &Script) -> &'static str {
    if script.calls_tools() {
        "tool_use"
    } else if script.finish_reason == "length" {
        "max_tokens"
    } else {
        "end_turn"
    }
}

fn message_id() -> String {
    "msg_fake_01".to_string()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
}

struct Events {
    model: String,
    /// Index of the next content block.
    index: u64,
    /// The open text or thinking block, continued by the next delta of its kind.
    open: Option<Block>,
}

impl Events {
    fn close(&mut self, out: &mut Vec<String>) {
        if let Some(kind) = self.open.take() {
            if kind == Block::Thinking {
                out.push(sse_event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "signature_delta", "signature": "fake-signature"}}),
                ));
            }
            out.push(sse_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    fn delta(&mut self, kind: Block, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.open != Some(kind) {
            self.close(&mut out);
            let block = match kind {
                Block::Text => json!({"type": "text", "text": ""}),
                Block::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            };
            out.push(sse_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": self.index, "content_block": block}),
            ));
            self.open = Some(kind);
        }
        let delta = match kind {
            Block::Text => json!({"type": "text_delta", "text": text}),
            Block::Thinking => json!({"type": "thinking_delta", "thinking": text}),
        };
        out.push(sse_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        ));
        out
    }
}

impl Encoder for Events {
    fn start(&mut self) -> Vec<String> {
        vec![
            sse_event(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": message_id(), "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 1,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
            ),
            sse_event("ping", &json!({"type": "ping"})),
        ]
    }

    fn text(&mut self, text: &str) -> Vec<String> {
        self.delta(Block::Text, text)
    }

    fn reasoning(&mut self, text: &str) -> Vec<String> {
        self.delta(Block::Thinking, text)
    }

    /// `content_block_start` with an empty input, the input JSON in two `input_json_delta`s, stop.
    fn tool_call(&mut self, call: &ToolCall) -> Vec<String> {
        let mut out = Vec::new();
        self.close(&mut out);
        let id = tool_use_id(&call.id);
        out.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index,
                    "content_block": {"type": "tool_use", "id": id, "name": call.name, "input": {}}}),
        ));
        let input = call.input.as_json().to_string();
        let mid = (input.len() / 2..input.len())
            .find(|i| input.is_char_boundary(*i))
            .unwrap_or(input.len());
        for part in [&input[..mid], &input[mid..]] {
            out.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": self.index,
                        "delta": {"type": "input_json_delta", "partial_json": part}}),
            ));
        }
        out.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": self.index}),
        ));
        self.index += 1;
        out
    }

    fn finish(&mut self, script: &Script) -> Vec<String> {
        let mut out = Vec::new();
        self.close(&mut out);
        out.push(sse_event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(script), "stop_sequence": null},
                    "usage": {"input_tokens": script.usage.prompt_tokens,
                              "output_tokens": script.usage.completion_tokens,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}),
        ));
        out.push(sse_event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

/// Anthropic tool-use ids start with `toolu_`.
fn tool_use_id(call_id: &str) -> String {
    format!("toolu_{call_id}")
}

fn whole(script: &Script, c: Collected, model: &str) -> Value {
    let mut content = Vec::new();
    if !c.reasoning.is_empty() {
        content.push(
            json!({"type": "thinking", "thinking": c.reasoning, "signature": "fake-signature"}),
        );
    }
    if !c.text.is_empty() {
        content.push(json!({"type": "text", "text": c.text}));
    }
    for call in &c.calls {
        content.push(
            json!({"type": "tool_use", "id": tool_use_id(&call.id), "name": call.name,
                            "input": call.input.as_json()}),
        );
    }
    json!({
        "id": message_id(), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason(script), "stop_sequence": null,
        "usage": {"input_tokens": script.usage.prompt_tokens,
                  "output_tokens": script.usage.completion_tokens},
    })
}

/// `(role, text)` per message; a leading `system` (string or blocks) becomes a `system` entry.
pub(crate) fn history(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !body["system"].is_null() {
        out.push(("system".to_string(), content_text(&body["system"])));
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        let text = match &m["content"] {
            Value::Array(blocks) => blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            other => content_text(other),
        };
        out.push((m["role"].as_str().unwrap_or_default().to_string(), text));
    }
    out
}

pub(crate) fn tool_results(body: &Value) -> Vec<ToolResult> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| ToolResult {
            call_id: b["tool_use_id"].as_str().unwrap_or_default().to_string(),
            output: content_text(&b["content"]),
            is_error: b["is_error"].as_bool() == Some(true),
        })
        .collect()
}

pub(crate) fn tools(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{json, post, sse};
    use super::super::{FakeModel, Match, Script, Step};
    use super::*;

    #[tokio::test]
    async fn streams_text_then_tool_use_and_reads_the_tool_result() {
        let fake = FakeModel::start().await;
        fake.push(
            Script::new(vec![
                Step::Reasoning {
                    text: "hmm".into(),
                    delay: std::time::Duration::ZERO,
                },
                Step::text("I'll write it."),
                Step::tool("Write", json!({"file_path": "/w/a.txt", "content": "hi"})),
            ])
            .when(Match::offers_tool("Write")),
        );
        fake.push(Script::answer("It was denied.").when(Match::offers_tool("Write")));
        let url = format!("{}/v1/messages?beta=true", fake.root_url());
        let tools = json!([{"name": "Write", "input_schema": {}}]);
        let resp = post(
            &url,
            json!({"model": "claude-x", "stream": true, "max_tokens": 100, "tools": tools,
                   "system": [{"type": "text", "text": "be brief"}],
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "write a.txt"}]}]}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let events = sse(&resp.text().await.unwrap());
        let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta", // signature
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for (e, d) in &events {
            assert_eq!(json(d)["type"], *e, "event name matches data type");
        }
        let tool_start = json(&events[9].1);
        assert_eq!(tool_start["index"], 2);
        assert_eq!(tool_start["content_block"]["type"], "tool_use");
        assert_eq!(tool_start["content_block"]["name"], "Write");
        let id = tool_start["content_block"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with("toolu_"));
        let partial: String = [10, 11]
            .iter()
            .map(|i| {
                json(&events[*i].1)["delta"]["partial_json"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(json(&partial)["file_path"], "/w/a.txt");
        assert_eq!(json(&events[13].1)["delta"]["stop_reason"], "tool_use");
        assert_eq!(json(&events[7].1)["delta"]["text"], "I'll write it.");

        // The next request carries the (denied) tool result and gets the next script, unstreamed.
        let resp = post(
            &url,
            json!({"model": "claude-x", "max_tokens": 100, "tools": tools, "messages": [
                {"role": "user", "content": "write a.txt"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Write", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "is_error": true,
                    "content": "The user doesn't want to proceed"}]}]}),
        )
        .await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["content"][0]["text"], "It was denied.");
        assert_eq!(v["stop_reason"], "end_turn");
        let reqs = fake.requests();
        assert_eq!(reqs[0].path, "/v1/messages?beta=true");
        assert_eq!(reqs[0].history()[0], ("system".into(), "be brief".into()));
        assert_eq!(reqs[0].last_user_text(), "write a.txt");
        let results = reqs[1].tool_results();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_error);
        assert_eq!(results[0].call_id, id);
        assert!(results[0].output.contains("doesn't want"));
    }

    #[tokio::test]
    async fn errors_in_anthropic_shape_and_counts_tokens() {
        let fake = FakeModel::start().await;
        fake.push(Script::http_error(529, "Overloaded"));
        let resp = post(
            &format!("{}/v1/messages", fake.root_url()),
            json!({"model": "m", "stream": true, "messages": []}),
        )
        .await;
        assert_eq!(resp.status(), 529);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "overloaded_error");
        let resp = post(
            &format!("{}/v1/messages/count_tokens?beta=true", fake.root_url()),
            json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
        let v: Value = resp.json().await.unwrap();
        assert!(v["input_tokens"].as_u64().unwrap() > 0);
        assert_eq!(
            fake.request_count(),
            1,
            "count_tokens is not a model request"
        );
        assert_eq!(fake.all_requests().len(), 2);
    }
}
