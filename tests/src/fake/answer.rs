//! How a script is played: the [`Encoder`] each wire implements, streamed (SSE) or collected into
//! one JSON body, with hangs, aborts and client disconnects counted.

use super::{Recorded, Script, Shared, Step, Wire, path_and_query, recorded};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

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
