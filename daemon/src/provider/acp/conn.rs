//! One ACP agent process and its JSON-RPC connection (the `agent-client-protocol` crate, v1
//! client). We spawn the process ourselves (own process group, cwd, env) and hand the crate its
//! stdout lines and a stdin sink. The crate's handlers never wait: updates and permission
//! requests go to the turn through an unbounded inbox, `fs/*` requests run on their own tasks.

use super::fs;
use super::map::clip;
use agent_client_protocol::v1::{self, schema};
use agent_client_protocol::{Agent, Client, Lines, UntypedMessage};
use agentmux_shared::{Error, Result};
use serde_json::Value;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// Longest stdout line read as one.
const MAX_LINE: u64 = 32 * 1024 * 1024;
/// Lines of the agent's stderr kept for error messages.
const STDERR_TAIL: usize = 30;
/// Between SIGINT, SIGTERM and SIGKILL.
const SIGNAL_GRACE: Duration = Duration::from_millis(700);

/// What reaches the turn from the agent, in the order it was sent.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `session/update` params.
    Update(Value),
    /// `session/request_permission` params and where its answer goes.
    Permission(Value, v1::Responder<Value>),
    /// A stdout line that is not JSON.
    Warning(String),
    /// The `session/prompt` result (or its JSON-RPC error).
    PromptDone(std::result::Result<Value, agent_client_protocol::Error>),
    /// stdout closed: the agent is gone.
    Exited,
}

/// What a `spawn` needs.
pub(crate) struct SpawnParams<'a> {
    pub provider: &'a str,
    pub command: &'a str,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a str,
    pub session_id: &'a str,
    /// What to say when the executable is missing.
    pub install_hint: &'a str,
}

pub(crate) struct Conn {
    pub provider: String,
    child: Child,
    pub pgid: i32,
    stderr: Arc<std::sync::Mutex<VecDeque<String>>>,
    pub cx: v1::ConnectionTo<Agent>,
    pub inbox: mpsc::UnboundedReceiver<Incoming>,
    /// Feeds `inbox` (the prompt's result goes there, after the updates sent before it).
    pub inbox_tx: mpsc::UnboundedSender<Incoming>,
    /// Ends the connection's foreground (and so the crate's driver).
    stop: Option<oneshot::Sender<()>>,
    pub started: std::time::Instant,
}

impl Conn {
    pub async fn spawn(p: SpawnParams<'_>) -> Result<Conn> {
        let mut cmd = Command::new(p.command);
        cmd.args(&p.args);
        if !p.cwd.is_empty() {
            cmd.current_dir(p.cwd);
        }
        cmd.envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            Error::unavailable(format!(
                "cannot start {:?} for the {} provider: {e} ({})",
                p.command, p.provider, p.install_hint
            ))
        })?;
        let pid = child.id().unwrap_or(0) as i32;
        tracing::info!(pid, provider = p.provider, session = %p.session_id, args = ?p.args, "started acp agent");
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::internal("the agent's stdio is not piped"));
        };
        let (inbox_tx, inbox) = mpsc::unbounded_channel();

        // stdout: JSON lines go to the crate; anything else is a warning for the turn.
        let (line_tx, line_rx) = mpsc::channel::<std::io::Result<String>>(256);
        let tx = inbox_tx.clone();
        let provider = p.provider.to_string();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim().to_string();
                        if line.is_empty() {
                            continue;
                        }
                        if serde_json::from_str::<serde::de::IgnoredAny>(&line).is_err() {
                            tracing::warn!(pid, line = %clip(&line, 300), "{provider} printed a line that is not JSON");
                            let _ = tx.send(Incoming::Warning(format!(
                                "{provider} printed a line that is not JSON: {}",
                                clip(&line, 200)
                            )));
                            continue;
                        }
                        if line_tx.send(Ok(line)).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = tx.send(Incoming::Exited);
        });

        let tail = Arc::new(std::sync::Mutex::new(VecDeque::new()));
        let t = tail.clone();
        let provider = p.provider.to_string();
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = r.next_line().await {
                tracing::debug!(pid, "{provider} stderr: {line}");
                if let Ok(mut t) = t.lock() {
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });

        let sink = futures_util::sink::unfold(stdin, |mut stdin, line: String| async move {
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await?;
            Ok::<_, std::io::Error>(stdin)
        });
        let transport = Lines::new(
            Box::pin(sink),
            tokio_stream::wrappers::ReceiverStream::new(line_rx),
        );
        let (cx_tx, cx_rx) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let cwd: Arc<str> = Arc::from(p.cwd);
        let updates = inbox_tx.clone();
        let requests = inbox_tx.clone();
        let provider = p.provider.to_string();
        tokio::spawn(async move {
            let r = Client
                .v1()
                .name("agentmux")
                .on_receive_notification(
                    async move |n: UntypedMessage, _cx| {
                        if n.method() == "session/update" {
                            let _ = updates.send(Incoming::Update(n.params().clone()));
                        }
                        Ok(())
                    },
                    agent_client_protocol::on_receive_notification!(),
                )
                .on_receive_request(
                    async move |r: UntypedMessage, responder: v1::Responder<Value>, cx| {
                        serve(r, responder, cx, &cwd, &requests)
                    },
                    agent_client_protocol::on_receive_request!(),
                )
                .connect_with(transport, async move |cx: v1::ConnectionTo<Agent>| {
                    let _ = cx_tx.send(cx);
                    let _ = stop_rx.await;
                    Ok(())
                })
                .await;
            if let Err(e) = r {
                tracing::info!(pid, error = %e, "{provider} connection ended");
            }
        });
        let cx = cx_rx
            .await
            .map_err(|_| Error::internal("the ACP connection did not start"))?;
        Ok(Conn {
            provider: p.provider.to_string(),
            child,
            pgid: pid,
            stderr: tail,
            cx,
            inbox,
            inbox_tx,
            stop: Some(stop),
            started,
        })
    }

    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The process is gone or going: an error with its exit status and stderr tail.
    pub async fn died(&mut self, what: &str) -> Error {
        let status = tokio::time::timeout(Duration::from_secs(1), self.child.wait())
            .await
            .ok()
            .and_then(|r| r.ok());
        // Let the stderr reader catch up with the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail = match self.stderr.lock() {
            Ok(t) => t.iter().cloned().collect::<Vec<_>>().join("\n"),
            Err(_) => String::new(),
        };
        let status = status
            .map(|s| format!(" ({s})"))
            .unwrap_or_else(|| " (still running)".into());
        let mut msg = format!("{what}{status}");
        if !tail.trim().is_empty() {
            msg.push_str(": ");
            msg.push_str(tail.trim());
        }
        Error::unavailable(msg)
    }

    /// SIGINT, SIGTERM, then SIGKILL to the process group, each after a grace period.
    pub async fn kill(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if self.pgid > 0 {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                // SAFETY: kill(2) on the process group of a child we spawned and still own.
                unsafe {
                    libc::kill(-self.pgid, sig);
                }
                if tokio::time::timeout(SIGNAL_GRACE, self.child.wait())
                    .await
                    .is_ok()
                {
                    break;
                }
            }
            // Whatever else was left in the group.
            // SAFETY: as above; the group id is ours even after the leader exited.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(SIGNAL_GRACE, self.child.wait()).await;
        tracing::info!(pgid = self.pgid, provider = %self.provider, "stopped acp agent");
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Answers one agent → client request without blocking the dispatch loop.
fn serve(
    r: UntypedMessage,
    responder: v1::Responder<Value>,
    cx: v1::ConnectionTo<Agent>,
    cwd: &Arc<str>,
    inbox: &mpsc::UnboundedSender<Incoming>,
) -> std::result::Result<(), agent_client_protocol::Error> {
    let (method, params) = r.into_parts();
    match method.as_str() {
        "session/request_permission" => {
            // The turn answers it; if the turn is gone the responder drops (an error reply).
            if let Err(mpsc::error::SendError(Incoming::Permission(params, responder))) =
                inbox.send(Incoming::Permission(params, responder))
            {
                tracing::warn!(params = %clip(&params.to_string(), 200), "permission request with no turn");
                responder.respond(super::map::cancelled_outcome())?;
            }
            Ok(())
        }
        "fs/read_text_file" | "fs/write_text_file" => {
            let cwd = cwd.clone();
            cx.spawn(async move {
                let path = params["path"].as_str().unwrap_or_default();
                let result = if method == "fs/read_text_file" {
                    fs::read(
                        &cwd,
                        path,
                        params["line"].as_u64(),
                        params["limit"].as_u64(),
                    )
                    .await
                    .map(|content| serde_json::json!({ "content": content }))
                } else {
                    fs::write(&cwd, path, params["content"].as_str().unwrap_or_default())
                        .await
                        .map(|()| Value::Null)
                };
                match result {
                    Ok(v) => responder.respond(v),
                    Err(e) => {
                        tracing::warn!(method, path, error = %e, "refused an agent's file request");
                        let err = match e {
                            fs::FsError::Outside(_) => {
                                agent_client_protocol::Error::invalid_params()
                            }
                            fs::FsError::Io(_) => agent_client_protocol::Error::internal_error(),
                        };
                        responder.respond_with_error(
                            err.data(serde_json::json!({ "details": e.to_string() })),
                        )
                    }
                }
            })
        }
        other => {
            tracing::info!(
                method = other,
                "the agent asked for a method agentmux does not offer"
            );
            responder.respond_with_error(
                agent_client_protocol::Error::method_not_found()
                    .data(serde_json::json!({ "method": other })),
            )
        }
    }
}

/// The `initialize` request: files yes (inside the session directory), terminals no.
pub(crate) fn initialize_request() -> schema::InitializeRequest {
    schema::InitializeRequest::new(agent_client_protocol::schema::ProtocolVersion::V1)
        .client_capabilities(
            schema::ClientCapabilities::new()
                .fs(schema::FileSystemCapabilities::new()
                    .read_text_file(true)
                    .write_text_file(true))
                .terminal(false),
        )
        .client_info(schema::Implementation::new(
            "agentmux",
            env!("CARGO_PKG_VERSION"),
        ))
}

/// Sends a notification; an error means the connection is gone.
pub(crate) fn notify(cx: &v1::ConnectionTo<Agent>, n: UntypedMessage) -> Result<()> {
    cx.send_notification(n)
        .map_err(|e| Error::unavailable(format!("cannot reach the agent: {e}")))
}
