//! gRPC `WorkflowService`: workflow definitions.

use super::grpc::{Grpc, Res, ok};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::workflow_service_server::WorkflowService;
use agentmux_shared::types::PreviewRequest;
use tonic::Request;

#[tonic::async_trait]
impl WorkflowService for Grpc {
    async fn list_workflows(
        &self,
        _: Request<pb::ListWorkflowsRequest>,
    ) -> Res<pb::ListWorkflowsResponse> {
        ok(self
            .svc
            .list_workflows()
            .await
            .map(|v| pb::ListWorkflowsResponse {
                workflows: v.into_iter().map(Into::into).collect(),
            }))
    }

    async fn get_workflow(&self, r: Request<pb::GetWorkflowRequest>) -> Res<pb::WorkflowDef> {
        ok(self
            .svc
            .get_workflow(&r.into_inner().name)
            .await
            .map(Into::into))
    }

    async fn preview_workflow(
        &self,
        r: Request<pb::PreviewWorkflowRequest>,
    ) -> Res<pb::WorkflowPreview> {
        let r = r.into_inner();
        let req = PreviewRequest {
            workflow: r.workflow,
            definition: r.definition.map(Into::into),
        };
        ok(self.svc.preview_workflow(req).await.map(Into::into))
    }
}
