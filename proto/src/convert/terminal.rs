//! Terminals.

use crate::v1 as pb;
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
        }
    }
}
