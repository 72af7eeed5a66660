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
        ErrorKind::PayloadTooLarge => tonic::Code::OutOfRange,
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
            let server_side = matches!(kind, ErrorKind::Internal | ErrorKind::Unavailable);
            assert_eq!(http.is_server_error(), server_side, "{kind}");
        }
    }

    #[test]
    fn internal_details_are_hidden() {
        let s = to_status(Error::internal("sled: disk exploded at /secret"));
        assert!(!s.message().contains("secret"));
    }
}
