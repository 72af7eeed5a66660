//! gRPC client for agentmuxd over its Unix socket, with tmux-style auto-start of the daemon.

mod approvals;
mod files;
mod providers;
mod terminals;
mod workflows;
mod workspace;

pub use terminals::{
    AttachEvent, AttachInput, AttachStart, Attachment, ScreenSnapshot, TerminalExit,
};

use agentmux_proto::v1 as pb;
use agentmux_shared::config::{LockRecord, Paths};
use agentmux_shared::types::{
    ApiKey, CancelResult, CreateSession, CreatedKey, Event, Info, MessagePage, Page, SendResult,
    Session, StreamItem,
};
use agentmux_shared::{Error, ErrorKind, Result};
use futures_util::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

/// How long an auto-started daemon gets to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `daemon stop` waits for the socket to go quiet.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Where to find the daemon, as the user asked for it. Flags are kept as given (not resolved)
/// so an auto-started daemon resolves the same defaults itself.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
}

impl Target {
    /// The paths by the README's rule, except that without `--socket` a daemon already
    /// running for the data dir is found where its lock file says it listens (one started
    /// with another `--socket`, or by an older version).
    pub fn paths(&self) -> Result<Paths> {
        let mut paths = Paths::resolve(self.data_dir.clone(), self.socket.clone(), None)?;
        if self.socket.is_none()
            && let Some(r) = LockRecord::read_live(&paths)
            && !r.socket.as_os_str().is_empty()
        {
            paths.socket = r.socket;
        }
        Ok(paths)
    }
}

/// Maps a gRPC status back to the domain error the daemon started from.
pub fn status_to_error(status: tonic::Status) -> Error {
    use tonic::Code;
    let kind = match status.code() {
        Code::NotFound => ErrorKind::NotFound,
        Code::InvalidArgument => ErrorKind::InvalidArgument,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        Code::PermissionDenied => ErrorKind::PermissionDenied,
        Code::Unauthenticated => ErrorKind::Unauthenticated,
        Code::ResourceExhausted => ErrorKind::ResourceExhausted,
        Code::OutOfRange => ErrorKind::PayloadTooLarge,
        // The daemon never sends these itself: they mean the connection broke (hyper/h2
        // errors surface as Unknown or Cancelled), which callers treat like an absent daemon.
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
            ErrorKind::Unavailable
        }
        Code::Ok | Code::Aborted | Code::Unimplemented | Code::Internal | Code::DataLoss => {
            ErrorKind::Internal
        }
    };
    Error::new(kind, status.message().to_string())
}

/// A connected client. Cheap to clone: tonic channels multiplex over one connection.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    socket: PathBuf,
}

impl Client {
    /// Connects once, without starting anything.
    pub async fn connect(socket: &Path) -> Result<Client> {
        let path = socket.to_path_buf();
        // The URI is a placeholder: the connector ignores it and dials the socket.
        let endpoint = Endpoint::try_from("http://[::]:50051")
            .map_err(|e| Error::internal(e.to_string()))?
            .connect_timeout(Duration::from_secs(2));
        let channel = endpoint
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                        UnixStream::connect(path).await?,
                    ))
                }
            }))
            .await
            .map_err(|e| connect_error(socket, &e))?;
        Ok(Client {
            channel,
            socket: socket.to_path_buf(),
        })
    }

    /// Connects, starting the daemon in the background first when nobody answers, unless
    /// the socket was named (`--socket`, `AGENTMUX_SOCKET`): a mistyped path must not grow a
    /// second daemon.
    pub async fn connect_or_start(target: &Target) -> Result<Client> {
        let paths = target.paths()?;
        match Client::connect(&paths.socket).await {
            Ok(c) => Ok(c),
            Err(e) if e.kind == ErrorKind::Unavailable && target.socket.is_some() => {
                Err(Error::unavailable(format!(
                    "{}; a daemon is started by itself only at the default socket: start \
                     one here with `agentmux --socket {} daemon start`",
                    e.message,
                    paths.socket.display()
                )))
            }
            Err(e) if e.kind == ErrorKind::Unavailable => {
                start_daemon(target, &paths).await?;
                Client::connect(&paths.socket).await
            }
            Err(e) => Err(e),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn system(&self) -> pb::system_service_client::SystemServiceClient<Channel> {
        pb::system_service_client::SystemServiceClient::new(self.channel.clone())
    }
    fn sessions(&self) -> pb::session_service_client::SessionServiceClient<Channel> {
        pb::session_service_client::SessionServiceClient::new(self.channel.clone())
    }
    fn messages(&self) -> pb::message_service_client::MessageServiceClient<Channel> {
        pb::message_service_client::MessageServiceClient::new(self.channel.clone())
    }
    fn keys(&self) -> pb::key_service_client::KeyServiceClient<Channel> {
        pb::key_service_client::KeyServiceClient::new(self.channel.clone())
    }

    /// The providers sessions can use, with whether each is ready.
    pub async fn provider_health(&self) -> Result<Vec<agentmux_shared::types::ProviderHealth>> {
        let r = self.system().health(pb::HealthRequest {}).await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .providers
            .into_iter()
            .map(|p| agentmux_shared::types::ProviderHealth {
                id: p.id,
                available: p.available,
                detail: p.detail,
            })
            .collect())
    }

    pub async fn info(&self) -> Result<Info> {
        let r = self.system().info(pb::InfoRequest {}).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn create_session(&self, req: CreateSession) -> Result<Session> {
        let req = pb::CreateSessionRequest {
            title: req.title,
            name: req.name,
            env: req.env.into_iter().collect(),
            workspace: Some(pb::WorkspaceRequest {
                mode: req.workspace.mode,
                base: req.workspace.base,
                branch: req.workspace.branch,
            }),
            provider: req.provider,
            model: req.model,
            cwd: req.cwd,
            approval_policy: req.approval_policy,
            approval_timeout_secs: req.approval_timeout_secs,
        };
        let r = self.sessions().create_session(req).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn list_sessions_page(&self, page_token: String) -> Result<Page<Session>> {
        let req = pb::ListSessionsRequest {
            page_size: 1000,
            page_token,
        };
        let r = self.sessions().list_sessions(req).await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(Page {
            items: r.sessions.into_iter().map(Session::from).collect(),
            next_page_token: r.next_page_token,
            last_seq: r.last_seq,
        })
    }

    /// Every session, following pages.
    pub async fn list_sessions(&self) -> Result<Vec<Session>> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self.list_sessions_page(token).await?;
            all.extend(page.items);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    pub async fn get_session(&self, id: &str) -> Result<Session> {
        let r = self
            .sessions()
            .get_session(pb::GetSessionRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn rename_session(&self, id: &str, title: &str) -> Result<Session> {
        let req = pb::RenameSessionRequest {
            id: id.into(),
            title: title.into(),
        };
        let r = self.sessions().rename_session(req).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    /// Returns the full id of the deleted session. `force`: even when its worktree holds work
    /// found nowhere else; `delete_branch`: its branch too.
    pub async fn delete_session(
        &self,
        id: &str,
        force: bool,
        delete_branch: bool,
    ) -> Result<String> {
        let r = self
            .sessions()
            .delete_session(pb::DeleteSessionRequest {
                id: id.into(),
                force,
                delete_branch,
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().id)
    }

    pub async fn fork_session(&self, id: &str, at_index: u64, title: &str) -> Result<Session> {
        let req = pb::ForkSessionRequest {
            id: id.into(),
            at_index,
            title: title.into(),
        };
        let r = self.sessions().fork_session(req).await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn reset_session(&self, id: &str) -> Result<Session> {
        let r = self
            .sessions()
            .reset_session(pb::ResetSessionRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn resume_session(&self, id: &str) -> Result<Session> {
        let r = self
            .sessions()
            .resume_session(pb::ResumeSessionRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn cancel_session(&self, id: &str, clear_queue: bool) -> Result<CancelResult> {
        let req = pb::CancelSessionRequest {
            id: id.into(),
            clear_queue,
        };
        let r = self.sessions().cancel_session(req).await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(CancelResult {
            id: r.id,
            cancelled_turn: r.cancelled_turn,
            dropped_queued: r.dropped_queued,
        })
    }

    pub async fn send_message(
        &self,
        session_id: &str,
        content: &str,
        wait: bool,
    ) -> Result<SendResult> {
        let req = pb::SendMessageRequest {
            session_id: session_id.into(),
            content: content.into(),
            wait,
        };
        let r = self.messages().send_message(req).await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(SendResult {
            message: r
                .message
                .map(TryInto::try_into)
                .transpose()?
                .unwrap_or_default(),
            queued: r.queued,
            reply: r.reply.map(TryInto::try_into).transpose()?,
        })
    }

    pub async fn list_messages(
        &self,
        session_id: &str,
        after_index: u64,
        page_size: u32,
    ) -> Result<MessagePage> {
        let req = pb::ListMessagesRequest {
            session_id: session_id.into(),
            page_size,
            after_index,
        };
        let r = self.messages().list_messages(req).await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(MessagePage {
            messages: r
                .messages
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
            next_index: r.next_index,
            more: r.more,
            last_seq: r.last_seq,
        })
    }

    /// Replay after `after_seq`, then live. The stream ends after a `Lagged` item or when the
    /// connection breaks (an `Err` item).
    pub async fn subscribe(
        &self,
        after_seq: u64,
        session_id: &str,
    ) -> Result<impl Stream<Item = Result<StreamItem>> + Send + Unpin + 'static> {
        let req = pb::SubscribeRequest {
            after_seq,
            session_id: session_id.into(),
        };
        let mut client = pb::event_service_client::EventServiceClient::new(self.channel.clone());
        let stream = client
            .subscribe(req)
            .await
            .map_err(status_to_error)?
            .into_inner();
        // `ready` keeps the stream Unpin, so callers can `.next()` it without pinning.
        Ok(stream.filter_map(|item| {
            futures_util::future::ready(match item {
                Ok(resp) => stream_item(resp).transpose(),
                Err(status) => Some(Err(status_to_error(status))),
            })
        }))
    }

    pub async fn create_key(&self, name: &str) -> Result<CreatedKey> {
        let r = self
            .keys()
            .create_key(pb::CreateKeyRequest { name: name.into() })
            .await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(CreatedKey {
            key: r.key.map(Into::into).unwrap_or_default(),
            secret: r.secret,
        })
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKey>> {
        let r = self.keys().list_keys(pb::ListKeysRequest {}).await;
        let r = r.map_err(status_to_error)?.into_inner();
        Ok(r.keys.into_iter().map(Into::into).collect())
    }

    pub async fn revoke_key(&self, id: &str) -> Result<ApiKey> {
        let r = self
            .keys()
            .revoke_key(pb::RevokeKeyRequest { id: id.into() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }
}

/// `Ok(None)` for an empty oneof, which a newer daemon may send for an item kind we do not know.
fn stream_item(resp: pb::SubscribeResponse) -> Result<Option<StreamItem>> {
    use pb::subscribe_response::Item;
    Ok(match resp.item {
        Some(Item::Event(e)) => Some(StreamItem::Event(Arc::new(Event::try_from(e)?))),
        Some(Item::Heartbeat(h)) => Some(StreamItem::Heartbeat {
            last_seq: h.last_seq,
        }),
        Some(Item::Lagged(l)) => Some(StreamItem::Lagged {
            resume_after_seq: l.resume_after_seq,
        }),
        None => None,
    })
}

/// Says what a failed connect means: no socket file, nobody listening, or not ours.
fn connect_error(socket: &Path, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut io = None;
    while let Some(err) = cur {
        if let Some(x) = err.downcast_ref::<std::io::Error>() {
            io = Some(x.kind());
            break;
        }
        cur = err.source();
    }
    let s = socket.display();
    let why = match io {
        Some(std::io::ErrorKind::NotFound) => format!("no agentmuxd socket at {s}"),
        Some(std::io::ErrorKind::ConnectionRefused) => {
            format!("nothing listens on {s} (a daemon that stopped or died)")
        }
        Some(std::io::ErrorKind::PermissionDenied) => {
            let kind = ErrorKind::PermissionDenied;
            return Error::new(
                kind,
                format!("permission denied on {s}: it belongs to another user's daemon"),
            );
        }
        _ => format!("cannot connect to agentmuxd at {s}: {}", source_chain(e)),
    };
    Error::unavailable(why)
}

/// hyper's errors hide the useful part (ECONNREFUSED, ENOENT) in their sources.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// The daemon binary: next to this executable when installed together, else from PATH.
fn daemon_binary() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let candidate = dir.join("agentmuxd");
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("agentmuxd")
}

/// Spawns agentmuxd detached (own session, no terminal) and waits until its socket answers.
pub async fn start_daemon(target: &Target, paths: &Paths) -> Result<()> {
    let bin = daemon_binary();
    let mut cmd = Command::new(&bin);
    if let Some(d) = &target.data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    if let Some(s) = &target.socket {
        cmd.arg("--socket").arg(s);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent. A new
        // session detaches the daemon from our terminal so closing it (SIGHUP) or Ctrl-C in
        // the shell's process group does not reach the daemon, as with tmux's server.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::unavailable(format!("cannot start {}: {e}", bin.display())))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if Client::connect(&paths.socket).await.is_ok() {
            // Reap it whenever it exits, so a daemon that dies while we run (crash, kill -9)
            // leaves no zombie behind; the thread is parked in wait() otherwise.
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        // A daemon that exits early (lock held, bad config) will never answer: say why now.
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::unavailable(
                match refusal(&paths.log_file(), child.id()) {
                    Some(why) => format!("agentmuxd could not start: {why}"),
                    None => format!(
                        "agentmuxd exited during start-up ({status}); see {}",
                        paths.log_file().display()
                    ),
                },
            ));
        }
        if Instant::now() >= deadline {
            return Err(Error::unavailable(format!(
                "agentmuxd did not open {} within {}s; see {}",
                paths.socket.display(),
                START_TIMEOUT.as_secs(),
                paths.log_file().display()
            )));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Why the daemon `pid` refused to start, from the last lines of its log.
fn refusal(log: &Path, pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let marker = format!("(pid {pid}) cannot run: ");
    let line = text.lines().rev().take(200).find(|l| l.contains(&marker))?;
    let why = line.split_once(&marker)?.1.trim().to_string();
    Some(match LockHolder::parse(&why) {
        Some(h) => format!(
            "{why}; use it with `--socket {}`, or stop it with `kill {}`",
            h.socket, h.pid
        ),
        None => why,
    })
}

/// The holder named in the daemon's "another agentmuxd (pid N, listening on S)" refusal.
struct LockHolder {
    pid: String,
    socket: String,
}

impl LockHolder {
    fn parse(why: &str) -> Option<LockHolder> {
        let rest = why.strip_prefix("another agentmuxd (pid ")?;
        let (pid, rest) = rest.split_once(", listening on ")?;
        let (socket, _) = rest.split_once(')')?;
        Some(LockHolder {
            pid: pid.to_string(),
            socket: socket.to_string(),
        })
    }
}

/// Sends `sig` to the daemon's pid.
pub fn signal_daemon(pid: u32, sig: libc::c_int) -> Result<()> {
    // 0 (or one out of range) would signal our own process group, not the daemon.
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::internal(format!("daemon reported pid {pid}")))?;
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == -1 {
        let e = std::io::Error::last_os_error();
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("cannot signal agentmuxd (pid {pid}): {e}"),
        ));
    }
    Ok(())
}

/// SIGTERM to the daemon's pid, then wait until the socket stops answering.
pub async fn stop_daemon(client: &Client, pid: u32) -> Result<()> {
    signal_daemon(pid, libc::SIGTERM)?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        if Client::connect(client.socket()).await.is_err() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::unavailable(format!(
                "agentmuxd (pid {pid}) still answers after {}s",
                STOP_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(POLL_EVERY * 2).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_back_to_kinds() {
        use tonic::Code;
        let cases = [
            (Code::NotFound, ErrorKind::NotFound),
            (Code::InvalidArgument, ErrorKind::InvalidArgument),
            (Code::AlreadyExists, ErrorKind::AlreadyExists),
            (Code::FailedPrecondition, ErrorKind::FailedPrecondition),
            (Code::PermissionDenied, ErrorKind::PermissionDenied),
            (Code::Unauthenticated, ErrorKind::Unauthenticated),
            (Code::ResourceExhausted, ErrorKind::ResourceExhausted),
            (Code::OutOfRange, ErrorKind::PayloadTooLarge),
            (Code::Unavailable, ErrorKind::Unavailable),
            (Code::Internal, ErrorKind::Internal),
        ];
        for (code, kind) in cases {
            let e = status_to_error(tonic::Status::new(code, "m"));
            assert_eq!((e.kind, e.message.as_str()), (kind, "m"), "{code:?}");
        }
    }

    #[tokio::test]
    async fn connect_to_missing_socket_is_unavailable() {
        let err = Client::connect(Path::new("/nonexistent/agentmux.sock"))
            .await
            .err()
            .map(|e| e.kind);
        assert_eq!(err, Some(ErrorKind::Unavailable));
    }
}
