//! `WorkspaceService` calls: the git state of a session's work.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_shared::Result;
use agentmux_shared::types::GitStatus;

impl Client {
    pub async fn list_workspaces(&self) -> Result<Vec<agentmux_shared::types::WorkspaceInfo>> {
        let r = pb::workspace_service_client::WorkspaceServiceClient::new(self.channel.clone())
            .list_workspaces(pb::ListWorkspacesRequest {})
            .await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .workspaces
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn git_status(&self, session: &str) -> Result<GitStatus> {
        let r = pb::workspace_service_client::WorkspaceServiceClient::new(self.channel.clone())
            .git_status(pb::GitStatusRequest {
                session_id: session.to_string(),
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }
}
