//! `WorkspaceService` calls: sessions' worktrees and git work.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::workspace_service_client::WorkspaceServiceClient;
use agentmux_shared::Result;
use agentmux_shared::types::{
    GitBranches, GitCommit, GitDiff, GitDiffQuery, GitLog, GitMergeRequest, GitMergeResult,
    GitRemoteRequest, GitRemoteResult, GitStatus, WorkspaceGcResult, WorkspaceInfo,
};

/// Converts a reply, or the status it failed with.
fn reply<W, T: From<W>>(r: std::result::Result<tonic::Response<W>, tonic::Status>) -> Result<T> {
    Ok(r.map_err(status_to_error)?.into_inner().into())
}

fn remote(session: &str, r: &GitRemoteRequest) -> pb::GitRemoteRequest {
    pb::GitRemoteRequest {
        session_id: session.to_string(),
        remote: r.remote.clone(),
        branch: r.branch.clone(),
        set_upstream: r.set_upstream,
        force: r.force,
        strategy: r.strategy.clone(),
    }
}

fn paths(session: &str, paths: &[String]) -> pb::GitPathsRequest {
    pb::GitPathsRequest {
        session_id: session.to_string(),
        paths: paths.to_vec(),
    }
}

impl Client {
    fn workspaces(&self) -> WorkspaceServiceClient<tonic::transport::Channel> {
        WorkspaceServiceClient::new(self.channel.clone())
    }

    pub async fn list_workspaces(&self) -> Result<Vec<WorkspaceInfo>> {
        let r = self
            .workspaces()
            .list_workspaces(pb::ListWorkspacesRequest {})
            .await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .workspaces
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn collect_workspaces(
        &self,
        dry_run: bool,
        force: bool,
    ) -> Result<WorkspaceGcResult> {
        reply(
            self.workspaces()
                .collect_workspaces(pb::WorkspaceGcRequest { dry_run, force })
                .await,
        )
    }

    pub async fn git_status(&self, session: &str) -> Result<GitStatus> {
        reply(
            self.workspaces()
                .git_status(pb::GitStatusRequest {
                    session_id: session.to_string(),
                })
                .await,
        )
    }

    pub async fn git_diff(&self, session: &str, q: &GitDiffQuery) -> Result<GitDiff> {
        reply(
            self.workspaces()
                .git_diff(pb::GitDiffRequest {
                    session_id: session.to_string(),
                    against: q.against.clone(),
                    path: q.path.clone(),
                    raw: q.raw,
                    max_lines: q.max_lines,
                    no_untracked: q.no_untracked,
                })
                .await,
        )
    }

    pub async fn git_log(&self, session: &str, limit: u32) -> Result<GitLog> {
        reply(
            self.workspaces()
                .git_log(pb::GitLogRequest {
                    session_id: session.to_string(),
                    limit,
                })
                .await,
        )
    }

    pub async fn git_branches(&self, session: &str) -> Result<GitBranches> {
        reply(
            self.workspaces()
                .git_branches(pb::GitBranchesRequest {
                    session_id: session.to_string(),
                })
                .await,
        )
    }

    pub async fn git_commit(
        &self,
        session: &str,
        message: &str,
        paths: &[String],
        staged: bool,
    ) -> Result<GitCommit> {
        reply(
            self.workspaces()
                .git_commit(pb::GitCommitRequest {
                    session_id: session.to_string(),
                    message: message.to_string(),
                    paths: paths.to_vec(),
                    staged,
                })
                .await,
        )
    }

    pub async fn git_stage(&self, session: &str, p: &[String]) -> Result<GitStatus> {
        reply(self.workspaces().git_stage(paths(session, p)).await)
    }

    pub async fn git_unstage(&self, session: &str, p: &[String]) -> Result<GitStatus> {
        reply(self.workspaces().git_unstage(paths(session, p)).await)
    }

    pub async fn git_discard(&self, session: &str, p: &[String]) -> Result<GitStatus> {
        reply(self.workspaces().git_discard(paths(session, p)).await)
    }

    pub async fn git_merge(&self, session: &str, r: &GitMergeRequest) -> Result<GitMergeResult> {
        reply(
            self.workspaces()
                .git_merge(pb::GitMergeRequest {
                    session_id: session.to_string(),
                    target: r.target.clone(),
                    strategy: r.strategy.clone(),
                    message: r.message.clone(),
                })
                .await,
        )
    }

    pub async fn git_push(&self, session: &str, r: &GitRemoteRequest) -> Result<GitRemoteResult> {
        reply(self.workspaces().git_push(remote(session, r)).await)
    }

    pub async fn git_pull(&self, session: &str, r: &GitRemoteRequest) -> Result<GitRemoteResult> {
        reply(self.workspaces().git_pull(remote(session, r)).await)
    }

    pub async fn git_checkout(
        &self,
        session: &str,
        r#ref: &str,
        create: bool,
    ) -> Result<GitStatus> {
        reply(
            self.workspaces()
                .git_checkout(pb::GitCheckoutRequest {
                    session_id: session.to_string(),
                    r#ref: r#ref.to_string(),
                    create,
                })
                .await,
        )
    }
}
