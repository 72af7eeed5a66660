//! A scripted fake OpenAI-compatible model server: chat completions (streaming and not) and models.
//!
//! Tests queue [`Script`]s; each `POST /v1/chat/completions` takes the next one (or the default echo
//! script when the queue is empty) and plays its [`Step`]s. Every request body is recorded so a test
//! can assert the history the daemon sent.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;

/// The model id the fake server reports and that test configs use.
pub const MODEL: &str = "fake-model";

/// A one-shot latch a script can wait on (`Step::Wait`); the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<Notify>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }
    /// Lets one waiting (or the next) `Step::Wait` go on.
    pub fn open(&self) {
        self.0.notify_one();
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

/// One thing the server does while answering a request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Sleep, then send a `delta.content` chunk.
    Text { text: String, delay: Duration },
    /// Sleep, then send a `delta.reasoning_content` chunk.
    Reasoning { text: String, delay: Duration },
    /// Answer with this HTTP status and JSON body instead of a stream (must be the first step).
    HttpError { status: u16, body: Value },
    /// Send nothing more, ever (before the first step: not even the response headers).
    Hang,
    /// Send this raw text as an SSE `data:` line (not valid JSON).
    Malformed(String),
    /// Wait until the test opens the gate, then go on.
    Wait(Gate),
    /// Close the stream without a finish chunk or `[DONE]`.
    Abort,
}

/// What one request gets.
#[derive(Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    /// Reported in the final chunk's `usage` when the client asked for it.
    pub usage: Usage,
    pub finish_reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Script {
        Script {
            steps,
            usage: Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
            },
            finish_reason: "stop".into(),
        }
    }

    /// Text in chunks, each sent after `delay`.
    pub fn chunks(chunks: &[&str], delay: Duration) -> Script {
        Script::new(
            chunks
                .iter()
                .map(|c| Step::Text {
                    text: (*c).to_string(),
                    delay,
                })
                .collect(),
        )
    }

    pub fn http_error(status: u16, message: &str) -> Script {
        Script::new(vec![Step::HttpError {
            status,
            body: json!({"error": {"message": message, "type": "server_error", "code": null}}),
        }])
    }

    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        self.usage = Usage {
            prompt_tokens,
            completion_tokens,
        };
        self
    }

    /// The text all `Text` steps add up to.
    pub fn text(&self) -> String {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub authorization: String,
    pub body: Value,
}

impl Recorded {
    /// `(role, content)` of every message in the request, in order.
    pub fn history(&self) -> Vec<(String, String)> {
        self.body["messages"]
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
}

/// Message content is a string or a list of `{"type":"text","text":…}` parts.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[derive(Default)]
struct Shared {
    // std Mutex: never held across an await.
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Recorded>>,
    /// Streams whose client went away before the script ended.
    disconnects: Mutex<u64>,
    request_arrived: Notify,
}

/// A running fake server; dropping it stops the server.
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake model server");
        let addr = listener.local_addr().expect("fake server address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAi { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`, what the daemon's `base_url` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn push(&self, script: Script) {
        self.shared
            .scripts
            .lock()
            .expect("scripts lock")
            .push_back(script);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().expect("requests lock").len()
    }

    pub fn disconnects(&self) -> u64 {
        *self.shared.disconnects.lock().expect("disconnects lock")
    }

    /// Waits until at least `n` chat requests arrived; panics after `timeout`.
    pub async fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.request_arrived.notified();
            let reqs = self.requests();
            if reqs.len() >= n {
                return reqs;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "fake model server: wanted {n} requests, got {} after {timeout:?}",
                    self.request_count()
                );
            }
        }
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn models() -> impl IntoResponse {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}]
    }))
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(400, json!({"error": {"message": format!("bad json: {e}")}}));
        }
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let recorded = Recorded {
        path: "/v1/chat/completions".into(),
        authorization,
        body: body.clone(),
    };
    let script = shared
        .scripts
        .lock()
        .expect("scripts lock")
        .pop_front()
        .unwrap_or_else(|| echo_script(&recorded));
    shared
        .requests
        .lock()
        .expect("requests lock")
        .push(recorded);
    shared.request_arrived.notify_waiters();

    match script.steps.first() {
        Some(Step::HttpError { status, body }) => return error_response(*status, body.clone()),
        Some(Step::Hang) => {
            // Never answer; the daemon must give up on its own. Axum drops this future when
            // the client goes away, which counts as a disconnect.
            let _guard = CountOnDrop(shared.clone());
            std::future::pending::<()>().await;
        }
        _ => {}
    }
    let model = body["model"].as_str().unwrap_or(MODEL).to_string();
    if body["stream"].as_bool() == Some(true) {
        let include_usage = body["stream_options"]["include_usage"].as_bool() == Some(true);
        stream_response(shared, script, model, include_usage)
    } else {
        whole_response(script, model).await
    }
}

/// Counts a disconnect when dropped (a handler future dropped because its client left).
struct CountOnDrop(Arc<Shared>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.disconnects.lock() {
            *n += 1;
        }
    }
}

fn echo_script(req: &Recorded) -> Script {
    let last_user = req
        .history()
        .into_iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, c)| c)
        .unwrap_or_default();
    let text = format!("echo: {last_user}");
    // Three roughly equal chunks on char boundaries.
    let chars: Vec<char> = text.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    let steps = chars
        .chunks(third)
        .map(|c| Step::Text {
            text: c.iter().collect(),
            delay: Duration::from_millis(5),
        })
        .collect();
    Script::new(steps)
}

fn error_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

const COMPLETION_ID: &str = "chatcmpl-fake";

fn chunk(model: &str, delta: Value, finish_reason: Value) -> String {
    let v = json!({
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    });
    format!("data: {v}\n\n")
}

fn stream_response(
    shared: Arc<Shared>,
    script: Script,
    model: String,
    include_usage: bool,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(16);
    tokio::spawn(async move {
        let played = play(&tx, &script, &model, include_usage).await;
        if !played {
            *shared.disconnects.lock().expect("disconnects lock") += 1;
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Plays a script into the stream; false when the client went away first.
async fn play(
    tx: &mpsc::Sender<Result<Bytes, std::convert::Infallible>>,
    script: &Script,
    model: &str,
    include_usage: bool,
) -> bool {
    let send = |s: String| async move { tx.send(Ok(Bytes::from(s))).await.is_ok() };
    if !send(chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ))
    .await
    {
        return false;
    }
    for step in &script.steps {
        match step {
            Step::Text { text, delay } => {
                tokio::time::sleep(*delay).await;
                if !send(chunk(model, json!({"content": text}), Value::Null)).await {
                    return false;
                }
            }
            Step::Reasoning { text, delay } => {
                tokio::time::sleep(*delay).await;
                if !send(chunk(
                    model,
                    json!({"reasoning_content": text}),
                    Value::Null,
                ))
                .await
                {
                    return false;
                }
            }
            Step::Malformed(raw) => {
                if !send(format!("data: {raw}\n\n")).await {
                    return false;
                }
            }
            Step::Wait(gate) => {
                tokio::select! {
                    _ = gate.0.notified() => {}
                    _ = tx.closed() => return false,
                }
            }
            Step::Hang => {
                // Keep the connection open without sending; end when the client leaves.
                tx.closed().await;
                return false;
            }
            Step::Abort => return true,
            Step::HttpError { .. } => {
                // Only meaningful first; mid-stream it ends the stream abruptly.
                return true;
            }
        }
    }
    if !send(chunk(
        model,
        json!({}),
        Value::String(script.finish_reason.clone()),
    ))
    .await
    {
        return false;
    }
    if include_usage {
        let v = json!({
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": script.usage.prompt_tokens,
                "completion_tokens": script.usage.completion_tokens,
                "total_tokens": script.usage.prompt_tokens + script.usage.completion_tokens,
            }
        });
        if !send(format!("data: {v}\n\n")).await {
            return false;
        }
    }
    send("data: [DONE]\n\n".to_string()).await
}

async fn whole_response(script: Script, model: String) -> Response {
    let mut text = String::new();
    let mut reasoning = String::new();
    for step in &script.steps {
        match step {
            Step::Text { text: t, delay } => {
                tokio::time::sleep(*delay).await;
                text.push_str(t);
            }
            Step::Reasoning { text: t, delay } => {
                tokio::time::sleep(*delay).await;
                reasoning.push_str(t);
            }
            Step::Wait(gate) => gate.0.notified().await,
            Step::Hang => std::future::pending::<()>().await,
            Step::Malformed(raw) => {
                return Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(raw.clone()))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
            }
            Step::Abort | Step::HttpError { .. } => break,
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    axum::Json(json!({
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": script.finish_reason}],
        "usage": {
            "prompt_tokens": script.usage.prompt_tokens,
            "completion_tokens": script.usage.completion_tokens,
            "total_tokens": script.usage.prompt_tokens + script.usage.completion_tokens,
        }
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post_chat(base: &str, body: Value) -> reqwest::Response {
        crate::http_client()
            .build()
            .unwrap()
            .post(format!("{base}/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn echoes_in_chunks_with_usage_and_done() {
        let fake = FakeOpenAi::start().await;
        let resp = post_chat(
            &fake.base_url(),
            json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "user", "content": "hi there"}]}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        let datas: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(datas.last(), Some(&"[DONE]"));
        let mut content = String::new();
        let mut usage = None;
        for d in &datas[..datas.len() - 1] {
            let v: Value = serde_json::from_str(d).unwrap();
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
        let fake = FakeOpenAi::start().await;
        fake.push(Script::http_error(503, "overloaded"));
        fake.push(Script::chunks(&["a", "b"], Duration::ZERO));
        let resp = post_chat(&fake.base_url(), json!({"messages": []})).await;
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["message"], "overloaded");
        let resp = post_chat(&fake.base_url(), json!({"stream": false, "messages": []})).await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "ab");
        let models: Value = reqwest::get(format!("{}/models", fake.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], MODEL);
    }
}
