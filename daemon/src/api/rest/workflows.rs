//! Workflow definitions: list, get, preview.

use super::{ApiResult, Route, schema};
use crate::api::body::ApiJson;
use crate::service::Service;
use agentmux_shared::types::{PreviewRequest, WorkflowDef, WorkflowInfo, WorkflowPreview};
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::Serialize;

pub(super) fn routes() -> Vec<Route> {
    vec![
        route!("get" "/v1/workflows", "listWorkflows", "Workflows: the files in <config dir>/workflows and the built-ins (a file that cannot be read is listed with its error)", None, 200 schema::<WorkflowList>(), &[], false, get(list_workflows)),
        route!("get" "/v1/workflows/{name}", "getWorkflow", "A workflow's definition", None, 200 schema::<WorkflowDef>(), &[], false, get(get_workflow)),
        route!("post" "/v1/workflows/preview", "previewWorkflow", "Check a workflow (by name or an inline definition): its order and parallel layers, or 400 with every error and where it is", schema::<PreviewRequest>(), 200 schema::<WorkflowPreview>(), &[], false, post(preview_workflow)),
    ]
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowInfo>,
}

async fn list_workflows(State(svc): State<Service>) -> ApiResult<Json<WorkflowList>> {
    Ok(Json(WorkflowList {
        workflows: svc.list_workflows().await?,
    }))
}

async fn get_workflow(
    State(svc): State<Service>,
    Path(name): Path<String>,
) -> ApiResult<Json<WorkflowDef>> {
    Ok(Json(svc.get_workflow(&name).await?))
}

async fn preview_workflow(
    State(svc): State<Service>,
    ApiJson(b): ApiJson<PreviewRequest>,
) -> ApiResult<Json<WorkflowPreview>> {
    Ok(Json(svc.preview_workflow(b).await?))
}
