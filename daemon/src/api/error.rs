//! The one table from a domain error kind to a gRPC code, an HTTP status and the REST envelope.

use agentmux_shared::{Error, ErrorKind};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub fn grpc_code(kind: ErrorKind) -> tonic::Code {
    match kind {
        ErrorKind::NotFound => tonic::Code::NotFound,
        ErrorKind::InvalidArgument => tonic::Code::InvalidArgument,
        ErrorKind::AlreadyExists => tonic::Code::AlreadyExists,
        ErrorKind::FailedPrecondition => tonic::Code::FailedPrecondition,
        ErrorKind::PermissionDenied => tonic::Code::PermissionDenied,
        ErrorKind::Unauthenticated => tonic::Code::Unauthenticated,
        ErrorKind::ResourceExhausted => tonic::Code::ResourceExhausted,
        // gRPC's own convention for a message over the size limit.
        ErrorKind::PayloadTooLarge => tonic::Code::ResourceExhausted,
        ErrorKind::InsufficientStorage => tonic::Code::ResourceExhausted,
        ErrorKind::Unavailable => tonic::Code::Unavailable,
        ErrorKind::Internal => tonic::Code::Internal,
    }
}

pub fn http_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::FailedPrecondition => StatusCode::CONFLICT,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Internal details stay in the log; clients get a generic message.
pub(crate) fn public_message(e: &Error) -> String {
    if e.kind == ErrorKind::Internal {
        tracing::error!(error = %e.message, "internal error");
        "internal error: see the daemon log".into()
    } else {
        e.message.clone()
    }
}

pub fn to_status(e: Error) -> tonic::Status {
    tonic::Status::new(grpc_code(e.kind), public_message(&e))
}

/// A domain error as a REST response: `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": {"code": self.0.kind.code(), "message": public_message(&self.0)}
        });
        (http_status(self.0.kind), axum::Json(body)).into_response()
    }
}

/// The kind an HTTP error status stands for, for errors the framework answered itself.
fn kind_of(status: StatusCode) -> ErrorKind {
    match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorKind::PermissionDenied,
        StatusCode::CONFLICT => ErrorKind::FailedPrecondition,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::ResourceExhausted,
        StatusCode::INSUFFICIENT_STORAGE => ErrorKind::InsufficientStorage,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        s if s.is_server_error() => ErrorKind::Internal,
        _ => ErrorKind::InvalidArgument,
    }
}

/// Puts an error the framework answered itself (a query string that does not parse, a method
/// a route does not have, a missing upgrade) into the envelope, keeping its status.
pub async fn envelope(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase()
    } else {
        text
    };
    let kind = kind_of(status);
    let body = serde_json::json!({"error": {"code": kind.code(), "message": message}});
    let mut out = (status, axum::Json(body)).into_response();
    // Keep what the status needs, e.g. `Allow` on a 405.
    for (k, v) in parts.headers.iter() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_consistently() {
        for kind in ErrorKind::ALL {
            let status = to_status(Error::new(kind, "x"));
            assert_eq!(status.code(), grpc_code(kind), "{kind}");
            let http = http_status(kind);
            assert!(http.is_client_error() || http.is_server_error(), "{kind}");
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            let server_side = matches!(
                kind,
                ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::InsufficientStorage
            );
            assert_eq!(http.is_server_error(), server_side, "{kind}");
        }
    }

    #[test]
    fn internal_details_are_hidden() {
        let s = to_status(Error::internal("sled: disk exploded at /secret"));
        assert!(!s.message().contains("secret"));
    }
}
