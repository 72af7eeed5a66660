//! Clients the tests talk to the daemon with: REST (socket or TCP), gRPC (socket or TCP), SSE and
//! WebSocket readers.

use crate::within;
use agentmux_proto::v1 as pb;
use agentmux_shared::types::Event;
use bytes::Bytes;
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::net::UnixStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

/// Credentials for a TCP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
    /// Any header and value, e.g. a malformed `Authorization`.
    Header(String, String),
}

impl Auth {
    fn header(&self) -> Option<(String, String)> {
        match self {
            Auth::None => None,
            Auth::Bearer(k) => Some(("authorization".into(), format!("Bearer {k}"))),
            Auth::ApiKey(k) => Some(("x-api-key".into(), k.clone())),
            Auth::Header(n, v) => Some((n.to_ascii_lowercase(), v.clone())),
        }
    }
}

/// A finished HTTP exchange.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the REST error envelope `{"error":{"code","message"}}` with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text()
        );
        let v = self.json();
        assert_eq!(
            v["error"]["code"].as_str(),
            Some(code),
            "error envelope code: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error envelope needs a message: {v}"
        );
    }
}

/// A REST client over the Unix socket or TCP.
#[derive(Clone)]
pub struct Rest {
    client: reqwest::Client,
    base: String,
    auth: Auth,
}

/// Sends a request and reads the whole answer.
async fn send(rb: reqwest::RequestBuilder) -> reqwest::Result<Reply> {
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

impl Rest {
    pub fn unix(socket: &Path) -> Rest {
        let client = crate::http_client()
            .unix_socket(socket)
            .build()
            .expect("reqwest client over a unix socket");
        Rest {
            client,
            base: "http://agentmux.local".into(),
            auth: Auth::None,
        }
    }

    pub fn tcp(addr: &str, auth: Auth) -> Rest {
        let client = crate::http_client().build().expect("reqwest client");
        Rest {
            client,
            base: format!("http://{addr}"),
            auth,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn builder(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.client.request(method, self.url(path));
        if let Some((name, value)) = self.auth.header() {
            rb = rb.header(name, value);
        }
        rb
    }

    /// One request with an optional JSON body; errors only when the transport fails.
    pub async fn try_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<Reply> {
        let mut rb = self.builder(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        send(rb).await
    }

    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let what = format!("{method} {path}");
        within(&what, self.try_request(method.clone(), path, body))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A request with a raw body and content type.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let what = format!("{method} {path} (raw)");
        let rb = self
            .builder(method, path)
            .header("content-type", content_type)
            .body(body);
        within(&what, send(rb))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }
    /// `POST` with a JSON body and extra headers (e.g. `Idempotency-Key`).
    pub async fn post_with_headers(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let what = format!("POST {path}");
        let mut rb = self.builder(reqwest::Method::POST, path).json(&body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        within(&what, send(rb))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.request(reqwest::Method::DELETE, path, None).await
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_ok(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// Opens an SSE stream (`path` with its query), optionally resuming with `Last-Event-ID`.
    pub async fn sse(&self, path: &str, last_event_id: Option<u64>) -> Sse {
        let mut rb = self
            .builder(reqwest::Method::GET, path)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            rb = rb.header("last-event-id", id.to_string());
        }
        let resp = within(&format!("SSE {path}"), rb.send())
            .await
            .unwrap_or_else(|e| panic!("SSE {path}: {e}"));
        assert_eq!(resp.status().as_u16(), 200, "SSE {path}");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            ct.starts_with("text/event-stream"),
            "SSE content-type: {ct:?}"
        );
        Sse {
            stream: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
            pending: SseFields::default(),
        }
    }
}

// ---------------------------------------------------------------- SSE

/// One item of an SSE stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event {
        id: Option<String>,
        event: String,
        data: String,
    },
    /// A `:` comment line (heartbeats).
    Comment(String),
}

#[derive(Debug, Default)]
struct SseFields {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A hand-rolled SSE reader that keeps comments and `id:` fields so tests can check them.
pub struct Sse {
    stream: ByteStream,
    buf: Vec<u8>,
    pending: SseFields,
}

/// What a daemon event stream yields, whatever the transport.
// Events dominate the stream, so boxing them would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    Heartbeat,
    Lagged(u64),
}

impl Sse {
    /// The next item, or `None` when the stream ended; panics when the connection breaks.
    pub async fn next_raw(&mut self) -> Option<SseItem> {
        self.try_next_raw()
            .await
            .unwrap_or_else(|e| panic!("SSE stream broke: {e}"))
    }

    /// The next item, `Ok(None)` when the stream ended, `Err` when the connection broke.
    pub async fn try_next_raw(&mut self) -> reqwest::Result<Option<SseItem>> {
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let line = String::from_utf8(line).expect("SSE line is UTF-8");
                if line.is_empty() {
                    let f = std::mem::take(&mut self.pending);
                    if f.data.is_some() || f.event.is_some() {
                        return Ok(Some(SseItem::Event {
                            id: f.id,
                            event: f.event.unwrap_or_else(|| "message".into()),
                            data: f.data.unwrap_or_default(),
                        }));
                    }
                    continue;
                }
                if let Some(c) = line.strip_prefix(':') {
                    return Ok(Some(SseItem::Comment(c.trim_start().to_string())));
                }
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                    None => (line.clone(), String::new()),
                };
                match field.as_str() {
                    "id" => self.pending.id = Some(value),
                    "event" => self.pending.event = Some(value),
                    "data" => match &mut self.pending.data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(&value);
                        }
                        None => self.pending.data = Some(value),
                    },
                    _ => {}
                }
            }
            match self.stream.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(e),
                None => return Ok(None),
            }
        }
    }

    /// The next event without panicking when the connection breaks: `None` once the stream
    /// ended or broke, `Some(None)` for anything but an event.
    pub async fn try_next_event(&mut self) -> Option<Option<Event>> {
        match self.try_next_raw().await {
            Ok(Some(SseItem::Event { event, data, .. })) if event != "lagged" => Some(Some(
                serde_json::from_str(&data).expect("SSE data is an Event"),
            )),
            Ok(Some(_)) => Some(None),
            Ok(None) | Err(_) => None,
        }
    }

    /// The next item as a daemon stream item, checking that `id:` equals the event's seq.
    pub async fn next_item(&mut self) -> Option<Item> {
        let raw = within("next SSE item", self.next_raw()).await?;
        Some(match raw {
            SseItem::Comment(_) => Item::Heartbeat,
            SseItem::Event { id, event, data } => {
                if event == "lagged" {
                    let v: Value = serde_json::from_str(&data).expect("lagged data is JSON");
                    Item::Lagged(v["resume_after_seq"].as_u64().expect("resume_after_seq"))
                } else if event == "heartbeat" {
                    Item::Heartbeat
                } else {
                    let ev: Event = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("SSE data is not an Event ({e}): {data}"));
                    assert_eq!(
                        id.as_deref(),
                        Some(ev.seq.to_string().as_str()),
                        "SSE id: must be the seq"
                    );
                    assert_eq!(event, ev.payload.name(), "SSE event: must be the type");
                    Item::Event(ev)
                }
            }
        })
    }
}

// ---------------------------------------------------------------- WebSocket

/// A WebSocket subscription over the Unix socket.
pub struct Ws {
    ws: WebSocketStream<UnixStream>,
}

impl Ws {
    /// Connects to `path` (e.g. `/v1/ws?after=5`) over the daemon's Unix socket.
    pub async fn unix(socket: &Path, path: &str) -> Ws {
        let stream = within("connect the socket", UnixStream::connect(socket))
            .await
            .expect("connect the daemon socket");
        let url = format!("ws://agentmux.local{path}");
        let (ws, resp) = within(
            "WebSocket handshake",
            tokio_tungstenite::client_async(url, stream),
        )
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake on {path}: {e}"));
        assert_eq!(resp.status().as_u16(), 101);
        Ws { ws }
    }

    /// The next event, heartbeat or lagged notice; `None` once the server closed.
    pub async fn next_item(&mut self) -> Option<Item> {
        loop {
            let msg = within("next WebSocket frame", self.ws.next()).await?;
            let msg = msg.unwrap_or_else(|e| panic!("WebSocket broke: {e}"));
            match msg {
                WsMessage::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("WS frame is not JSON ({e}): {t}"));
                    return Some(match v["type"].as_str() {
                        Some("heartbeat") => Item::Heartbeat,
                        Some("lagged") => {
                            Item::Lagged(v["resume_after_seq"].as_u64().expect("resume_after_seq"))
                        }
                        _ => Item::Event(
                            serde_json::from_value(v.clone())
                                .unwrap_or_else(|e| panic!("WS frame is not an Event ({e}): {v}")),
                        ),
                    });
                }
                WsMessage::Ping(p) => {
                    let _ = self.ws.send(WsMessage::Pong(p)).await;
                }
                WsMessage::Close(_) => return None,
                WsMessage::Binary(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
            }
        }
    }
}

// ---------------------------------------------------------------- gRPC

/// Adds the API key to every gRPC request (or nothing).
#[derive(Clone)]
pub struct AuthInterceptor(Option<(MetadataKey<tonic::metadata::Ascii>, AsciiMetadataValue)>);

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some((k, v)) = &self.0 {
            req.metadata_mut().insert(k.clone(), v.clone());
        }
        Ok(req)
    }
}

type Svc = InterceptedService<Channel, AuthInterceptor>;

/// gRPC clients sharing one channel.
#[derive(Clone)]
pub struct Grpc {
    channel: Channel,
    auth: AuthInterceptor,
}

impl Grpc {
    /// Connects over the Unix socket; `tune` may adjust the endpoint (e.g. window sizes).
    pub async fn unix(socket: &Path, tune: impl FnOnce(Endpoint) -> Endpoint) -> Grpc {
        let path: PathBuf = socket.to_path_buf();
        let endpoint = tune(Endpoint::from_static("http://agentmux.local"));
        let channel =
            within(
                "gRPC connect over the socket",
                endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?))
                    }
                })),
            )
            .await
            .expect("gRPC connect over the socket");
        Grpc {
            channel,
            auth: AuthInterceptor(None),
        }
    }

    pub async fn tcp(addr: &str, auth: Auth) -> Grpc {
        let endpoint = Endpoint::from_shared(format!("http://{addr}")).expect("endpoint");
        let channel = within("gRPC connect over TCP", endpoint.connect())
            .await
            .expect("gRPC connect over TCP");
        let auth = AuthInterceptor(auth.header().map(|(k, v)| {
            (
                MetadataKey::from_bytes(k.as_bytes()).expect("metadata key"),
                v.parse().expect("metadata value"),
            )
        }));
        Grpc { channel, auth }
    }

    /// The raw channel, for clients of other services (health, reflection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn svc(&self) -> Svc {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }
    pub fn system(&self) -> pb::system_service_client::SystemServiceClient<Svc> {
        pb::system_service_client::SystemServiceClient::new(self.svc())
    }
    pub fn sessions(&self) -> pb::session_service_client::SessionServiceClient<Svc> {
        pb::session_service_client::SessionServiceClient::new(self.svc())
    }
    pub fn messages(&self) -> pb::message_service_client::MessageServiceClient<Svc> {
        pb::message_service_client::MessageServiceClient::new(self.svc())
    }
    pub fn events(&self) -> pb::event_service_client::EventServiceClient<Svc> {
        pb::event_service_client::EventServiceClient::new(self.svc())
    }
    pub fn keys(&self) -> pb::key_service_client::KeyServiceClient<Svc> {
        pb::key_service_client::KeyServiceClient::new(self.svc())
    }
    pub fn terminals(&self) -> pb::terminal_service_client::TerminalServiceClient<Svc> {
        pb::terminal_service_client::TerminalServiceClient::new(self.svc())
    }

    /// Opens `Subscribe` and returns the stream of items.
    pub async fn subscribe(&self, after_seq: u64, session_id: &str) -> GrpcSub {
        let resp = within(
            "gRPC Subscribe",
            self.events().subscribe(pb::SubscribeRequest {
                after_seq,
                session_id: session_id.to_string(),
            }),
        )
        .await
        .unwrap_or_else(|s| panic!("Subscribe: {s:?}"));
        GrpcSub {
            stream: resp.into_inner(),
        }
    }
}

/// A gRPC event subscription.
pub struct GrpcSub {
    pub stream: tonic::Streaming<pb::SubscribeResponse>,
}

impl GrpcSub {
    pub async fn next_item(&mut self) -> Option<Item> {
        let msg = within("next gRPC Subscribe item", self.stream.message())
            .await
            .unwrap_or_else(|s| panic!("Subscribe stream failed: {s:?}"))?;
        Some(match msg.item.expect("SubscribeResponse.item is set") {
            pb::subscribe_response::Item::Event(e) => {
                Item::Event(Event::try_from(e).expect("gRPC event converts to the domain Event"))
            }
            pb::subscribe_response::Item::Heartbeat(_) => Item::Heartbeat,
            pb::subscribe_response::Item::Lagged(l) => Item::Lagged(l.resume_after_seq),
        })
    }
}

/// Anything that yields daemon stream items: SSE, WebSocket or gRPC `Subscribe`.
pub trait Subscription {
    fn next_item(&mut self) -> impl std::future::Future<Output = Option<Item>> + Send;
}

impl Subscription for Sse {
    fn next_item(&mut self) -> impl std::future::Future<Output = Option<Item>> + Send {
        Sse::next_item(self)
    }
}
impl Subscription for Ws {
    fn next_item(&mut self) -> impl std::future::Future<Output = Option<Item>> + Send {
        Ws::next_item(self)
    }
}
impl Subscription for GrpcSub {
    fn next_item(&mut self) -> impl std::future::Future<Output = Option<Item>> + Send {
        GrpcSub::next_item(self)
    }
}

/// Reads events until `seq == head`, checking each seq is the previous + 1, starting at
/// `after + 1`. Returns the events. Panics on a gap, duplicate, lag or early end.
pub async fn read_contiguous<S: Subscription>(sub: &mut S, after: u64, head: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let mut expect = after + 1;
    while expect <= head {
        match sub.next_item().await {
            Some(Item::Event(e)) => {
                assert_eq!(
                    e.seq, expect,
                    "event seq out of order: got {}, expected {expect} (after={after}, head={head})",
                    e.seq
                );
                expect += 1;
                out.push(e);
            }
            Some(Item::Heartbeat) => {}
            Some(Item::Lagged(n)) => panic!("unexpected lagged (resume after {n}) at seq {expect}"),
            None => panic!("stream ended at seq {}, wanted up to {head}", expect - 1),
        }
    }
    out
}

/// A short pause, for tests that must let the daemon make progress.
pub async fn pause_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
