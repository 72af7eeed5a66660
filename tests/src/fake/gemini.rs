//! Gemini API: `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (SSE of
//! `GenerateContentResponse`s), `:generateContent` (one of them), `:countTokens`. Text, thought
//! (`"thought": true`) and `functionCall` parts; the last chunk carries `finishReason` and
//! `usageMetadata`.

use super::{
    Collected, Encoder, Script, Shared, ToolCall, ToolResult, Wire, answer, content_text,
    error_response, sse_data, take_script,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(call): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1beta/models/{call}");
    let (model, method) = call.split_once(':').unwrap_or((call.as_str(), ""));
    let model = model.to_string();
    let stream = match method {
        "streamGenerateContent" => true,
        "generateContent" => false,
        "countTokens" => {
            let n = (body.len() / 4).max(1);
            shared.record_other(super::recorded(
                Wire::Other,
                super::path_and_query(&path, &query),
                &headers,
                &body,
            ));
            return axum::Json(json!({"totalTokens": n})).into_response();
        }
        _ => {
            shared.record_other(super::recorded(
                Wire::Other,
                super::path_and_query(&path, &query),
                &headers,
                &body,
            ));
            return error_response(404, error_body(404, &format!("no method {method:?}")));
        }
    };
    let (r, script) = take_script(&shared, Wire::Gemini, &path, &query, &headers, &body);
    if !r.body.is_object() {
        return error_response(400, error_body(400, "bad json"));
    }
    let enc = Chunks {
        model: model.clone(),
    };
    answer(shared, script, stream, error_body, enc, move |s, c| {
        whole(s, c, &model)
    })
    .await
}

fn error_body(status: u16, message: &str) -> Value {
    let name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    json!({"error": {"code": status, "message": message, "status": name}})
}

fn usage(script: &Script) -> Value {
    json!({
        "promptTokenCount": script.usage.prompt_tokens,
        "candidatesTokenCount": script.usage.completion_tokens,
        "totalTokenCount": script.usage.prompt_tokens + script.usage.completion_tokens,
    })
}

fn finish_reason(script: &Script) -> &'static str {
    if script.finish_reason == "length" {
        "MAX_TOKENS"
    } else {
        "STOP"
    }
}

fn call_part(call: &ToolCall) -> Value {
    json!({"functionCall": {"id": call.id, "name": call.name, "args": call.input.as_json()}})
}

fn response(model: &str, parts: Vec<Value>, finish: Option<&str>, usage: Option<Value>) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    let mut v =
        json!({"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"});
    if let Some(u) = usage {
        v["usageMetadata"] = u;
    }
    v
}

pub(crate) fn model_from_path(path: &str) -> String {
    path.strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default()
        .to_string()
}

struct Chunks {
    model: String,
}

impl Encoder for Chunks {
    fn start(&mut self) -> Vec<String> {
        Vec::new()
    }

    fn text(&mut self, text: &str) -> Vec<String> {
        vec![sse_data(&response(
            &self.model,
            vec![json!({"text": text})],
            None,
            None,
        ))]
    }

    fn reasoning(&mut self, text: &str) -> Vec<String> {
        vec![sse_data(&response(
            &self.model,
            vec![json!({"text": text, "thought": true})],
            None,
            None,
        ))]
    }

    fn tool_call(&mut self, call: &ToolCall) -> Vec<String> {
        vec![sse_data(&response(
            &self.model,
            vec![call_part(call)],
            None,
            None,
        ))]
    }

    /// An empty text part with the finish reason and usage (Gemini CLI checks that the stream
    /// ends with a finish reason).
    fn finish(&mut self, script: &Script) -> Vec<String> {
        vec![sse_data(&response(
            &self.model,
            vec![json!({"text": ""})],
            Some(finish_reason(script)),
            Some(usage(script)),
        ))]
    }
}

fn whole(script: &Script, c: Collected, model: &str) -> Value {
    let mut parts = Vec::new();
    if !c.reasoning.is_empty() {
        parts.push(json!({"text": c.reasoning, "thought": true}));
    }
    if !c.text.is_empty() {
        parts.push(json!({"text": c.text}));
    }
    parts.extend(c.calls.iter().map(call_part));
    response(
        model,
        parts,
        Some(finish_reason(script)),
        Some(usage(script)),
    )
}

/// `(role, text)` of `systemInstruction` (as `system`) and every entry of `contents`; thoughts
/// are left out.
pub(crate) fn history(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !body["systemInstruction"].is_null() {
        out.push((
            "system".to_string(),
            content_text(&body["systemInstruction"]["parts"]),
        ));
    }
    for c in body["contents"].as_array().into_iter().flatten() {
        let text = c["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["thought"] != true)
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("");
        out.push((c["role"].as_str().unwrap_or("user").to_string(), text));
    }
    out
}

/// `functionResponse` parts; `call_id` is the response's `id`, else its `name`.
pub(crate) fn tool_results(body: &Value) -> Vec<ToolResult> {
    body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["parts"].as_array())
        .flatten()
        .filter_map(|p| p.get("functionResponse"))
        .map(|fr| ToolResult {
            call_id: fr["id"]
                .as_str()
                .or(fr["name"].as_str())
                .unwrap_or_default()
                .to_string(),
            output: fr["response"].to_string(),
            is_error: !fr["response"]["error"].is_null(),
        })
        .collect()
}

pub(crate) fn tools(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["functionDeclarations"].as_array())
        .flatten()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{json, post, sse};
    use super::super::{FakeModel, Script, Step};
    use super::*;

    #[tokio::test]
    async fn streams_function_call_then_text_and_counts_tokens() {
        let fake = FakeModel::start().await;
        fake.push(Script::new(vec![
            Step::text("Sure."),
            Step::tool(
                "write_file",
                json!({"file_path": "/w/a.txt", "content": "hi"}),
            ),
        ]));
        fake.push(Script::answer("Done."));
        let url = format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            fake.root_url()
        );
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": "write a.txt"}]}],
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "tools": [{"functionDeclarations": [{"name": "write_file"}, {"name": "read_file"}]}]});
        let resp = post(&url, body).await;
        assert_eq!(resp.status(), 200);
        let events = sse(&resp.text().await.unwrap());
        assert_eq!(events.len(), 3);
        let first = json(&events[0].1);
        assert_eq!(
            first["candidates"][0]["content"]["parts"][0]["text"],
            "Sure."
        );
        let call =
            json(&events[1].1)["candidates"][0]["content"]["parts"][0]["functionCall"].clone();
        assert_eq!(call["name"], "write_file");
        assert_eq!(call["args"]["content"], "hi");
        let last = json(&events[2].1);
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(last["usageMetadata"]["totalTokenCount"], 18);

        let resp = post(
            &format!("{}/v1beta/models/gemini-2.5-flash:generateContent", fake.root_url()),
            json!({"contents": [
                {"role": "user", "parts": [{"text": "write a.txt"}]},
                {"role": "model", "parts": [{"functionCall": call}]},
                {"role": "user", "parts": [{"functionResponse": {"id": call["id"], "name": "write_file",
                    "response": {"error": "[Operation Cancelled] Reason: User denied"}}}]}]}),
        )
        .await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], "Done.");
        let resp = post(
            &format!(
                "{}/v1beta/models/gemini-2.5-flash:countTokens",
                fake.root_url()
            ),
            json!({"contents": []}),
        )
        .await;
        assert!(
            resp.json::<Value>().await.unwrap()["totalTokens"]
                .as_u64()
                .unwrap()
                > 0
        );

        let reqs = fake.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].model(), "gemini-2.5-flash");
        assert_eq!(
            reqs[0].tools(),
            vec!["write_file".to_string(), "read_file".into()]
        );
        assert_eq!(reqs[0].last_user_text(), "write a.txt");
        let results = reqs[1].tool_results();
        assert_eq!(results[0].call_id, call["id"].as_str().unwrap());
        assert!(results[0].is_error);
        assert!(results[0].output.contains("User denied"));
    }

    #[tokio::test]
    async fn errors_in_gemini_shape() {
        let fake = FakeModel::start().await;
        fake.push(Script::http_error(503, "busy"));
        let resp = post(
            &format!(
                "{}/v1beta/models/m:streamGenerateContent?alt=sse",
                fake.root_url()
            ),
            json!({"contents": []}),
        )
        .await;
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["status"], "UNAVAILABLE");
        assert_eq!(
            fake.requests()[0].path,
            "/v1beta/models/m:streamGenerateContent?alt=sse"
        );
    }
}
