//! Sessions and their messages.

use super::{ApiResult, Route, schema};
use crate::api::body::ApiJson;
use crate::service::Service;
use agentmux_shared::types::{CancelResult, CreateSession, MessagePage, SendResult, Session};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Vec<Route> {
    const PAGE: &[(&str, &str)] = &[("page_size", "u32"), ("page_token", "string")];
    const MSGS: &[(&str, &str)] = &[("page_size", "u32"), ("after_index", "u64")];
    vec![
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
        route!("delete" "/v1/sessions/{id}/rules/{tool}", "revokeRule", "Take back a session's allow-always rule for a tool (its requests ask again); returns the session, whose rules field lists the rest", None, 200 schema::<Session>(), &[], false, delete(revoke_rule)),
    ]
}

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

async fn revoke_rule(
    State(svc): State<Service>,
    Path((id, tool)): Path<(String, String)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(svc.revoke_rule(&id, &tool).await?))
}
