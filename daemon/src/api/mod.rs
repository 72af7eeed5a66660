//! Transports: gRPC and the REST gateway. Handlers only translate and call the service.

pub mod auth;
pub mod body;
pub mod conns;
pub mod error;
pub mod grpc;
mod grpc_files;
mod grpc_workflow;
mod grpc_workspace;
pub mod openapi;
pub mod rest;

use crate::service::Service;

/// Which listener a router serves: the Unix socket trusts its peer, TCP needs a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

/// gRPC and REST on one listener; gRPC requests are told apart by their content type, so an
/// unknown REST path still gets a JSON 404 and an unknown gRPC method `Unimplemented`.
pub async fn router(
    svc: Service,
    transport: Transport,
) -> Result<axum::Router, agentmux_shared::Error> {
    use tower::ServiceExt;
    let grpc = grpc::routes(svc.clone(), transport)
        .await?
        .layer(axum::middleware::map_response(grpc::undecodable_is_invalid));
    let rest = rest::router(svc.clone(), transport);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let target = if is_grpc(&req) {
            grpc.clone()
        } else {
            rest.clone()
        };
        async move { target.oneshot(req).await }
    });
    Ok(match transport {
        Transport::Unix => app,
        Transport::Tcp => auth::protect(app, svc),
    })
}

pub fn is_grpc<B>(req: &axum::http::Request<B>) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}
