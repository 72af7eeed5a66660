//! `TerminalService` calls: terminal CRUD and the bidirectional attach stream, turned into
//! client-side types so callers never see prost messages.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_shared::types::{CreateTerminal, Terminal};
use agentmux_shared::{Error, Result};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

/// What an attached client receives, in order: a snapshot first, then output; a fresh
/// snapshot whenever this client fell behind; `Exited` last if the program ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    Snapshot(Box<Snapshot>),
    Output(Vec<u8>),
    Exited(Exit),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub rows: u16,
    pub cols: u16,
    /// Escape sequences that redraw the whole screen on a clear terminal.
    pub screen: Vec<u8>,
    pub scrollback: Vec<String>,
    pub terminal: Option<Terminal>,
}

/// How a terminal's program ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exit {
    pub code: i32,
    pub signal: String,
    /// Set when the program did not end on its own terms, e.g. "daemon stopped".
    pub reason: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.reason.is_empty() {
            return f.write_str(&self.reason);
        }
        match self.signal.as_str() {
            "" => write!(f, "exited with code {}", self.code),
            s if s.starts_with("SIG") => write!(f, "killed by {s}"),
            other => write!(f, "killed by {other}"),
        }
    }
}

/// What an attached client sends after the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachInput {
    Input(Vec<u8>),
    Resize { rows: u16, cols: u16 },
    Detach,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachStart {
    /// Id, unique prefix or name.
    pub terminal: String,
    /// The client's size; 0 leaves the terminal's size alone.
    pub rows: u16,
    pub cols: u16,
    pub read_only: bool,
}

/// Sends `AttachInput` on an open attachment. Dropping it (or `Detach`) ends the attachment.
#[derive(Debug, Clone)]
pub struct AttachSender {
    tx: mpsc::UnboundedSender<pb::AttachRequest>,
}

impl AttachSender {
    /// `false` when the attachment is gone. Never waits: input is typed at human speed and
    /// the gRPC stream applies its own flow control.
    pub fn send(&self, input: AttachInput) -> bool {
        use pb::attach_request::Msg;
        let msg = match input {
            AttachInput::Input(b) => Msg::Input(b),
            AttachInput::Resize { rows, cols } => Msg::Resize(pb::TerminalSize {
                rows: u32::from(rows),
                cols: u32::from(cols),
            }),
            AttachInput::Detach => Msg::Detach(pb::Detach {}),
        };
        self.tx.send(pb::AttachRequest { msg: Some(msg) }).is_ok()
    }
}

/// An open attachment: the sender half and the stream of what the daemon sends.
pub struct Attachment {
    pub sender: AttachSender,
    pub events: std::pin::Pin<Box<dyn Stream<Item = Result<AttachEvent>> + Send>>,
}

impl Client {
    fn terminals(&self) -> pb::terminal_service_client::TerminalServiceClient<Channel> {
        pb::terminal_service_client::TerminalServiceClient::new(self.channel.clone())
    }

    pub async fn create_terminal(&self, req: CreateTerminal) -> Result<Terminal> {
        let req = pb::CreateTerminalRequest {
            name: req.name,
            command: req.command,
            args: req.args,
            env: req.env.into_iter().collect(),
            cwd: req.cwd,
            rows: req.rows,
            cols: req.cols,
            preset: req.preset,
        };
        let r = self.terminals().create_terminal(req).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn list_terminals(&self) -> Result<Vec<Terminal>> {
        let r = self
            .terminals()
            .list_terminals(pb::ListTerminalsRequest {})
            .await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(r.terminals.into_iter().map(Into::into).collect())
    }

    pub async fn get_terminal(&self, id: &str) -> Result<Terminal> {
        let r = self
            .terminals()
            .get_terminal(pb::GetTerminalRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn resize_terminal(&self, id: &str, rows: u16, cols: u16) -> Result<Terminal> {
        let req = pb::ResizeTerminalRequest {
            id: id.into(),
            rows: u32::from(rows),
            cols: u32::from(cols),
        };
        let r = self.terminals().resize_terminal(req).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn kill_terminal(&self, id: &str) -> Result<Terminal> {
        let r = self
            .terminals()
            .kill_terminal(pb::KillTerminalRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    /// Returns the full id of the removed terminal.
    pub async fn remove_terminal(&self, id: &str) -> Result<String> {
        let r = self
            .terminals()
            .remove_terminal(pb::RemoveTerminalRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().id)
    }

    pub async fn restart_terminal(&self, id: &str) -> Result<Terminal> {
        let r = self
            .terminals()
            .restart_terminal(pb::RestartTerminalRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    /// Opens an attachment. Errors that the daemon reports for the start (unknown terminal,
    /// bad size) come back here rather than on the stream.
    pub async fn attach(&self, start: AttachStart) -> Result<Attachment> {
        let (tx, rx) = mpsc::unbounded_channel();
        let first = pb::AttachRequest {
            msg: Some(pb::attach_request::Msg::Start(pb::AttachStart {
                terminal_id: start.terminal,
                rows: u32::from(start.rows),
                cols: u32::from(start.cols),
                scrollback_lines: 0,
                read_only: start.read_only,
            })),
        };
        // Queued before the call: the daemon reads the start before it answers.
        tx.send(first)
            .map_err(|_| Error::internal("attach request queue closed"))?;
        let stream = self
            .terminals()
            .attach(UnboundedReceiverStream::new(rx))
            .await
            .map_err(status_to_error)?
            .into_inner();
        let events = stream.filter_map(|item| {
            futures_util::future::ready(match item {
                Ok(resp) => attach_event(resp).map(Ok),
                Err(status) => Some(Err(status_to_error(status))),
            })
        });
        Ok(Attachment {
            sender: AttachSender { tx },
            events: Box::pin(events),
        })
    }
}

/// `None` for an empty oneof (a newer daemon's message kind we do not know).
fn attach_event(resp: pb::AttachResponse) -> Option<AttachEvent> {
    use pb::attach_response::Msg;
    Some(match resp.msg? {
        Msg::Snapshot(s) => AttachEvent::Snapshot(Box::new(Snapshot {
            rows: clamp_dim(s.rows),
            cols: clamp_dim(s.cols),
            screen: s.screen,
            scrollback: s.scrollback,
            terminal: s.terminal.map(Into::into),
        })),
        Msg::Output(b) => AttachEvent::Output(b),
        Msg::Exited(e) => AttachEvent::Exited(Exit {
            code: e.exit_code,
            signal: e.exit_signal,
            reason: e.exit_reason,
        }),
    })
}

fn clamp_dim(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reads_like_tmux() {
        let code = Exit {
            code: 3,
            signal: String::new(),
            reason: String::new(),
        };
        assert_eq!(code.to_string(), "exited with code 3");
        let sig = Exit {
            code: 1,
            signal: "SIGKILL".into(),
            reason: String::new(),
        };
        assert_eq!(sig.to_string(), "killed by SIGKILL");
        let reason = Exit {
            code: -1,
            signal: String::new(),
            reason: "daemon stopped".into(),
        };
        assert_eq!(reason.to_string(), "daemon stopped");
    }
}
