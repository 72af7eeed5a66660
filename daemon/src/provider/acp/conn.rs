//! One ACP agent process and its JSON-RPC connection (the `agent-client-protocol` crate, v1
//! client). We spawn the process ourselves (own process group, cwd, env) and hand the crate its
//! stdout lines and a stdin sink. The crate's handlers never wait: updates and permission
//! requests go to the turn through an unbounded inbox, `fs/*` requests run on their own tasks.

use super::fs;
use super::map::clip;
use crate::provider::cli::process::CliProcess;
use agent_client_protocol::v1::{self, schema};
use agent_client_protocol::{Agent, Client, Lines, UntypedMessage};
use agentmux_shared::{Error, Result};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// What reaches the turn from the agent, in the order it was sent.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `session/update` params.
    Update(Value),
    /// `session/request_permission` params and where its answer goes.
    Permission(Value, v1::Responder<Value>),
    /// `fs/write_text_file` params of a write no granted permission covers: the turn asks.
    Write(Value, v1::Responder<Value>),
    /// A stdout line that is not JSON.
    Warning(String),
    /// The `session/prompt` result (or its JSON-RPC error).
    PromptDone(std::result::Result<Value, agent_client_protocol::Error>),
    /// stdout closed: the agent is gone.
    Exited,
}

/// Real paths the agent may write without asking again (this turn).
pub(crate) type Grants = Arc<std::sync::Mutex<std::collections::HashSet<std::path::PathBuf>>>;

/// Refuses an agent's request with a reason it can show.
pub(crate) fn refuse(
    responder: v1::Responder<Value>,
    err: agent_client_protocol::Error,
    why: &str,
) {
    let _ = responder.respond_with_error(err.data(serde_json::json!({ "details": why })));
}

/// Performs `fs/write_text_file` and answers it.
pub(crate) async fn write_file(cwd: &str, params: &Value, responder: v1::Responder<Value>) {
    let path = params["path"].as_str().unwrap_or_default();
    match fs::write(cwd, path, params["content"].as_str().unwrap_or_default()).await {
        Ok(()) => {
            let _ = responder.respond(Value::Null);
        }
        Err(e) => fs_refused("fs/write_text_file", path, e, responder),
    }
}

fn fs_refused(method: &str, path: &str, e: fs::FsError, responder: v1::Responder<Value>) {
    tracing::warn!(method, path, error = %e, "refused an agent's file request");
    let err = match e {
        fs::FsError::Outside(_) => agent_client_protocol::Error::invalid_params(),
        fs::FsError::Io(_) => agent_client_protocol::Error::internal_error(),
    };
    refuse(responder, err, &e.to_string());
}

/// What a `spawn` needs.
pub(crate) struct SpawnParams<'a> {
    pub provider: &'a str,
    pub command: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a str,
    pub session_id: &'a str,
    /// What to say when the executable is missing.
    pub install_hint: &'a str,
}

pub(crate) struct Conn {
    cli: CliProcess,
    pub pgid: i32,
    pub cx: v1::ConnectionTo<Agent>,
    pub inbox: mpsc::UnboundedReceiver<Incoming>,
    /// Feeds `inbox` (the prompt's result goes there, after the updates sent before it).
    pub inbox_tx: mpsc::UnboundedSender<Incoming>,
    /// Files the current turn's granted permissions cover.
    pub grants: Grants,
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
        cmd.envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let started = std::time::Instant::now();
        let (cli, stdin, mut stdout) = CliProcess::spawn(&mut cmd, p.provider, p.install_hint)?;
        let pid = cli.pgid;
        // Not the args: a configured agent may carry a key in them.
        tracing::info!(pid, provider = p.provider, session = %p.session_id, args = p.args.len(), "started acp agent");
        let (inbox_tx, inbox) = mpsc::unbounded_channel();

        // stdout: JSON lines go to the crate; anything else is a warning for the turn.
        let (line_tx, line_rx) = mpsc::channel::<std::io::Result<String>>(256);
        let tx = inbox_tx.clone();
        let provider = p.provider.to_string();
        tokio::spawn(async move {
            while let Some(line) = stdout.recv().await {
                let line = line.trim().to_string();
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
            let _ = tx.send(Incoming::Exited);
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
        let grants = Grants::default();
        let granted = grants.clone();
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
                        serve(r, responder, cx, &cwd, &requests, &granted)
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
            cli,
            pgid: pid,
            cx,
            inbox,
            inbox_tx,
            grants,
            stop: Some(stop),
            started,
        })
    }

    pub fn exited(&mut self) -> bool {
        self.cli.exited()
    }

    pub async fn died(&mut self, what: &str) -> Error {
        self.cli.died(what).await
    }

    pub async fn kill(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.cli.stop().await;
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
    grants: &Grants,
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
        "fs/read_text_file" => {
            let cwd = cwd.clone();
            cx.spawn(async move {
                let path = params["path"].as_str().unwrap_or_default();
                let read = fs::read(
                    &cwd,
                    path,
                    params["line"].as_u64(),
                    params["limit"].as_u64(),
                )
                .await;
                match read {
                    Ok(content) => responder.respond(serde_json::json!({ "content": content })),
                    Err(e) => {
                        fs_refused(&method, path, e, responder);
                        Ok(())
                    }
                }
            })
        }
        "fs/write_text_file" => {
            // A write goes ahead only when a permission granted this turn names the file;
            // any other write is asked for like a tool call (the policy may allow it at once).
            let path = params["path"].as_str().unwrap_or_default();
            let covered = fs::confine(cwd, path)
                .ok()
                .is_some_and(|p| grants.lock().is_ok_and(|g| g.contains(&p)));
            if covered {
                let cwd = cwd.clone();
                return cx.spawn(async move {
                    write_file(&cwd, &params, responder).await;
                    Ok(())
                });
            }
            if let Err(mpsc::error::SendError(Incoming::Write(_, responder))) =
                inbox.send(Incoming::Write(params, responder))
            {
                refuse(
                    responder,
                    agent_client_protocol::Error::invalid_request(),
                    "no turn is running",
                );
            }
            Ok(())
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
