//! gRPC `WorkspaceService`: sessions' worktrees and git work.

use super::grpc::{Grpc, Res, ok};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::workspace_service_server::WorkspaceService;
use agentmux_shared::types::{
    GitCheckoutRequest, GitCommitRequest, GitDiffQuery, GitMergeRequest, GitRemoteRequest,
};
use tonic::Request;

fn remote(r: pb::GitRemoteRequest) -> (String, GitRemoteRequest) {
    (
        r.session_id,
        GitRemoteRequest {
            remote: r.remote,
            branch: r.branch,
            set_upstream: r.set_upstream,
            force: r.force,
            strategy: r.strategy,
        },
    )
}

#[tonic::async_trait]
impl WorkspaceService for Grpc {
    async fn list_workspaces(
        &self,
        _: Request<pb::ListWorkspacesRequest>,
    ) -> Res<pb::ListWorkspacesResponse> {
        ok(self
            .svc
            .list_workspaces()
            .await
            .map(|v| pb::ListWorkspacesResponse {
                workspaces: v.into_iter().map(Into::into).collect(),
            }))
    }

    async fn collect_workspaces(
        &self,
        r: Request<pb::WorkspaceGcRequest>,
    ) -> Res<pb::WorkspaceGcResult> {
        let r = r.into_inner();
        ok(self
            .svc
            .collect_workspaces(r.dry_run, r.force)
            .await
            .map(Into::into))
    }

    async fn git_status(&self, r: Request<pb::GitStatusRequest>) -> Res<pb::GitStatus> {
        ok(self
            .svc
            .git_status(&r.into_inner().session_id)
            .await
            .map(Into::into))
    }

    async fn git_diff(&self, r: Request<pb::GitDiffRequest>) -> Res<pb::GitDiff> {
        let r = r.into_inner();
        let q = GitDiffQuery {
            against: r.against,
            path: r.path,
            raw: r.raw,
            max_lines: r.max_lines,
            no_untracked: r.no_untracked,
        };
        ok(self.svc.git_diff(&r.session_id, &q).await.map(Into::into))
    }

    async fn git_log(&self, r: Request<pb::GitLogRequest>) -> Res<pb::GitLog> {
        let r = r.into_inner();
        ok(self
            .svc
            .git_log(&r.session_id, r.limit)
            .await
            .map(Into::into))
    }

    async fn git_branches(&self, r: Request<pb::GitBranchesRequest>) -> Res<pb::GitBranches> {
        ok(self
            .svc
            .git_branches(&r.into_inner().session_id)
            .await
            .map(Into::into))
    }

    async fn git_commit(&self, r: Request<pb::GitCommitRequest>) -> Res<pb::GitCommit> {
        let r = r.into_inner();
        let req = GitCommitRequest {
            message: r.message,
            paths: r.paths,
            staged: r.staged,
        };
        ok(self
            .svc
            .git_commit(&r.session_id, &req)
            .await
            .map(Into::into))
    }

    async fn git_stage(&self, r: Request<pb::GitPathsRequest>) -> Res<pb::GitStatus> {
        let r = r.into_inner();
        ok(self
            .svc
            .git_stage(&r.session_id, &r.paths)
            .await
            .map(Into::into))
    }

    async fn git_unstage(&self, r: Request<pb::GitPathsRequest>) -> Res<pb::GitStatus> {
        let r = r.into_inner();
        ok(self
            .svc
            .git_unstage(&r.session_id, &r.paths)
            .await
            .map(Into::into))
    }

    async fn git_discard(&self, r: Request<pb::GitPathsRequest>) -> Res<pb::GitStatus> {
        let r = r.into_inner();
        ok(self
            .svc
            .git_discard(&r.session_id, &r.paths)
            .await
            .map(Into::into))
    }

    async fn git_merge(&self, r: Request<pb::GitMergeRequest>) -> Res<pb::GitMergeResult> {
        let r = r.into_inner();
        let req = GitMergeRequest {
            target: r.target,
            strategy: r.strategy,
            message: r.message,
        };
        ok(self
            .svc
            .git_merge(&r.session_id, &req)
            .await
            .map(Into::into))
    }

    async fn git_push(&self, r: Request<pb::GitRemoteRequest>) -> Res<pb::GitRemoteResult> {
        let (id, req) = remote(r.into_inner());
        ok(self.svc.git_push(&id, &req).await.map(Into::into))
    }

    async fn git_pull(&self, r: Request<pb::GitRemoteRequest>) -> Res<pb::GitRemoteResult> {
        let (id, req) = remote(r.into_inner());
        ok(self.svc.git_pull(&id, &req).await.map(Into::into))
    }

    async fn git_checkout(&self, r: Request<pb::GitCheckoutRequest>) -> Res<pb::GitStatus> {
        let r = r.into_inner();
        let req = GitCheckoutRequest {
            r#ref: r.r#ref,
            create: r.create,
        };
        ok(self
            .svc
            .git_checkout(&r.session_id, &req)
            .await
            .map(Into::into))
    }
}
