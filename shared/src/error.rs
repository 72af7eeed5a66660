//! The one domain error type; transports map its closed `ErrorKind` to their own codes.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    InvalidArgument,
    AlreadyExists,
    FailedPrecondition,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    PayloadTooLarge,
    /// The data dir's disk is full: nothing new can be recorded until space is freed.
    InsufficientStorage,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::NotFound,
        ErrorKind::InvalidArgument,
        ErrorKind::AlreadyExists,
        ErrorKind::FailedPrecondition,
        ErrorKind::PermissionDenied,
        ErrorKind::Unauthenticated,
        ErrorKind::ResourceExhausted,
        ErrorKind::PayloadTooLarge,
        ErrorKind::InsufficientStorage,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// Stable string code used in the REST envelope and CLI output.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::ResourceExhausted => "resource_exhausted",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::InsufficientStorage => "insufficient_storage",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} {id:?} not found"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::FailedPrecondition, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }
    /// The data dir's disk is full; `what` failed because of it.
    pub fn disk_full(what: &str) -> Self {
        Error::new(
            ErrorKind::InsufficientStorage,
            format!("{what}: no space left on the data dir's disk; free some and retry"),
        )
    }
}
