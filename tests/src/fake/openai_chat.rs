//! OpenAI Chat Completions: `POST /v1/chat/completions` (SSE `chat.completion.chunk`s ending in
//! `[DONE]`, or one `chat.completion`), streamed `tool_calls`, and `GET /v1/models`.

use super::{
    Collected, Encoder, MODEL, Script, Shared, ToolCall, ToolInput, ToolResult, Wire, answer,
    content_text, sse_data, take_script,
};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

const COMPLETION_ID: &str = "chatcmpl-fake";

pub(crate) async fn models() -> impl IntoResponse {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}]
    }))
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (r, script) = take_script(
        &shared,
        Wire::OpenAiChat,
        "/v1/chat/completions",
        &query,
        &headers,
        &body,
    );
    if !r.body.is_object() {
        return super::error_response(400, error_body(400, "bad json"));
    }
    let model = r.body["model"].as_str().unwrap_or(MODEL).to_string();
    let stream = r.body["stream"].as_bool() == Some(true);
    let include_usage = r.body["stream_options"]["include_usage"].as_bool() == Some(true);
    let enc = Chunks {
        model: model.clone(),
        include_usage,
        tool_index: 0,
    };
    answer(shared, script, stream, error_body, enc, move |s, c| {
        whole(s, c, &model)
    })
    .await
}

fn error_body(_status: u16, message: &str) -> Value {
    json!({"error": {"message": message, "type": "server_error", "code": null}})
}

fn finish_reason(script: &Script) -> String {
    if script.calls_tools() && script.finish_reason == "stop" {
        "tool_calls".into()
    } else {
        script.finish_reason.clone()
    }
}

fn usage(script: &Script) -> Value {
    json!({
        "prompt_tokens": script.usage.prompt_tokens,
        "completion_tokens": script.usage.completion_tokens,
        "total_tokens": script.usage.prompt_tokens + script.usage.completion_tokens,
    })
}

fn arguments(input: &ToolInput) -> String {
    input.as_json().to_string()
}

struct Chunks {
    model: String,
    include_usage: bool,
    tool_index: u64,
}

impl Chunks {
    fn chunk(&self, delta: Value, finish_reason: Value) -> String {
        sse_data(&json!({
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        }))
    }
}

impl Encoder for Chunks {
    fn start(&mut self) -> Vec<String> {
        vec![self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)]
    }

    fn text(&mut self, text: &str) -> Vec<String> {
        vec![self.chunk(json!({"content": text}), Value::Null)]
    }

    fn reasoning(&mut self, text: &str) -> Vec<String> {
        vec![self.chunk(json!({"reasoning_content": text}), Value::Null)]
    }

    /// The id and name first, then the arguments in two pieces (as real servers split them).
    fn tool_call(&mut self, call: &ToolCall) -> Vec<String> {
        let index = self.tool_index;
        self.tool_index += 1;
        let args = arguments(&call.input);
        let mid = args.len() / 2;
        let mid = (mid..args.len())
            .find(|i| args.is_char_boundary(*i))
            .unwrap_or(args.len());
        vec![
            self.chunk(
                json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": ""}}]}),
                Value::Null,
            ),
            self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": &args[..mid]}}]}),
                Value::Null,
            ),
            self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": &args[mid..]}}]}),
                Value::Null,
            ),
        ]
    }

    fn finish(&mut self, script: &Script) -> Vec<String> {
        let mut out = vec![self.chunk(json!({}), Value::String(finish_reason(script)))];
        if self.include_usage {
            out.push(sse_data(&json!({
                "id": COMPLETION_ID,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "choices": [],
                "usage": usage(script),
            })));
        }
        out.push("data: [DONE]\n\n".to_string());
        out
    }
}

fn whole(script: &Script, c: Collected, model: &str) -> Value {
    let mut message = json!({"role": "assistant", "content": c.text});
    if !c.reasoning.is_empty() {
        message["reasoning_content"] = Value::String(c.reasoning);
    }
    if !c.calls.is_empty() {
        message["tool_calls"] = c
            .calls
            .iter()
            .map(|call| {
                json!({"id": call.id, "type": "function",
                       "function": {"name": call.name, "arguments": arguments(&call.input)}})
            })
            .collect();
    }
    json!({
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(script)}],
        "usage": usage(script),
    })
}

pub(crate) fn history(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .map(|msgs| {
            msgs.iter()
                .map(|m| {
                    (
                        m["role"].as_str().unwrap_or_default().to_string(),
                        content_text(&m["content"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn tool_results(body: &Value) -> Vec<ToolResult> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| ToolResult {
            call_id: m["tool_call_id"].as_str().unwrap_or_default().to_string(),
            output: content_text(&m["content"]),
            is_error: false,
        })
        .collect()
}

pub(crate) fn tools(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{json, post, sse};
    use super::super::{FakeModel, Match, Script, Step};
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn echoes_in_chunks_with_usage_and_done() {
        let fake = FakeModel::start().await;
        let resp = post(
            &format!("{}/chat/completions", fake.base_url()),
            json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "user", "content": "hi there"}]}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let events = sse(&resp.text().await.unwrap());
        assert_eq!(events.last().unwrap().1, "[DONE]");
        let mut content = String::new();
        let mut usage = None;
        for (_, d) in &events[..events.len() - 1] {
            let v = json(d);
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                content.push_str(c);
            }
            if v["usage"].is_object() {
                usage = Some(v["usage"]["completion_tokens"].as_u64().unwrap());
            }
        }
        assert_eq!(content, "echo: hi there");
        assert_eq!(usage, Some(7));
        assert_eq!(
            fake.requests()[0].history(),
            vec![("user".into(), "hi there".into())]
        );
    }

    #[tokio::test]
    async fn scripted_error_and_non_streaming() {
        let fake = FakeModel::start().await;
        fake.push(Script::http_error(503, "overloaded"));
        fake.push(Script::chunks(&["a", "b"], Duration::ZERO));
        let url = format!("{}/chat/completions", fake.base_url());
        let resp = post(&url, json!({"messages": []})).await;
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["message"], "overloaded");
        let resp = post(&url, json!({"stream": false, "messages": []})).await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "ab");
        let models: Value = crate::http_client()
            .build()
            .unwrap()
            .get(format!("{}/models", fake.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], MODEL);
    }

    #[tokio::test]
    async fn streams_tool_calls_then_reads_the_result() {
        let fake = FakeModel::start().await;
        // A side request without tools must not take the tool script.
        fake.push(
            Script::tool_call("write_file", json!({"file_path": "a.txt", "content": "hi"}))
                .when(Match::has_tools()),
        );
        fake.push(Script::new(vec![Step::text("done")]).when(Match::has_tools()));
        let url = format!("{}/chat/completions", fake.base_url());
        let tools =
            json!([{"type": "function", "function": {"name": "write_file", "parameters": {}}}]);
        let side = post(
            &url,
            json!({"stream": false, "messages": [{"role": "user", "content": "title?"}]}),
        )
        .await;
        let v: Value = side.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "echo: title?");

        let resp = post(
            &url,
            json!({"stream": true, "tools": tools, "messages": [{"role": "user", "content": "write"}]}),
        )
        .await;
        let events = sse(&resp.text().await.unwrap());
        let mut name = String::new();
        let mut args = String::new();
        let mut id = String::new();
        let mut finish = String::new();
        for (_, d) in events.iter().filter(|(_, d)| d != "[DONE]") {
            let v = json(d);
            if let Some(tc) = v["choices"][0]["delta"]["tool_calls"][0].as_object() {
                assert_eq!(tc["index"], 0);
                if let Some(n) = tc.get("id").and_then(Value::as_str) {
                    id = n.into();
                    name = tc["function"]["name"].as_str().unwrap().into();
                }
                args.push_str(tc["function"]["arguments"].as_str().unwrap());
            }
            if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
                finish = f.into();
            }
        }
        assert_eq!(name, "write_file");
        assert_eq!(json(&args), json!({"file_path": "a.txt", "content": "hi"}));
        assert_eq!(finish, "tool_calls");

        let resp = post(
            &url,
            json!({"stream": false, "tools": tools, "messages": [
                {"role": "user", "content": "write"},
                {"role": "assistant", "tool_calls": [{"id": id, "type": "function",
                    "function": {"name": "write_file", "arguments": args}}]},
                {"role": "tool", "tool_call_id": id, "content": "User denied"}]}),
        )
        .await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "done");
        let last = fake.requests().pop().unwrap();
        assert_eq!(
            last.tool_results(),
            vec![ToolResult {
                call_id: id,
                output: "User denied".into(),
                is_error: false
            }]
        );
        assert_eq!(last.tools(), vec!["write_file".to_string()]);
        assert_eq!(fake.pending_scripts(), 0);
    }
}
