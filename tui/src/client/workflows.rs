//! `WorkflowService` calls: workflow definitions.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::workflow_service_client::WorkflowServiceClient;
use agentmux_shared::Result;
use agentmux_shared::types::{WorkflowDef, WorkflowInfo, WorkflowPreview};

impl Client {
    fn workflows(&self) -> WorkflowServiceClient<tonic::transport::Channel> {
        WorkflowServiceClient::new(self.channel.clone())
    }

    pub async fn list_workflows(&self) -> Result<Vec<WorkflowInfo>> {
        let r = self
            .workflows()
            .list_workflows(pb::ListWorkflowsRequest {})
            .await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .workflows
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn get_workflow(&self, name: &str) -> Result<WorkflowDef> {
        let r = self
            .workflows()
            .get_workflow(pb::GetWorkflowRequest {
                name: name.to_string(),
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    /// A workflow by name, or a definition (`name` empty).
    pub async fn preview_workflow(
        &self,
        name: &str,
        definition: Option<WorkflowDef>,
    ) -> Result<WorkflowPreview> {
        let r = self
            .workflows()
            .preview_workflow(pb::PreviewWorkflowRequest {
                workflow: name.to_string(),
                definition: definition.map(Into::into),
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }
}
