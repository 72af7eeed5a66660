//! The CLI's exit codes: one per kind of failure a script may want to tell apart. The README
//! lists them; `Failure` carries one out of a command.

use agentmux_shared::{Error, ErrorKind};

/// Exit codes, stable across releases (clap itself exits 2 on bad usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The operation ran and failed (an install), or something unexpected (a bug).
    Failed = 1,
    /// Bad usage or a value the daemon refused as invalid.
    Usage = 2,
    /// No such session, terminal, approval or key.
    NotFound = 3,
    /// The thing exists already, or is in a state that forbids this (busy, already decided).
    Conflict = 4,
    /// Not allowed: no or a revoked key, a directory outside the allowed roots.
    Denied = 5,
    /// No daemon could be reached or started.
    Unavailable = 6,
    /// A limit was hit: rate, size, streams, a full disk.
    Exhausted = 7,
    /// `send --wait`: the turn failed (the model or the agent CLI reported an error).
    TurnFailed = 8,
    /// `send --wait`: the turn was cancelled or interrupted before it finished.
    TurnStopped = 9,
    /// `send --wait`: the turn finished, but a tool call in it was denied.
    ApprovalDenied = 10,
}

impl Exit {
    pub fn of(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::InvalidArgument | ErrorKind::PayloadTooLarge => Exit::Usage,
            ErrorKind::AlreadyExists | ErrorKind::FailedPrecondition => Exit::Conflict,
            ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => Exit::Denied,
            ErrorKind::ResourceExhausted | ErrorKind::InsufficientStorage => Exit::Exhausted,
            ErrorKind::Unavailable => Exit::Unavailable,
            ErrorKind::Internal => Exit::Failed,
        }
    }

    /// The word scripts see in `--json` errors beside the number.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::NotFound => "not_found",
            Exit::Conflict => "conflict",
            Exit::Denied => "denied",
            Exit::Unavailable => "daemon_unavailable",
            Exit::Exhausted => "exhausted",
            Exit::TurnFailed => "turn_failed",
            Exit::TurnStopped => "turn_stopped",
            Exit::ApprovalDenied => "approval_denied",
        }
    }
}

/// A command's failure: what went wrong and how the process exits.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: Error,
}

impl Failure {
    pub fn new(exit: Exit, error: Error) -> Failure {
        Failure { exit, error }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            exit: Exit::of(error.kind),
            error,
        }
    }
}

/// Prints the failure on stderr (a JSON object under `--json`) and returns its exit code.
/// A turn's own failure is named as such (`turn_failed: upstream …`), not by an error kind
/// the daemon never answered with.
pub fn report(f: &Failure, json: bool) -> u8 {
    let code = f.exit as u8;
    let name = match f.exit {
        Exit::TurnFailed | Exit::TurnStopped | Exit::ApprovalDenied => f.exit.name(),
        _ => f.error.kind.code(),
    };
    if json {
        let v = serde_json::json!({"error": {
            "code": name,
            "message": f.error.message,
            "exit": code,
            "exit_name": f.exit.name(),
        }});
        eprintln!("{v}");
    } else {
        eprintln!("error: {name}: {}", f.error.message);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_a_distinct_meaning() {
        for kind in ErrorKind::ALL {
            let exit = Exit::of(kind);
            assert_ne!(exit as u8, 0, "{kind:?}");
        }
        assert_eq!(Exit::of(ErrorKind::NotFound) as u8, 3);
        assert_eq!(Exit::of(ErrorKind::Unavailable) as u8, 6);
        assert_eq!(Exit::of(ErrorKind::FailedPrecondition) as u8, 4);
    }
}
