//! A session's git work: status, diffs, history, commits, merges and remotes; the worktrees
//! agentmux owns.

use super::{ApiResult, Route, schema};
use crate::api::body::ApiJson;
use crate::service::Service;
use agentmux_shared::types::{
    GitBranches, GitCheckoutRequest, GitCommit, GitCommitRequest, GitDiff, GitDiffQuery, GitLog,
    GitMergeRequest, GitMergeResult, GitPaths, GitRemoteRequest, GitRemoteResult, GitStatus,
    WorkspaceGcRequest, WorkspaceGcResult, WorkspaceInfo,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Vec<Route> {
    const DIFF: &[(&str, &str)] = &[
        ("against", "string"),
        ("path", "string"),
        ("raw", "boolean"),
        ("max_lines", "u32"),
        ("no_untracked", "boolean"),
    ];
    vec![
        route!("get" "/v1/sessions/{id}/git/status", "gitStatus", "Where the session's work stands: branch, ahead/behind its base and upstream, changed files (staged, unstaged, untracked, conflicted, renames)", None, 200 schema::<GitStatus>(), &[], false, get(git_status)),
        route!("get" "/v1/sessions/{id}/git/diff", "gitDiff", "The session's changes parsed into files and hunks: against its base (default), head, staged or unstaged; one path; raw text on request; capped with truncated set", None, 200 schema::<GitDiff>(), DIFF, false, get(git_diff)),
        route!("get" "/v1/sessions/{id}/git/log", "gitLog", "The session's commits since its base, newest first", None, 200 schema::<GitLog>(), &[("limit", "u32")], false, get(git_log)),
        route!("get" "/v1/sessions/{id}/git/branches", "gitBranches", "Local and remote branches, with upstreams and where each is checked out", None, 200 schema::<GitBranches>(), &[], false, get(git_branches)),
        route!("post" "/v1/sessions/{id}/git/commit", "gitCommit", "Commit every change (untracked too), the given paths, or only what is staged", schema::<GitCommitRequest>(), 200 schema::<GitCommit>(), &[], false, post(git_commit)),
        route!("post" "/v1/sessions/{id}/git/stage", "gitStage", "Stage paths (all changes when none)", schema::<GitPaths>(), 200 schema::<GitStatus>(), &[], false, post(git_stage)),
        route!("post" "/v1/sessions/{id}/git/unstage", "gitUnstage", "Unstage paths (all when none)", schema::<GitPaths>(), 200 schema::<GitStatus>(), &[], false, post(git_unstage)),
        route!("post" "/v1/sessions/{id}/git/discard", "gitDiscard", "Put paths back as HEAD has them, deleting new ones (all changes when none); only in a session's own worktree", schema::<GitPaths>(), 200 schema::<GitStatus>(), &[], false, post(git_discard)),
        route!("post" "/v1/sessions/{id}/git/merge", "gitMerge", "Land the session's branch on a target (default its base branch) with merge, squash or rebase, touching no work tree but a clean checkout of the target; conflicts come back structured and nothing is changed", schema::<GitMergeRequest>(), 200 schema::<GitMergeResult>(), &[], false, post(git_merge)),
        route!("post" "/v1/sessions/{id}/git/push", "gitPush", "Push the session's branch (or another) to a remote", schema::<GitRemoteRequest>(), 200 schema::<GitRemoteResult>(), &[], false, post(git_push)),
        route!("post" "/v1/sessions/{id}/git/pull", "gitPull", "Pull into the session's worktree (ff-only, merge or rebase); conflicts are undone and reported", schema::<GitRemoteRequest>(), 200 schema::<GitRemoteResult>(), &[], false, post(git_pull)),
        route!("post" "/v1/sessions/{id}/git/checkout", "gitCheckout", "Switch the session's worktree to a branch or commit, or create a branch", schema::<GitCheckoutRequest>(), 200 schema::<GitStatus>(), &[], false, post(git_checkout)),
        route!("get" "/v1/workspaces", "listWorkspaces", "Every worktree agentmux owns, with its session, branch, state and size; left-over ones as orphan", None, 200 schema::<WorkspaceList>(), &[], false, get(list_workspaces)),
        route!("post" "/v1/workspaces/gc", "collectWorkspaces", "Remove left-over worktrees (one with uncommitted changes only when forced; branches stay) and git's stale records; dry_run says what would go", schema::<WorkspaceGcRequest>(), 200 schema::<WorkspaceGcResult>(), &[], false, post(collect_workspaces)),
    ]
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkspaceList {
    pub workspaces: Vec<WorkspaceInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    limit: u32,
}

async fn git_status(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_status(&id).await?))
}

async fn git_diff(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<GitDiffQuery>,
) -> ApiResult<Json<GitDiff>> {
    Ok(Json(svc.git_diff(&id, &q).await?))
}

async fn git_log(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<GitLog>> {
    Ok(Json(svc.git_log(&id, q.limit).await?))
}

async fn git_branches(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<GitBranches>> {
    Ok(Json(svc.git_branches(&id).await?))
}

async fn git_commit(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitCommitRequest>,
) -> ApiResult<Json<GitCommit>> {
    Ok(Json(svc.git_commit(&id, &b).await?))
}

async fn git_stage(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitPaths>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_stage(&id, &b.paths).await?))
}

async fn git_unstage(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitPaths>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_unstage(&id, &b.paths).await?))
}

async fn git_discard(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitPaths>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_discard(&id, &b.paths).await?))
}

async fn git_merge(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitMergeRequest>,
) -> ApiResult<Json<GitMergeResult>> {
    Ok(Json(svc.git_merge(&id, &b).await?))
}

async fn git_push(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitRemoteRequest>,
) -> ApiResult<Json<GitRemoteResult>> {
    Ok(Json(svc.git_push(&id, &b).await?))
}

async fn git_pull(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitRemoteRequest>,
) -> ApiResult<Json<GitRemoteResult>> {
    Ok(Json(svc.git_pull(&id, &b).await?))
}

async fn git_checkout(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GitCheckoutRequest>,
) -> ApiResult<Json<GitStatus>> {
    Ok(Json(svc.git_checkout(&id, &b).await?))
}

async fn list_workspaces(State(svc): State<Service>) -> ApiResult<Json<WorkspaceList>> {
    Ok(Json(WorkspaceList {
        workspaces: svc.list_workspaces().await?,
    }))
}

async fn collect_workspaces(
    State(svc): State<Service>,
    ApiJson(b): ApiJson<WorkspaceGcRequest>,
) -> ApiResult<Json<WorkspaceGcResult>> {
    Ok(Json(svc.collect_workspaces(b.dry_run, b.force).await?))
}
