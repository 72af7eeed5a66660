//! Codex as a provider, over `codex app-server` (JSON lines, JSON-RPC without the `jsonrpc`
//! field; v2 methods).
//!
//! One long-lived process per session (its own process group, cwd = the session's), reused across
//! turns: `initialize` + `initialized`, then `thread/start` (approval policy `untrusted`, sandbox
//! `workspace-write`: every edit and most commands reach us as approval requests) or, in a new
//! process for a conversation that already has a thread (daemon restart, a CLI that died),
//! `thread/resume`. Each turn is a `turn/start`; `turn/completed` ends it. Server requests
//! `item/fileChange/requestApproval` and `item/commandExecution/requestApproval` become approval
//! requests. Cancel (dropping the turn) sends `turn/interrupt` and escalates to SIGINT → SIGTERM →
//! SIGKILL on the process group when the turn does not end within 2 s.
//! Protocol facts: tests/fixtures/cli/README.md.

mod parser;
mod proc;

use super::cli::{CliAgent, CliProvider, CliSettings, Turn};
use super::{Provider, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::config::CliConfig;
use agentmux_shared::{Error, Result};
use proc::{Launch, Proc};
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an interrupted turn may take to end with its `turn/completed`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// The most asking policy: the session's own policy is applied by the runner to each request.
const APPROVAL_POLICY: &str = "untrusted";
const SANDBOX: &str = "workspace-write";

/// Codex's part of the CLI skeleton.
struct Codex;

pub fn provider(c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    CliProvider::new(CliSettings::new("codex", "codex", c, managed_bin), Codex)
}

impl CliAgent for Codex {
    type Proc = Proc;
    const INTERRUPT_GRACE: Duration = INTERRUPT_GRACE;

    fn install_hint(&self, _: &CliSettings) -> String {
        proc::INSTALL_HINT.into()
    }

    /// Starts `codex app-server` for a session and opens its thread (resumed when the session
    /// has one).
    async fn start(&self, s: &CliSettings, t: &Turn<'_>) -> Result<Proc> {
        let mut p = Proc::spawn(&Launch {
            command: &s.program(),
            args: &s.args,
            env: &s.env_for(t.req),
            cwd: &t.req.cwd,
            session_id: &t.req.session_id,
        })?;
        match handshake(&mut p, t.req, t.out, s.idle).await {
            Ok(()) => Ok(p),
            Err(e) => {
                p.kill().await;
                Err(e)
            }
        }
    }

    async fn run(&self, s: &CliSettings, p: &mut Proc, t: &Turn<'_>) -> Result<Result<TurnEnd>> {
        match p.start_turn(t.prompt, t.out, s.idle).await? {
            Ok(()) => p.run(t.out, s.idle).await,
            Err(e) => Ok(Err(Error::unavailable(format!(
                "codex refused the turn: {e}"
            )))),
        }
    }
}

/// `initialize`, then the session's thread: resumed when it has one, else a new one.
async fn handshake(
    p: &mut Proc,
    req: &TurnRequest,
    out: &mpsc::Sender<ProviderEvent>,
    idle: Duration,
) -> Result<()> {
    let client = json!({"clientInfo": {"name": "agentmux", "title": "agentmux",
                                       "version": env!("CARGO_PKG_VERSION")}});
    if let Err(e) = p.call("initialize", client, out, idle).await? {
        return Err(Error::unavailable(format!("codex refused initialize: {e}")));
    }
    p.notify("initialized").await?;
    let mut params = json!({"approvalPolicy": APPROVAL_POLICY, "sandbox": SANDBOX});
    if !req.cwd.is_empty() {
        params["cwd"] = json!(req.cwd);
    }
    if !req.model.is_empty() {
        params["model"] = json!(req.model);
    }
    let resume = &req.provider_session_id;
    if !resume.is_empty() {
        let mut rp = params.clone();
        rp["threadId"] = json!(resume);
        // The history is not needed: Codex keeps it and sends it to the model itself.
        rp["excludeTurns"] = json!(true);
        match p.call("thread/resume", rp, out, idle).await? {
            Ok(r) => p.parser.thread_opened(&r),
            Err(e) => {
                tracing::warn!(thread = %resume, error = %e, "cannot resume the codex thread");
                let _ = out
                    .send(ProviderEvent::Warning(format!(
                        "cannot resume the Codex thread {resume} ({e}); starting a new one"
                    )))
                    .await;
            }
        }
    }
    if p.parser.thread_id.is_empty() {
        match p.call("thread/start", params, out, idle).await? {
            Ok(r) => p.parser.thread_opened(&r),
            Err(e) => {
                return Err(Error::unavailable(format!(
                    "codex could not start a thread: {e}"
                )));
            }
        }
    }
    if p.parser.thread_id.is_empty() {
        return Err(Error::unavailable("codex opened a thread without an id"));
    }
    tracing::info!(session = %req.session_id, thread = %p.parser.thread_id, resumed = !resume.is_empty(), "codex thread open");
    let _ = out
        .send(ProviderEvent::SessionId(p.parser.thread_id.clone()))
        .await;
    Ok(())
}
