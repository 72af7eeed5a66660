//! The event stream over SSE and WebSocket.

use super::{ApiResult, Route, revoked_close, upgrade};
use crate::api::auth::{KeyOf, REVOKED, Revocation};
use crate::api::error::ApiError;
use crate::api::openapi::Body;
use crate::service::Service;
use agentmux_shared::Error;
use agentmux_shared::types::StreamItem;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub(super) fn routes() -> Vec<Route> {
    const EVENTS: &[(&str, &str)] = &[("after", "u64"), ("session", "string")];
    vec![
        route!("get" "/v1/events", "events", "Server-sent events: replay after Last-Event-ID (or after), then live", None, 200 Some(Body::EventStream(|g| g.subschema_for::<agentmux_shared::types::Event>())), EVENTS, false, get(events_sse)),
        route!("get" "/v1/ws", "eventsWebSocket", "WebSocket carrying the same events as /v1/events, one JSON text frame each", None, 101 Some(Body::EventStream(|g| g.subschema_for::<agentmux_shared::types::Event>())), EVENTS, false, get(events_ws)),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventsQuery {
    after: Option<u64>,
    session: String,
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
