//! Terminals and their WebSocket attach.

use super::{ApiResult, Route, revoked_close, schema, upgrade};
use crate::api::auth::Revocation;
use crate::api::body::ApiJson;
use crate::api::openapi::Body;
use crate::service::AttachParams;
use crate::service::Service;
use agentmux_shared::Error;
use agentmux_shared::types::{
    AttachControl, AttachError, AttachEvent, AttachFrame, AttachInput, CreateTerminal, Terminal,
};
use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use futures_util::{SinkExt, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub(super) fn routes() -> Vec<Route> {
    vec![
        route!("get" "/v1/terminals", "listTerminals", "List terminals", None, 200 schema::<TerminalList>(), &[], false, get(list_terminals)),
        route!("post" "/v1/terminals", "createTerminal", "Start a program (or a provider preset) in a daemon-owned PTY", schema::<CreateTerminal>(), 201 schema::<Terminal>(), &[], false, post(create_terminal)),
        route!("get" "/v1/terminals/{id}", "getTerminal", "Get a terminal by id, unique id prefix or name", None, 200 schema::<Terminal>(), &[], false, get(get_terminal)),
        route!("delete" "/v1/terminals/{id}", "removeTerminal", "Kill a terminal if running and forget it", None, 200 schema::<RemovedTerminal>(), &[], false, delete(remove_terminal)),
        route!("post" "/v1/terminals/{id}/kill", "killTerminal", "SIGHUP, SIGTERM, then SIGKILL to the program's process group", None, 200 schema::<Terminal>(), &[], false, post(kill_terminal)),
        route!("post" "/v1/terminals/{id}/restart", "restartTerminal", "Run an exited terminal's command again", None, 200 schema::<Terminal>(), &[], false, post(restart_terminal)),
        route!("post" "/v1/terminals/{id}/resize", "resizeTerminal", "Set the terminal size", schema::<ResizeBody>(), 200 schema::<Terminal>(), &[], false, post(resize_terminal)),
        route!("get" "/v1/terminals/{id}/attach", "attachTerminal", "WebSocket attach: binary frames carry screen output and input, text frames JSON control (resize, snapshot, exited)", None, 101 Some(Body::WebSocket { server: |g| g.subschema_for::<AttachFrame>(), client: |g| g.subschema_for::<AttachControl>(), binary: "server: the terminal's output (after a snapshot frame, one frame that redraws the screen); client: input" }), &[("rows", "u32"), ("cols", "u32"), ("scrollback", "u32"), ("read_only", "boolean")], false, get(attach_terminal)),
    ]
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
                                message: crate::api::error::public_message(&e),
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

fn ws_text(frame: &AttachFrame) -> WsMessage {
    // These frames hold strings and numbers only: serialising cannot fail.
    let text = serde_json::to_string(frame).unwrap_or_default();
    WsMessage::Text(text.into())
}
