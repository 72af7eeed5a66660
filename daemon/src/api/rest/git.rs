//! A session's git work: status, diffs, history, commits, merges and remotes.

use super::{ApiResult, Route, schema};
use crate::service::Service;
use agentmux_shared::types::GitStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;

pub(super) fn routes() -> Vec<Route> {
    vec![
        route!("get" "/v1/sessions/{id}/git/status", "gitStatus", "Where the session's work stands: branch, ahead/behind its base, changed files (staged, unstaged, untracked, conflicted, renames)", None, 200 schema::<GitStatus>(), &[], false, get(git_status)),
    ]
}

async fn git_status(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_status(&id).await?))
}
