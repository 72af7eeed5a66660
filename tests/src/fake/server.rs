//! The server itself: [`FakeModel`] (routes, start, what tests read back) and the state its
//! handlers share (queued scripts, recorded requests, the request log).

use super::{
    Recorded, Script, Step, Wire, anthropic, error_response, gemini, openai_chat, recorded,
    responses,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Shared {
    // std Mutex: never held across an await.
    scripts: Mutex<VecDeque<Script>>,
    /// Model requests (the ones that take a script).
    requests: Mutex<Vec<Recorded>>,
    /// Every request, model or not.
    all_requests: Mutex<Vec<Recorded>>,
    /// Streams whose client went away before the script ended.
    pub(super) disconnects: Mutex<u64>,
    request_arrived: Notify,
    next_call: AtomicU64,
    log: Mutex<Option<std::fs::File>>,
}

impl Shared {
    pub(super) fn record_other(&self, r: Recorded) {
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
    pub(super) fn take(&self, r: Recorded) -> Script {
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

    pub(super) fn next_call_id(&self) -> String {
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
