//! Approvals, providers and their installs, API keys.

use super::{ApiResult, Route, schema};
use crate::api::body::ApiJson;
use crate::service::Service;
use agentmux_shared::types::{
    ApiKey, Approval, CreatedKey, DecideApproval, InstallJob, InstallProvider, ProviderInfo,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Vec<Route> {
    vec![
        route!("get" "/v1/approvals", "listApprovals", "List approvals, oldest first; filter by session and pending", None, 200 schema::<ApprovalList>(), &[("session", "string"), ("pending", "boolean")], false, get(list_approvals)),
        route!("get" "/v1/approvals/{id}", "getApproval", "Get an approval", None, 200 schema::<Approval>(), &[], false, get(get_approval)),
        route!("post" "/v1/approvals/{id}", "decideApproval", "Decide a pending approval (allow_once, allow_always, deny); Idempotency-Key accepted; a conflicting second decision is 409", schema::<DecideApproval>(), 200 schema::<Approval>(), &[], false, post(decide_approval)),
        route!("get" "/v1/providers", "listProviders", "Provider CLIs (installed, path, version, credentials, install hint) and HTTP providers", None, 200 schema::<ProviderList>(), &[], false, get(list_providers)),
        route!("get" "/v1/providers/jobs", "listInstallJobs", "npm install jobs, oldest first", None, 200 schema::<InstallJobList>(), &[], false, get(list_install_jobs)),
        route!("get" "/v1/providers/jobs/{id}", "getInstallJob", "Get an install job", None, 200 schema::<InstallJob>(), &[], false, get(get_install_job)),
        route!("get" "/v1/providers/{id}", "getProvider", "Get one provider as the registry sees it", None, 200 schema::<ProviderInfo>(), &[], false, get(get_provider)),
        route!("post" "/v1/providers/{id}/install", "installProvider", "Install a provider CLI with npm into the daemon-managed prefix: 202 with the job (already failed when npm is missing); progress comes as provider.install events; 409 while an install of it runs", schema::<InstallProvider>(), 202 schema::<InstallJob>(), &[], false, post(install_provider)),
        route!("get" "/v1/keys", "listKeys", "List API keys (Unix socket only)", None, 200 schema::<KeyList>(), &[], true, get(list_keys)),
        route!("post" "/v1/keys", "createKey", "Create an API key; the secret is shown once (Unix socket only)", schema::<KeyBody>(), 201 schema::<CreatedKey>(), &[], true, post(create_key)),
        route!("delete" "/v1/keys/{id}", "revokeKey", "Revoke an API key by id, name or prefix (Unix socket only)", None, 200 schema::<ApiKey>(), &[], true, delete(revoke_key)),
    ]
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KeyBody {
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyList {
    pub keys: Vec<ApiKey>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApprovalList {
    pub approvals: Vec<Approval>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstallJobList {
    pub jobs: Vec<InstallJob>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApprovalsQuery {
    session: String,
    pending: bool,
}

async fn list_approvals(
    State(svc): State<Service>,
    Query(q): Query<ApprovalsQuery>,
) -> ApiResult<Json<ApprovalList>> {
    Ok(Json(ApprovalList {
        approvals: svc.list_approvals(&q.session, q.pending)?,
    }))
}

async fn get_approval(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<Approval>> {
    Ok(Json(svc.get_approval(&id)?))
}

async fn decide_approval(
    State(svc): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<DecideApproval>,
) -> ApiResult<Json<Approval>> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(Json(
        svc.decide_approval(&id, b.decision, &b.message, key)
            .await?,
    ))
}

async fn list_providers(State(svc): State<Service>) -> ApiResult<Json<ProviderList>> {
    Ok(Json(ProviderList {
        providers: svc.list_providers().await?,
    }))
}

async fn get_provider(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProviderInfo>> {
    Ok(Json(svc.get_provider(&id).await?))
}

async fn install_provider(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InstallProvider>,
) -> ApiResult<(StatusCode, Json<InstallJob>)> {
    let job = svc.install_provider(&id, &b.version).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn list_install_jobs(State(svc): State<Service>) -> ApiResult<Json<InstallJobList>> {
    Ok(Json(InstallJobList {
        jobs: svc.list_install_jobs()?,
    }))
}

async fn get_install_job(
    State(svc): State<Service>,
    Path(id): Path<String>,
) -> ApiResult<Json<InstallJob>> {
    Ok(Json(svc.get_install_job(&id)?))
}

async fn list_keys(State(svc): State<Service>) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList {
        keys: svc.list_keys()?,
    }))
}

async fn create_key(
    State(svc): State<Service>,
    ApiJson(b): ApiJson<KeyBody>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    Ok((StatusCode::CREATED, Json(svc.create_key(&b.name).await?)))
}

async fn revoke_key(State(svc): State<Service>, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(svc.revoke_key(&id).await?))
}
