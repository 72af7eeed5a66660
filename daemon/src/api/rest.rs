//! The REST gateway: JSON mirrors of the gRPC calls, SSE and WebSocket event streams. Routes
//! are declared once in `ROUTES`; the router and the OpenAPI document are both built from it.

use super::Transport;
use super::auth::{KeyOf, REVOKED, Revocation};
use super::body::ApiJson;
use super::error::ApiError;
use super::openapi::{self, Body, RouteDoc};
use crate::service::AttachParams;
use crate::service::Service;
use agentmux_shared::types::{
    ApiKey, Approval, AttachControl, AttachError, AttachEvent, AttachFrame, AttachInput,
    CancelResult, CreateSession, CreateTerminal, CreatedKey, DecideApproval, GitStatus, Health,
    Info, InstallJob, InstallProvider, MessagePage, ProviderInfo, SendResult, Session, StreamItem,
    Terminal,
};
use agentmux_shared::{Error, ErrorKind};
use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use futures_util::{SinkExt, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    // Not blank, no control characters.
    #[schemars(
        length(max = 120),
        regex(pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")
    )]
    pub title: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ForkBody {
    #[schemars(range(max = 9_007_199_254_740_991u64))]
    pub at_index: u64,
    #[schemars(length(max = 120), regex(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub title: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CancelBody {
    pub clear_queue: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    #[schemars(regex(pattern = r"\S"))]
    pub content: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KeyBody {
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
    pub next_page_token: String,
    pub last_seq: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeletedSession {
    pub id: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResizeBody {
    #[schemars(range(min = 1, max = 1000))]
    pub rows: u32,
    #[schemars(range(min = 1, max = 1000))]
    pub cols: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TerminalList {
    pub terminals: Vec<Terminal>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RemovedTerminal {
    pub id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AttachQuery {
    rows: u32,
    cols: u32,
    scrollback: u32,
    read_only: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyList {
    pub keys: Vec<ApiKey>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApprovalList {
    pub approvals: Vec<Approval>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstallJobList {
    pub jobs: Vec<InstallJob>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApprovalsQuery {
    session: String,
    pending: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteQuery {
    force: bool,
    delete_branch: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page_size: u32,
    page_token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessagesQuery {
    page_size: u32,
    after_index: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SendQuery {
    wait: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventsQuery {
    after: Option<u64>,
    session: String,
}

/// One REST route: its documentation and its handler, declared together.
pub struct Route {
    pub doc: RouteDoc,
    pub handler: fn() -> MethodRouter<Service>,
}

macro_rules! route {
    ($m:literal $path:literal, $op:literal, $summary:literal, $req:expr, $status:literal $resp:expr, $query:expr, $unix:literal, $h:expr) => {
        Route {
            doc: RouteDoc {
                method: $m,
                path: $path,
                operation_id: $op,
                summary: $summary,
                request: $req,
                status: $status,
                response: $resp,
                query: $query,
                unix_only: $unix,
                also_ok: None,
            },
            handler: || $h,
        }
    };
}

fn schema<T: JsonSchema>() -> Option<Body> {
    Some(Body::Json(|g| g.subschema_for::<T>()))
}

pub fn routes() -> Vec<Route> {
    let mut all = table();
    // `?wait=true` answers 200 with the reply instead of 202.
    for r in all.iter_mut() {
        if r.doc.operation_id == "sendMessage" {
            r.doc.also_ok = Some(200);
        }
    }
    all
}

fn table() -> Vec<Route> {
    const PAGE: &[(&str, &str)] = &[("page_size", "u32"), ("page_token", "string")];
    const MSGS: &[(&str, &str)] = &[("page_size", "u32"), ("after_index", "u64")];
    const EVENTS: &[(&str, &str)] = &[("after", "u64"), ("session", "string")];
    vec![
        route!("get" "/v1/health", "health", "Liveness, last seq and provider availability", None, 200 schema::<Health>(), &[], false, get(health)),
        route!("get" "/v1/info", "info", "Version, pid, paths and listeners", None, 200 schema::<Info>(), &[], false, get(info)),
        route!("get" "/v1/sessions", "listSessions", "List sessions, oldest first, paged", None, 200 schema::<SessionList>(), PAGE, false, get(list_sessions)),
        route!("post" "/v1/sessions", "createSession", "Create a session", schema::<CreateSession>(), 201 schema::<Session>(), &[], false, post(create_session)),
        route!("get" "/v1/sessions/{id}", "getSession", "Get a session by id, name, or a unique prefix of either", None, 200 schema::<Session>(), &[], false, get(get_session)),
        route!("patch" "/v1/sessions/{id}", "renameSession", "Rename a session", schema::<RenameBody>(), 200 schema::<Session>(), &[], false, patch(rename_session)),
        route!("delete" "/v1/sessions/{id}", "deleteSession", "Delete a session and its messages; a worktree holding work found nowhere else is 409 unless force (its branch stays unless delete_branch)", None, 200 schema::<DeletedSession>(), &[("force", "boolean"), ("delete_branch", "boolean")], false, delete(delete_session)),
        route!("post" "/v1/sessions/{id}/fork", "forkSession", "Copy a session's first messages into a new session", schema::<ForkBody>(), 201 schema::<Session>(), &[], false, post(fork_session)),
        route!("post" "/v1/sessions/{id}/reset", "resetSession", "Clear a session's history", None, 200 schema::<Session>(), &[], false, post(reset_session)),
        route!("post" "/v1/sessions/{id}/resume", "resumeSession", "Run the input still queued after an interruption", None, 200 schema::<Session>(), &[], false, post(resume_session)),
        route!("post" "/v1/sessions/{id}/cancel", "cancelSession", "Stop the running turn; clear_queue also drops queued input", schema::<CancelBody>(), 200 schema::<CancelResult>(), &[], false, post(cancel_session)),
        route!("get" "/v1/sessions/{id}/messages", "listMessages", "A session's messages in order, paged", None, 200 schema::<MessagePage>(), MSGS, false, get(list_messages)),
        route!("post" "/v1/sessions/{id}/messages", "sendMessage", "Send a message: 202 once queued, or with wait=true 200 with the answer", schema::<SendBody>(), 202 schema::<SendResult>(), &[("wait", "boolean")], false, post(send_message)),
        route!("get" "/v1/events", "events", "Server-sent events: replay after Last-Event-ID (or after), then live", None, 200 Some(Body::EventStream(|g| g.subschema_for::<agentmux_shared::types::Event>())), EVENTS, false, get(events_sse)),
        route!("get" "/v1/ws", "eventsWebSocket", "WebSocket carrying the same events as /v1/events, one JSON text frame each", None, 101 Some(Body::EventStream(|g| g.subschema_for::<agentmux_shared::types::Event>())), EVENTS, false, get(events_ws)),
        route!("get" "/v1/approvals", "listApprovals", "List approvals, oldest first; filter by session and pending", None, 200 schema::<ApprovalList>(), &[("session", "string"), ("pending", "boolean")], false, get(list_approvals)),
        route!("get" "/v1/approvals/{id}", "getApproval", "Get an approval", None, 200 schema::<Approval>(), &[], false, get(get_approval)),
        route!("get" "/v1/sessions/{id}/git/status", "gitStatus", "Where the session's work stands: branch, ahead/behind its base, changed files (staged, unstaged, untracked, conflicted, renames)", None, 200 schema::<GitStatus>(), &[], false, get(git_status)),
        route!("delete" "/v1/sessions/{id}/rules/{tool}", "revokeRule", "Take back a session's allow-always rule for a tool (its requests ask again); returns the session, whose rules field lists the rest", None, 200 schema::<Session>(), &[], false, delete(revoke_rule)),
        route!("post" "/v1/approvals/{id}", "decideApproval", "Decide a pending approval (allow_once, allow_always, deny); Idempotency-Key accepted; a conflicting second decision is 409", schema::<DecideApproval>(), 200 schema::<Approval>(), &[], false, post(decide_approval)),
        route!("get" "/v1/providers", "listProviders", "Provider CLIs (installed, path, version, credentials, install hint) and HTTP providers", None, 200 schema::<ProviderList>(), &[], false, get(list_providers)),
        route!("get" "/v1/providers/jobs", "listInstallJobs", "npm install jobs, oldest first", None, 200 schema::<InstallJobList>(), &[], false, get(list_install_jobs)),
        route!("get" "/v1/providers/jobs/{id}", "getInstallJob", "Get an install job", None, 200 schema::<InstallJob>(), &[], false, get(get_install_job)),
        route!("get" "/v1/providers/{id}", "getProvider", "Get one provider as the registry sees it", None, 200 schema::<ProviderInfo>(), &[], false, get(get_provider)),
        route!("post" "/v1/providers/{id}/install", "installProvider", "Install a provider CLI with npm into the daemon-managed prefix: 202 with the job (already failed when npm is missing); progress comes as provider.install events; 409 while an install of it runs", schema::<InstallProvider>(), 202 schema::<InstallJob>(), &[], false, post(install_provider)),
        route!("get" "/v1/terminals", "listTerminals", "List terminals", None, 200 schema::<TerminalList>(), &[], false, get(list_terminals)),
        route!("post" "/v1/terminals", "createTerminal", "Start a program (or a provider preset) in a daemon-owned PTY", schema::<CreateTerminal>(), 201 schema::<Terminal>(), &[], false, post(create_terminal)),
        route!("get" "/v1/terminals/{id}", "getTerminal", "Get a terminal by id, unique id prefix or name", None, 200 schema::<Terminal>(), &[], false, get(get_terminal)),
        route!("delete" "/v1/terminals/{id}", "removeTerminal", "Kill a terminal if running and forget it", None, 200 schema::<RemovedTerminal>(), &[], false, delete(remove_terminal)),
        route!("post" "/v1/terminals/{id}/kill", "killTerminal", "SIGHUP, SIGTERM, then SIGKILL to the program's process group", None, 200 schema::<Terminal>(), &[], false, post(kill_terminal)),
        route!("post" "/v1/terminals/{id}/restart", "restartTerminal", "Run an exited terminal's command again", None, 200 schema::<Terminal>(), &[], false, post(restart_terminal)),
        route!("post" "/v1/terminals/{id}/resize", "resizeTerminal", "Set the terminal size", schema::<ResizeBody>(), 200 schema::<Terminal>(), &[], false, post(resize_terminal)),
        route!("get" "/v1/terminals/{id}/attach", "attachTerminal", "WebSocket attach: binary frames carry screen output and input, text frames JSON control (resize, snapshot, exited)", None, 101 Some(Body::WebSocket { server: |g| g.subschema_for::<AttachFrame>(), client: |g| g.subschema_for::<AttachControl>(), binary: "server: the terminal's output (after a snapshot frame, one frame that redraws the screen); client: input" }), &[("rows", "u32"), ("cols", "u32"), ("scrollback", "u32"), ("read_only", "boolean")], false, get(attach_terminal)),
        route!("get" "/v1/openapi.json", "openapi", "This document", None, 200 Some(Body::AnyJson), &[], false, get(openapi_json)),
        route!("get" "/v1/keys", "listKeys", "List API keys (Unix socket only)", None, 200 schema::<KeyList>(), &[], true, get(list_keys)),
        route!("post" "/v1/keys", "createKey", "Create an API key; the secret is shown once (Unix socket only)", schema::<KeyBody>(), 201 schema::<CreatedKey>(), &[], true, post(create_key)),
        route!("delete" "/v1/keys/{id}", "revokeKey", "Revoke an API key by id, name or prefix (Unix socket only)", None, 200 schema::<ApiKey>(), &[], true, delete(revoke_key)),
    ]
}

pub fn router(svc: Service, transport: Transport) -> axum::Router {
    let mut by_path: Vec<(&'static str, MethodRouter<Service>)> = Vec::new();
    for r in routes() {
        if r.doc.unix_only && transport == Transport::Tcp {
            continue;
        }
        let h = (r.handler)();
        match by_path.iter_mut().find(|(p, _)| *p == r.doc.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(h),
            None => by_path.push((r.doc.path, h)),
        }
    }
    let mut app = axum::Router::new();
    for (path, m) in by_path {
        app = app.route(path, m);
    }
    let limit = svc.config().daemon.max_body_bytes;
    app.fallback(not_found)
        .layer(axum::middleware::map_response(super::error::envelope))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(svc)
}

async fn not_found(req: Request) -> ApiError {
    ApiError(Error::new(
        ErrorKind::NotFound,
        format!("no route for {} {}", req.method(), req.uri().path()),
    ))
}

async fn health(State(svc): State<Service>) -> Json<Health> {
    Json(svc.health())
}

async fn info(State(svc): State<Service>) -> ApiResult<Json<Info>> {
    Ok(Json(svc.info()?))
}

/// The document, with what this daemon's configuration allows filled in (provider ids and
/// terminal presets), so a request the document calls valid is one the daemon takes.
async fn openapi_json(State(svc): State<Service>) -> Response {
    let mut doc = openapi::document(routes().iter().map(|r| &r.doc));
    let with_empty = |names: Vec<String>| {
        let mut all = vec![String::new()];
        all.extend(names);
        serde_json::json!(all)
    };
    let schemas = &mut doc["components"]["schemas"];
    if schemas["CreateSession"]["properties"]["provider"].is_object() {
        schemas["CreateSession"]["properties"]["provider"]["enum"] = with_empty(svc.provider_ids());
    }
    if schemas["CreateTerminal"]["properties"]["preset"].is_object() {
        schemas["CreateTerminal"]["properties"]["preset"]["enum"] =
            with_empty(svc.config().terminal.preset_names());
    }
    Json(doc).into_response()
}

async fn list_sessions(
    State(svc): State<Service>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<SessionList>> {
    let p = svc.list_sessions(q.page_size, &q.page_token)?;
    Ok(Json(SessionList {
        sessions: p.items,
        next_page_token: p.next_page_token,
        last_seq: p.last_seq,
    }))
}

async fn create_session(
    State(svc): State<Service>,
    ApiJson(req): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    Ok((StatusCode::CREATED, Json(svc.create_session(req).await?)))
}

async fn get_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.get_session(&id)?))
}

async fn rename_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RenameBody>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.rename_session(&id, &b.title).await?))
}

async fn delete_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<Json<DeletedSession>> {
    Ok(Json(DeletedSession {
        id: svc.delete_session(&id, q.force, q.delete_branch).await?,
    }))
}

async fn fork_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ForkBody>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let s = svc.fork_session(&id, b.at_index, &b.title).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

async fn reset_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.reset_session(&id).await?))
}

async fn resume_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.resume_session(&id).await?))
}

async fn cancel_session(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CancelBody>,
) -> ApiResult<Json<CancelResult>> {
    Ok(Json(svc.cancel_session(&id, b.clear_queue).await?))
}

async fn list_messages(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<Json<MessagePage>> {
    Ok(Json(svc.list_messages(&id, q.page_size, q.after_index)?))
}

async fn send_message(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<SendQuery>,
    ApiJson(b): ApiJson<SendBody>,
) -> ApiResult<(StatusCode, Json<SendResult>)> {
    let r = svc.send_message(&id, &b.content, q.wait).await?;
    let status = if q.wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(r)))
}

async fn list_approvals(
    State(svc): State<Service>,
    Query(q): Query<ApprovalsQuery>,
) -> ApiResult<Json<ApprovalList>> {
    Ok(Json(ApprovalList {
        approvals: svc.list_approvals(&q.session, q.pending)?,
    }))
}

async fn get_approval(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Approval>> {
    Ok(Json(svc.get_approval(&id)?))
}

async fn decide_approval(
    State(svc): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<DecideApproval>,
) -> ApiResult<Json<Approval>> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(Json(
        svc.decide_approval(&id, b.decision, &b.message, key)
            .await?,
    ))
}

async fn git_status(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_status(&id).await?))
}

async fn revoke_rule(
    State(svc): State<Service>,
    Path((id, tool)): Path<(String, String)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.revoke_rule(&id, &tool).await?))
}

async fn list_providers(State(svc): State<Service>) -> ApiResult<Json<ProviderList>> {
    Ok(Json(ProviderList {
        providers: svc.list_providers().await?,
    }))
}

async fn get_provider(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderInfo>> {
    Ok(Json(svc.get_provider(&id).await?))
}

async fn install_provider(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InstallProvider>,
) -> ApiResult<(StatusCode, Json<InstallJob>)> {
    let job = svc.install_provider(&id, &b.version).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn list_install_jobs(State(svc): State<Service>) -> ApiResult<Json<InstallJobList>> {
    Ok(Json(InstallJobList {
        jobs: svc.list_install_jobs()?,
    }))
}

async fn get_install_job(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<InstallJob>> {
    Ok(Json(svc.get_install_job(&id)?))
}

async fn list_keys(State(svc): State<Service>) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList {
        keys: svc.list_keys()?,
    }))
}

async fn create_key(
    State(svc): State<Service>,
    ApiJson(b): ApiJson<KeyBody>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    Ok((StatusCode::CREATED, Json(svc.create_key(&b.name).await?)))
}

async fn revoke_key(State(svc): State<Service>, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(svc.revoke_key(&id).await?))
}

/// `Last-Event-ID` wins over `?after=`: it is what a reconnecting EventSource sends.
fn resume_point(headers: &HeaderMap, q: &EventsQuery) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| ApiError(Error::invalid("Last-Event-ID must be an event seq"))),
        None => Ok(q.after.unwrap_or(0)),
    }
}

async fn events_sse(
    State(svc): State<Service>,
    Revocation(revoked): Revocation,
    KeyOf(key): KeyOf,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Response> {
    let after = resume_point(&headers, &q)?;
    let session = Some(q.session).filter(|s| !s.is_empty());
    let rx = svc.open_stream(after, session, key.as_deref())?;
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|item| {
        Ok::<_, Infallible>(match item {
            StreamItem::Event(e) => SseEvent::default()
                .id(e.seq.to_string())
                .event(e.payload.name())
                .data(event_json(&e)),
            StreamItem::Heartbeat { .. } => SseEvent::default().comment("heartbeat"),
            StreamItem::Lagged { resume_after_seq } => SseEvent::default()
                .event("lagged")
                .data(format!("{{\"resume_after_seq\":{resume_after_seq}}}")),
        })
    });
    let end = revoked.clone();
    let farewell = futures_util::stream::once(async move {
        end.is_cancelled().then(|| {
            Ok(SseEvent::default().event("error").data(format!(
                "{{\"code\":\"unauthenticated\",\"message\":\"{REVOKED}\"}}"
            )))
        })
    })
    .filter_map(std::future::ready);
    let stream = stream.take_until(revoked.cancelled_owned()).chain(farewell);
    Ok(Sse::new(stream).into_response())
}

fn event_json(e: &Arc<agentmux_shared::types::Event>) -> String {
    serde_json::to_string(e.as_ref()).unwrap_or_else(|err| {
        tracing::error!(error = %err, seq = e.seq, "event does not serialize");
        format!("{{\"seq\":{},\"type\":\"error\"}}", e.seq)
    })
}

async fn events_ws(
    State(svc): State<Service>,
    Revocation(revoked): Revocation,
    KeyOf(key): KeyOf,
    Query(q): Query<EventsQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let ws = upgrade(ws)?;
    let after = q.after.unwrap_or(0);
    let session = Some(q.session).filter(|s| !s.is_empty());
    // Opened before the upgrade: over the limit is a plain 429.
    let events = svc.open_stream(after, session, key.as_deref())?;
    // Clients only send control frames here.
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| forward_ws(socket, events, revoked)))
}

async fn forward_ws(
    socket: WebSocket,
    mut events: tokio::sync::mpsc::Receiver<StreamItem>,
    revoked: CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    loop {
        tokio::select! {
            // Biased: a client's close is seen before the next frame of a long backlog.
            biased;
            _ = revoked.cancelled() => {
                let _ = tx.send(revoked_close()).await;
                return;
            }
            msg = rx.next() => match msg {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            item = events.recv() => {
                let Some(item) = item else { break };
                let (text, last) = match item {
                    StreamItem::Event(e) => (event_json(&e), false),
                    StreamItem::Heartbeat { last_seq } => {
                        (format!("{{\"type\":\"heartbeat\",\"last_seq\":{last_seq}}}"), false)
                    }
                    StreamItem::Lagged { resume_after_seq } => (
                        format!("{{\"type\":\"lagged\",\"resume_after_seq\":{resume_after_seq}}}"),
                        true,
                    ),
                };
                if tx.send(WsMessage::Text(text.into())).await.is_err() || last {
                    break;
                }
            }
        }
    }
    let _ = tx.close().await;
}

async fn list_terminals(State(svc): State<Service>) -> ApiResult<Json<TerminalList>> {
    Ok(Json(TerminalList {
        terminals: svc.list_terminals()?,
    }))
}

async fn create_terminal(
    State(svc): State<Service>,
    ApiJson(req): ApiJson<CreateTerminal>,
) -> ApiResult<(StatusCode, Json<Terminal>)> {
    Ok((StatusCode::CREATED, Json(svc.create_terminal(req).await?)))
}

async fn get_terminal(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Terminal>> {
    Ok(Json(svc.get_terminal(&id)?))
}

async fn remove_terminal(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<RemovedTerminal>> {
    Ok(Json(RemovedTerminal {
        id: svc.remove_terminal(&id).await?,
    }))
}

async fn kill_terminal(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Terminal>> {
    Ok(Json(svc.kill_terminal(&id).await?))
}

async fn restart_terminal(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Terminal>> {
    Ok(Json(svc.restart_terminal(&id).await?))
}

async fn resize_terminal(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResizeBody>,
) -> ApiResult<Json<Terminal>> {
    Ok(Json(svc.resize_terminal(&id, b.rows, b.cols).await?))
}

fn upgrade(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<WebSocketUpgrade> {
    ws.map_err(|r| {
        ApiError(Error::invalid(format!(
            "this route needs a WebSocket upgrade: {r}"
        )))
    })
}

/// Attaches before upgrading, so an unknown terminal is a plain 404, not a closed socket.
async fn attach_terminal(
    State(svc): State<Service>,
    Revocation(revoked): Revocation,
    Path(id): Path<String>,
    Query(q): Query<AttachQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    svc.get_terminal(&id)?;
    let ws = upgrade(ws)?;
    let att = svc
        .attach_terminal(AttachParams {
            id,
            rows: q.rows,
            cols: q.cols,
            scrollback_lines: q.scrollback,
            read_only: q.read_only,
        })
        .await?;
    let limit = svc.config().daemon.max_body_bytes;
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| forward_terminal(att, socket, revoked)))
}

async fn forward_terminal(
    mut att: crate::service::Attachment,
    socket: WebSocket,
    revoked: CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    loop {
        tokio::select! {
            // Biased: input that arrives with the revocation is not delivered.
            biased;
            _ = revoked.cancelled() => {
                let _ = tx.send(revoked_close()).await;
                return;
            }
            item = att.items.recv() => {
                let Some(item) = item else { break };
                let (frames, last) = match item {
                    AttachEvent::Snapshot(s) => {
                        let head = AttachFrame::Snapshot {
                            rows: s.rows,
                            cols: s.cols,
                            terminal: s.terminal.clone().map(Box::new),
                        };
                        (vec![ws_text(&head), WsMessage::Binary(s.to_bytes().into())], false)
                    }
                    AttachEvent::Output(b) => (vec![WsMessage::Binary(b)], false),
                    AttachEvent::Exited(e) => (vec![ws_text(&AttachFrame::Exited(e))], true),
                };
                for f in frames {
                    if tx.send(f).await.is_err() {
                        return;
                    }
                }
                if last {
                    break;
                }
            }
            msg = rx.next() => {
                let input = match msg {
                    Some(Ok(WsMessage::Binary(b))) => Ok(AttachInput::Input(b)),
                    Some(Ok(WsMessage::Text(t))) => serde_json::from_str::<AttachControl>(&t)
                        .map(AttachInput::from)
                        .map_err(|e| Error::invalid(format!("bad control message: {e}"))),
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let res = match input {
                    Ok(input) => att.send(input).await,
                    Err(e) => Err(e),
                };
                match res {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        let frame = AttachFrame::Error {
                            error: AttachError {
                                code: e.kind.code().to_string(),
                                message: super::error::public_message(&e),
                            },
                        };
                        if tx.send(ws_text(&frame)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
    let _ = tx.close().await;
}

/// 1008 (policy violation): the client should not reconnect with the same key.
fn revoked_close() -> WsMessage {
    WsMessage::Close(Some(axum::extract::ws::CloseFrame {
        code: 1008,
        reason: REVOKED.into(),
    }))
}

fn ws_text(frame: &AttachFrame) -> WsMessage {
    // These frames hold strings and numbers only: serialising cannot fail.
    let text = serde_json::to_string(frame).unwrap_or_default();
    WsMessage::Text(text.into())
}
