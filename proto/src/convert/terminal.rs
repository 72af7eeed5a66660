//! Terminals and the attach protocol.

use crate::v1 as pb;
use agentmux_shared::error::{Error, Result};
use agentmux_shared::types::*;

impl From<Terminal> for pb::Terminal {
    fn from(t: Terminal) -> Self {
        pb::Terminal {
            id: t.id,
            name: t.name,
            command: t.command,
            args: t.args,
            env: t.env.into_iter().collect(),
            cwd: t.cwd,
            rows: t.rows,
            cols: t.cols,
            status: match t.status {
                TerminalStatus::Running => pb::TerminalStatus::Running,
                TerminalStatus::Exited => pb::TerminalStatus::Exited,
            } as i32,
            exit_code: t.exit_code,
            exit_signal: t.exit_signal,
            pid: t.pid,
            clients: t.clients,
            preset: t.preset,
            provider_session_id: t.provider_session_id,
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            exited_at_ms: t.exited_at_ms,
            exit_reason: t.exit_reason,
        }
    }
}

impl From<pb::Terminal> for Terminal {
    fn from(t: pb::Terminal) -> Self {
        Terminal {
            id: t.id,
            name: t.name,
            command: t.command,
            args: t.args,
            env: t.env.into_iter().collect(),
            cwd: t.cwd,
            rows: t.rows,
            cols: t.cols,
            status: match pb::TerminalStatus::try_from(t.status) {
                Ok(pb::TerminalStatus::Exited) => TerminalStatus::Exited,
                Ok(pb::TerminalStatus::Running | pb::TerminalStatus::Unspecified) | Err(_) => {
                    TerminalStatus::Running
                }
            },
            exit_code: t.exit_code,
            exit_signal: t.exit_signal,
            pid: t.pid,
            clients: t.clients,
            preset: t.preset,
            provider_session_id: t.provider_session_id,
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            exited_at_ms: t.exited_at_ms,
            exit_reason: t.exit_reason,
        }
    }
}

impl From<pb::CreateTerminalRequest> for CreateTerminal {
    fn from(r: pb::CreateTerminalRequest) -> Self {
        CreateTerminal {
            name: r.name,
            command: r.command,
            args: r.args,
            env: r.env.into_iter().collect(),
            cwd: r.cwd,
            rows: r.rows,
            cols: r.cols,
            preset: r.preset,
            session: r.session,
        }
    }
}

/// A dimension from the wire: at least 1, at most what a terminal can have.
fn dim(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX).max(1)
}

impl From<ScreenSnapshot> for pb::ScreenSnapshot {
    fn from(s: ScreenSnapshot) -> Self {
        pb::ScreenSnapshot {
            rows: u32::from(s.rows),
            cols: u32::from(s.cols),
            screen: s.screen,
            scrollback: s.scrollback,
            terminal: s.terminal.map(Into::into),
        }
    }
}

impl From<pb::ScreenSnapshot> for ScreenSnapshot {
    fn from(s: pb::ScreenSnapshot) -> Self {
        ScreenSnapshot {
            rows: dim(s.rows),
            cols: dim(s.cols),
            screen: s.screen,
            scrollback: s.scrollback,
            terminal: s.terminal.map(Into::into),
        }
    }
}

impl From<TerminalExit> for pb::TerminalExit {
    fn from(e: TerminalExit) -> Self {
        pb::TerminalExit {
            exit_code: e.code,
            exit_signal: e.signal,
            exit_reason: e.reason,
        }
    }
}

impl From<pb::TerminalExit> for TerminalExit {
    fn from(e: pb::TerminalExit) -> Self {
        TerminalExit {
            code: e.exit_code,
            signal: e.exit_signal,
            reason: e.exit_reason,
        }
    }
}

impl From<AttachEvent> for pb::AttachResponse {
    fn from(e: AttachEvent) -> Self {
        use pb::attach_response::Msg;
        let msg = match e {
            AttachEvent::Snapshot(s) => Msg::Snapshot((*s).into()),
            AttachEvent::Output(b) => Msg::Output(b.to_vec()),
            AttachEvent::Exited(x) => Msg::Exited(x.into()),
        };
        pb::AttachResponse { msg: Some(msg) }
    }
}

impl TryFrom<pb::AttachResponse> for AttachEvent {
    type Error = Error;

    /// An empty message is a newer daemon's kind this build does not know.
    fn try_from(r: pb::AttachResponse) -> Result<Self> {
        use pb::attach_response::Msg;
        Ok(
            match r
                .msg
                .ok_or_else(|| Error::invalid("attach message of an unknown kind"))?
            {
                Msg::Snapshot(s) => AttachEvent::Snapshot(Box::new(s.into())),
                Msg::Output(b) => AttachEvent::Output(b.into()),
                Msg::Exited(x) => AttachEvent::Exited(x.into()),
            },
        )
    }
}

impl From<AttachInput> for pb::AttachRequest {
    fn from(i: AttachInput) -> Self {
        use pb::attach_request::Msg;
        let msg = match i {
            AttachInput::Input(b) => Msg::Input(b.to_vec()),
            AttachInput::Resize { rows, cols } => Msg::Resize(pb::TerminalSize {
                rows: u32::from(rows),
                cols: u32::from(cols),
            }),
            AttachInput::Detach => Msg::Detach(pb::Detach {}),
        };
        pb::AttachRequest { msg: Some(msg) }
    }
}

impl TryFrom<pb::AttachRequest> for AttachInput {
    type Error = Error;

    /// The start message is not input: it comes once, first, and is read on its own.
    fn try_from(r: pb::AttachRequest) -> Result<Self> {
        use pb::attach_request::Msg;
        match r.msg {
            Some(Msg::Input(b)) => Ok(AttachInput::Input(b.into())),
            // Not clamped: a bad size is the terminal's to refuse.
            Some(Msg::Resize(s)) => Ok(AttachInput::Resize {
                rows: u16::try_from(s.rows).unwrap_or(u16::MAX),
                cols: u16::try_from(s.cols).unwrap_or(u16::MAX),
            }),
            Some(Msg::Detach(_)) => Ok(AttachInput::Detach),
            Some(Msg::Start(_)) => Err(Error::invalid("attach start sent twice")),
            None => Err(Error::invalid("attach message of an unknown kind")),
        }
    }
}
