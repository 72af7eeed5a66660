//! A scripted fake model server that speaks the wire APIs agentmux and the coding-agent CLIs call,
//! all on one port:
//!
//! | wire | routes | used by |
//! |---|---|---|
//! | OpenAI Chat Completions ([`openai_chat`]) | `POST /v1/chat/completions`, `GET /v1/models` | the daemon's HTTP agent, Qwen Code, OpenCode |
//! | Anthropic Messages ([`anthropic`]) | `POST /v1/messages[?beta=true]`, `POST /v1/messages/count_tokens` | Claude Code |
//! | OpenAI Responses ([`responses`]) | `POST /v1/responses` | Codex |
//! | Gemini ([`gemini`]) | `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, `:generateContent`, `:countTokens` | Gemini CLI |
//!
//! Tests queue [`Script`]s; each model request takes the first queued script whose [`Match`] accepts
//! it (or the default echo script when none does) and plays its [`Step`]s in that wire's format: text,
//! reasoning, tool calls, errors, hangs. A turn that uses a tool is two scripts: one that calls the
//! tool, and one for the next request, which carries the tool result
//! ([`Recorded::tool_results`]). Every request is recorded (path with query, body) so a test can
//! assert what the client sent.

pub mod anthropic;
pub mod gemini;
pub mod openai_chat;
pub mod responses;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Which wire API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    OpenAiChat,
    Anthropic,
    Responses,
    Gemini,
    /// Anything else (model lists, token counts, unknown routes); never takes a script.
    Other,
}

/// One thing the server does while answering a request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Sleep, then send a text delta.
    Text { text: String, delay: Duration },
    /// Sleep, then send a reasoning / thinking delta.
    Reasoning { text: String, delay: Duration },
    /// Sleep, then call the function tool `name` with the JSON `input` (Anthropic `tool_use`,
    /// Chat `tool_calls`, Responses `function_call`, Gemini `functionCall`).
    Tool {
        name: String,
        input: Value,
        delay: Duration,
    },
    /// Sleep, then call the freeform tool `name` with raw text (Responses `custom_tool_call`, e.g.
    /// Codex's `apply_patch` with `*** Begin Patch` text). Other wires send it as a function call
    /// with `{"input": text}`.
    CustomTool {
        name: String,
        input: String,
        delay: Duration,
    },
    /// Answer with this HTTP status and JSON body instead of a stream (must be the first step).
    HttpError { status: u16, body: Value },
    /// Answer with this HTTP status and the wire's own error body carrying `message` (must be first).
    ApiError { status: u16, message: String },
    /// Send nothing more, ever (before the first step: not even the response headers).
    Hang,
    /// Send this raw text as an SSE `data:` line (not valid JSON).
    Malformed(String),
    /// Wait until the test opens the gate, then go on.
    Wait(Gate),
    /// Close the stream without the wire's closing events.
    Abort,
}

impl Step {
    pub fn text(text: &str) -> Step {
        Step::Text {
            text: text.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn tool(name: &str, input: Value) -> Step {
        Step::Tool {
            name: name.into(),
            input,
            delay: Duration::ZERO,
        }
    }
    pub fn custom_tool(name: &str, input: &str) -> Step {
        Step::CustomTool {
            name: name.into(),
            input: input.into(),
            delay: Duration::ZERO,
        }
    }
}

/// Decides which requests a script answers.
#[derive(Clone)]
pub struct Match(Arc<dyn Fn(&Recorded) -> bool + Send + Sync>);

impl Match {
    pub fn new(f: impl Fn(&Recorded) -> bool + Send + Sync + 'static) -> Match {
        Match(Arc::new(f))
    }
    /// Requests that offer the model at least one tool (an agent's main turn, not a title or
    /// memory side request).
    pub fn has_tools() -> Match {
        Match::new(|r| !r.tools().is_empty())
    }
    /// Requests that offer a tool with this name.
    pub fn offers_tool(name: &str) -> Match {
        let name = name.to_string();
        Match::new(move |r| r.tools().contains(&name))
    }
    pub fn wire(wire: Wire) -> Match {
        Match::new(move |r| r.wire == wire)
    }
    /// Requests whose JSON body contains this text anywhere.
    pub fn body_contains(text: &str) -> Match {
        let text = text.to_string();
        Match::new(move |r| r.body.to_string().contains(&text))
    }
    pub fn matches(&self, r: &Recorded) -> bool {
        (self.0)(r)
    }
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Match")
    }
}

/// What one request gets.
#[derive(Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    /// Reported in the final chunk's `usage` when the client asked for it.
    pub usage: Usage,
    /// `stop` (or `length`); a script that calls tools ends with the wire's tool-use reason instead.
    pub finish_reason: String,
    /// Which requests this script may answer; `None`: the next model request of any wire.
    pub when: Option<Match>,
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
            when: None,
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

    /// One answer: this text in one delta.
    pub fn answer(text: &str) -> Script {
        Script::new(vec![Step::text(text)])
    }

    /// A turn that calls one function tool (and nothing else).
    pub fn tool_call(name: &str, input: Value) -> Script {
        Script::new(vec![Step::tool(name, input)])
    }

    /// A turn that calls one freeform tool, e.g. Codex's `apply_patch`.
    pub fn custom_tool_call(name: &str, input: &str) -> Script {
        Script::new(vec![Step::custom_tool(name, input)])
    }

    /// An HTTP error with the wire's own error body.
    pub fn http_error(status: u16, message: &str) -> Script {
        Script::new(vec![Step::ApiError {
            status,
            message: message.into(),
        }])
    }

    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        self.usage = Usage {
            prompt_tokens,
            completion_tokens,
        };
        self
    }

    /// Only requests `m` accepts take this script.
    pub fn when(mut self, m: Match) -> Script {
        self.when = Some(m);
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

    fn calls_tools(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Tool { .. } | Step::CustomTool { .. }))
    }
}

/// A tool call as the server sends it.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// Unique per server (`call_fake_N`).
    pub id: String,
    pub name: String,
    pub input: ToolInput,
}

#[derive(Debug, Clone)]
pub enum ToolInput {
    Json(Value),
    Freeform(String),
}

impl ToolInput {
    /// As a JSON object (a freeform input becomes `{"input": text}`).
    pub fn as_json(&self) -> Value {
        match self {
            ToolInput::Json(v) => v.clone(),
            ToolInput::Freeform(s) => json!({ "input": s }),
        }
    }
}

/// A tool result a client sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The call id it answers (Gemini: the function name when no id was sent).
    pub call_id: String,
    /// The result as text (JSON results serialized).
    pub output: String,
    /// Anthropic's `is_error` flag; false on other wires.
    pub is_error: bool,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub wire: Wire,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// `Authorization`, else `x-api-key`, else `x-goog-api-key` (as sent).
    pub authorization: String,
    /// The JSON body (a non-JSON body is kept as a string).
    pub body: Value,
}

impl Recorded {
    /// `(role, text)` of every message in the request, in order (the text parts of each).
    pub fn history(&self) -> Vec<(String, String)> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::history(&self.body),
            Wire::Anthropic => anthropic::history(&self.body),
            Wire::Responses => responses::history(&self.body),
            Wire::Gemini => gemini::history(&self.body),
        }
    }

    /// The text of the last user message that has text.
    pub fn last_user_text(&self) -> String {
        self.history()
            .into_iter()
            .rev()
            .find(|(role, text)| role == "user" && !text.is_empty())
            .map(|(_, t)| t)
            .unwrap_or_default()
    }

    /// Tool results in the request, in order.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::tool_results(&self.body),
            Wire::Anthropic => anthropic::tool_results(&self.body),
            Wire::Responses => responses::tool_results(&self.body),
            Wire::Gemini => gemini::tool_results(&self.body),
        }
    }

    /// Names of the tools the request offers the model.
    pub fn tools(&self) -> Vec<String> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::tools(&self.body),
            Wire::Anthropic => anthropic::tools(&self.body),
            Wire::Responses => responses::tools(&self.body),
            Wire::Gemini => gemini::tools(&self.body),
        }
    }

    /// The model the request names (Gemini: from the path).
    pub fn model(&self) -> String {
        match self.wire {
            Wire::Gemini => gemini::model_from_path(&self.path),
            _ => self.body["model"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// A short JSON summary (no system prompt or tool schemas), for logs and fixtures.
    pub fn summary(&self) -> Value {
        json!({
            "wire": format!("{:?}", self.wire),
            "path": self.path,
            "model": self.model(),
            "tools": self.tools(),
            "last_user_text": truncate(&self.last_user_text(), 300),
            "tool_results": self.tool_results().iter().map(|r| json!({
                "call_id": r.call_id, "output": truncate(&r.output, 500), "is_error": r.is_error,
            })).collect::<Vec<_>>(),
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Message content is a string or a list of parts with `text`.
pub(crate) fn content_text(v: &Value) -> String {
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
pub(crate) struct Shared {
    // std Mutex: never held across an await.
    scripts: Mutex<VecDeque<Script>>,
    /// Model requests (the ones that take a script).
    requests: Mutex<Vec<Recorded>>,
    /// Every request, model or not.
    all_requests: Mutex<Vec<Recorded>>,
    /// Streams whose client went away before the script ended.
    disconnects: Mutex<u64>,
    request_arrived: Notify,
    next_call: AtomicU64,
    log: Mutex<Option<std::fs::File>>,
}

impl Shared {
    fn record_other(&self, r: Recorded) {
        self.log(&r, false);
        self.all_requests.lock().expect("requests lock").push(r);
    }

    fn log(&self, r: &Recorded, full: bool) {
        if let Some(f) = self.log.lock().expect("log lock").as_mut() {
            let mut v = r.summary();
            if full {
                v["body"] = r.body.clone();
            }
            let _ = writeln!(f, "{v}");
        }
    }

    /// Records a model request and takes the script that answers it.
    fn take(&self, r: Recorded) -> Script {
        let script = {
            let mut scripts = self.scripts.lock().expect("scripts lock");
            let pos = scripts
                .iter()
                .position(|s| s.when.as_ref().is_none_or(|m| m.matches(&r)));
            pos.and_then(|i| scripts.remove(i))
        }
        .unwrap_or_else(|| echo_script(&r));
        self.log(&r, true);
        self.all_requests
            .lock()
            .expect("requests lock")
            .push(r.clone());
        self.requests.lock().expect("requests lock").push(r);
        self.request_arrived.notify_waiters();
        script
    }

    fn next_call_id(&self) -> String {
        format!(
            "call_fake_{}",
            self.next_call.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

/// A running fake server; dropping it stops the server.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// The name existing tests know the server by.
pub type FakeOpenAi = FakeModel;

impl FakeModel {
    pub async fn start() -> FakeModel {
        FakeModel::start_on("127.0.0.1:0").await
    }

    /// Starts on a given address (`127.0.0.1:0` for any free port).
    pub async fn start_on(addr: &str) -> FakeModel {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_chat::handle))
            .route("/chat/completions", post(openai_chat::handle))
            .route("/v1/models", get(openai_chat::models))
            .route("/v1/messages", post(anthropic::handle))
            .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
            .route("/v1/responses", post(responses::handle))
            .route("/v1beta/models/{call}", post(gemini::handle))
            .fallback(unknown)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind fake model server");
        let addr = listener.local_addr().expect("fake server address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModel { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`, what an OpenAI-style `base_url` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL` and `GOOGLE_GEMINI_BASE_URL`.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a JSON line per request (summary; model requests with their body) to this file.
    pub fn log_requests_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *self.shared.log.lock().expect("log lock") = Some(f);
        Ok(())
    }

    pub fn push(&self, script: Script) {
        self.shared
            .scripts
            .lock()
            .expect("scripts lock")
            .push_back(script);
    }

    /// Scripts not taken yet.
    pub fn pending_scripts(&self) -> usize {
        self.shared.scripts.lock().expect("scripts lock").len()
    }

    /// Model requests (the ones that take a script), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Every request, including token counts, model lists and unknown routes.
    pub fn all_requests(&self) -> Vec<Recorded> {
        self.shared
            .all_requests
            .lock()
            .expect("requests lock")
            .clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().expect("requests lock").len()
    }

    pub fn disconnects(&self) -> u64 {
        *self.shared.disconnects.lock().expect("disconnects lock")
    }

    /// Waits until at least `n` model requests arrived; panics after `timeout`.
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

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Any other route: recorded, then 404 in OpenAI's error shape.
async fn unknown(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.to_string();
    shared.record_other(recorded(Wire::Other, path.clone(), &headers, &body));
    error_response(
        404,
        json!({"error": {"message": format!("fake model server: no route {path}"), "type": "not_found"}}),
    )
}

pub(crate) fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

pub(crate) fn recorded(wire: Wire, path: String, headers: &HeaderMap, body: &Bytes) -> Recorded {
    let authorization = [
        header::AUTHORIZATION.as_str(),
        "x-api-key",
        "x-goog-api-key",
    ]
    .iter()
    .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
    .unwrap_or_default()
    .to_string();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    Recorded {
        wire,
        path,
        authorization,
        body,
    }
}

fn echo_script(req: &Recorded) -> Script {
    let text = format!("echo: {}", req.last_user_text());
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

pub(crate) fn error_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

/// Turns script steps into one wire's stream frames (each a whole SSE event, `\n\n` included).
pub(crate) trait Encoder: Send + 'static {
    fn start(&mut self) -> Vec<String>;
    fn text(&mut self, text: &str) -> Vec<String>;
    fn reasoning(&mut self, text: &str) -> Vec<String>;
    fn tool_call(&mut self, call: &ToolCall) -> Vec<String>;
    /// The closing frames (finish reason, usage, end marker).
    fn finish(&mut self, script: &Script) -> Vec<String>;
}

/// What a script adds up to, for non-streaming answers.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub text: String,
    pub reasoning: String,
    pub calls: Vec<ToolCall>,
}

pub(crate) fn sse_data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

pub(crate) fn sse_event(event: &str, v: &Value) -> String {
    format!("event: {event}\ndata: {v}\n\n")
}

/// Answers a model request: the wire's error for a leading error step, a hang, or the script as a
/// stream (`stream`) or as one JSON body built by `whole`.
pub(crate) async fn answer<E: Encoder>(
    shared: Arc<Shared>,
    script: Script,
    stream: bool,
    error_body: impl Fn(u16, &str) -> Value,
    encoder: E,
    whole: impl FnOnce(&Script, Collected) -> Value,
) -> Response {
    match script.steps.first() {
        Some(Step::HttpError { status, body }) => return error_response(*status, body.clone()),
        Some(Step::ApiError { status, message }) => {
            return error_response(*status, error_body(*status, message));
        }
        Some(Step::Hang) => {
            // Never answer; the client must give up on its own. Axum drops this future when
            // the client goes away, which counts as a disconnect.
            let _guard = CountOnDrop(shared.clone());
            std::future::pending::<()>().await;
        }
        _ => {}
    }
    if stream {
        stream_response(shared, script, encoder)
    } else {
        whole_response(&shared, script, whole).await
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

fn stream_response<E: Encoder>(shared: Arc<Shared>, script: Script, encoder: E) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(16);
    tokio::spawn(async move {
        let played = play(&shared, &tx, &script, encoder).await;
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
async fn play<E: Encoder>(
    shared: &Shared,
    tx: &mpsc::Sender<Result<Bytes, std::convert::Infallible>>,
    script: &Script,
    mut enc: E,
) -> bool {
    let send_all = |frames: Vec<String>| async move {
        for f in frames {
            if tx.send(Ok(Bytes::from(f))).await.is_err() {
                return false;
            }
        }
        true
    };
    if !send_all(enc.start()).await {
        return false;
    }
    for step in &script.steps {
        let frames = match step {
            Step::Text { text, delay } => {
                tokio::time::sleep(*delay).await;
                enc.text(text)
            }
            Step::Reasoning { text, delay } => {
                tokio::time::sleep(*delay).await;
                enc.reasoning(text)
            }
            Step::Tool { name, input, delay } => {
                tokio::time::sleep(*delay).await;
                enc.tool_call(&ToolCall {
                    id: shared.next_call_id(),
                    name: name.clone(),
                    input: ToolInput::Json(input.clone()),
                })
            }
            Step::CustomTool { name, input, delay } => {
                tokio::time::sleep(*delay).await;
                enc.tool_call(&ToolCall {
                    id: shared.next_call_id(),
                    name: name.clone(),
                    input: ToolInput::Freeform(input.clone()),
                })
            }
            Step::Malformed(raw) => vec![format!("data: {raw}\n\n")],
            Step::Wait(gate) => {
                tokio::select! {
                    _ = gate.0.notified() => {}
                    _ = tx.closed() => return false,
                }
                continue;
            }
            Step::Hang => {
                // Keep the connection open without sending; end when the client leaves.
                tx.closed().await;
                return false;
            }
            Step::Abort => return true,
            Step::HttpError { .. } | Step::ApiError { .. } => {
                // Only meaningful first; mid-stream it ends the stream abruptly.
                return true;
            }
        };
        if !send_all(frames).await {
            return false;
        }
    }
    send_all(enc.finish(script)).await
}

async fn whole_response(
    shared: &Shared,
    script: Script,
    whole: impl FnOnce(&Script, Collected) -> Value,
) -> Response {
    let mut c = Collected::default();
    for step in &script.steps {
        match step {
            Step::Text { text, delay } => {
                tokio::time::sleep(*delay).await;
                c.text.push_str(text);
            }
            Step::Reasoning { text, delay } => {
                tokio::time::sleep(*delay).await;
                c.reasoning.push_str(text);
            }
            Step::Tool { name, input, delay } => {
                tokio::time::sleep(*delay).await;
                c.calls.push(ToolCall {
                    id: shared.next_call_id(),
                    name: name.clone(),
                    input: ToolInput::Json(input.clone()),
                });
            }
            Step::CustomTool { name, input, delay } => {
                tokio::time::sleep(*delay).await;
                c.calls.push(ToolCall {
                    id: shared.next_call_id(),
                    name: name.clone(),
                    input: ToolInput::Freeform(input.clone()),
                });
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
            Step::Abort | Step::HttpError { .. } | Step::ApiError { .. } => break,
        }
    }
    axum::Json(whole(&script, c)).into_response()
}

/// Shared handler prologue: records the request and takes its script.
pub(crate) fn take_script(
    shared: &Shared,
    wire: Wire,
    path: &str,
    query: &Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Recorded, Script) {
    let r = recorded(wire, path_and_query(path, query), headers, body);
    let script = shared.take(r.clone());
    (r, script)
}

#[cfg(test)]
pub(crate) mod test_util {
    use serde_json::Value;

    pub async fn post(url: &str, body: Value) -> reqwest::Response {
        crate::http_client()
            .build()
            .unwrap()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `(event name or "", data)` of each SSE event in a body.
    pub fn sse(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = d.to_string();
                }
            }
            if !data.is_empty() {
                out.push((event, data));
            }
        }
        out
    }

    pub fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }
}
