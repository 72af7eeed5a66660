//! `TerminalService` calls: terminal CRUD and the bidirectional attach stream, turned into
//! client-side types so callers never see prost messages.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
pub use agentmux_shared::types::{AttachEvent, AttachInput, ScreenSnapshot, TerminalExit};
use agentmux_shared::types::{CreateTerminal, Terminal};
use agentmux_shared::{Error, Result};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

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
        self.tx.send(input.into()).is_ok()
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
            session: req.session,
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
                // An empty message is a newer daemon's kind this client does not know.
                Ok(resp) => AttachEvent::try_from(resp).ok().map(Ok),
                Err(status) => Some(Err(status_to_error(status))),
            })
        });
        Ok(Attachment {
            sender: AttachSender { tx },
            events: Box::pin(events),
        })
    }
}
