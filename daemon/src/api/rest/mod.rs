//! The REST gateway: JSON mirrors of the gRPC calls, SSE and WebSocket event streams. Routes
//! are declared once, beside their handlers; the router and the OpenAPI document are both built from it.

use super::Transport;
use super::auth::REVOKED;
use super::error::ApiError;
use super::openapi::{self, Body, RouteDoc};
use crate::service::Service;
use agentmux_shared::types::{Health, Info};
use agentmux_shared::{Error, ErrorKind};
use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use schemars::JsonSchema;

type ApiResult<T> = Result<T, ApiError>;

/// One REST route: its documentation and its handler, declared together.
pub struct Route {
    pub doc: RouteDoc,
    pub handler: fn() -> MethodRouter<Service>,
}

macro_rules! route {
    ($m:literal $path:literal, $op:literal, $summary:literal, $req:expr, $status:literal $resp:expr, $query:expr, $unix:literal, $h:expr) => {
        $crate::api::rest::Route {
            doc: $crate::api::openapi::RouteDoc {
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

mod admin;
mod files;
mod git;
mod sessions;
mod streams;
mod terminals;
mod workflows;

pub(super) fn schema<T: JsonSchema>() -> Option<Body> {
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
    let mut all = system_routes();
    for part in [
        sessions::routes(),
        streams::routes(),
        admin::routes(),
        git::routes(),
        files::routes(),
        terminals::routes(),
        workflows::routes(),
    ] {
        all.extend(part);
    }
    all
}

fn system_routes() -> Vec<Route> {
    vec![
        route!("get" "/v1/health", "health", "Liveness, last seq and provider availability", None, 200 schema::<Health>(), &[], false, get(health)),
        route!("get" "/v1/info", "info", "Version, pid, paths and listeners", None, 200 schema::<Info>(), &[], false, get(info)),
        route!("get" "/v1/openapi.json", "openapi", "This document", None, 200 Some(Body::AnyJson), &[], false, get(openapi_json)),
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

pub(super) fn upgrade(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<WebSocketUpgrade> {
    ws.map_err(|r| {
        ApiError(Error::invalid(format!(
            "this route needs a WebSocket upgrade: {r}"
        )))
    })
}

/// 1008 (policy violation): the client should not reconnect with the same key.
pub(super) fn revoked_close() -> WsMessage {
    WsMessage::Close(Some(axum::extract::ws::CloseFrame {
        code: 1008,
        reason: REVOKED.into(),
    }))
}
