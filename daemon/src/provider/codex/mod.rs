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

use super::cli::{self, Slots, TurnGuard};
use super::{BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::config::CliConfig;
use agentmux_shared::types::ProviderHealth;
use agentmux_shared::{Error, Result};
use proc::{Launch, Proc};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an interrupted turn may take to end with its `turn/completed`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// The most asking policy: the session's own policy is applied by the runner to each request.
const APPROVAL_POLICY: &str = "untrusted";
const SANDBOX: &str = "workspace-write";

pub struct Codex {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    model: String,
    idle: Duration,
    /// One process per session, behind a lock that a turn (or its cleanup after a cancel) holds.
    slots: Slots<Proc>,
}

impl Codex {
    pub fn new(c: &CliConfig) -> Codex {
        Codex {
            command: if c.command.trim().is_empty() {
                "codex".into()
            } else {
                c.command.trim().to_string()
            },
            args: c.args.clone(),
            env: c.env.clone(),
            model: c.model.clone(),
            idle: Duration::from_secs(c.idle_timeout_secs.max(1)),
            slots: Slots::default(),
        }
    }

    /// Starts `codex app-server` for a session and opens its thread (resumed when the session
    /// has one).
    async fn open(&self, req: &TurnRequest, out: &mpsc::Sender<ProviderEvent>) -> Result<Proc> {
        let mut p = Proc::spawn(&Launch {
            command: &self.command,
            args: &self.args,
            env: &self.env,
            cwd: &req.cwd,
            session_id: &req.session_id,
        })?;
        match self.handshake(&mut p, req, out).await {
            Ok(()) => Ok(p),
            Err(e) => {
                p.kill().await;
                Err(e)
            }
        }
    }

    async fn handshake(
        &self,
        p: &mut Proc,
        req: &TurnRequest,
        out: &mpsc::Sender<ProviderEvent>,
    ) -> Result<()> {
        let client = json!({"clientInfo": {"name": "agentmux", "title": "agentmux",
                                           "version": env!("CARGO_PKG_VERSION")}});
        if let Err(e) = p.call("initialize", client, out, self.idle).await? {
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
            match p.call("thread/resume", rp, out, self.idle).await? {
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
            match p.call("thread/start", params, out, self.idle).await? {
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

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let prompt = req.prompt()?;
        let slot = self.slots.get(&req.session_id);
        let mut guard = TurnGuard::lock(&slot).await;
        let result = async {
            let Some(g) = guard.slot.as_mut() else {
                return Err(Error::internal("codex slot vanished"));
            };
            // A process that exited, or one on another thread than the session's (it was
            // reset or forked), is replaced.
            let stale = match g.as_mut() {
                Some(p) => {
                    p.exited()
                        || (!req.provider_session_id.is_empty()
                            && p.parser.thread_id != req.provider_session_id)
                }
                None => false,
            };
            if stale && let Some(old) = g.take() {
                tracing::info!(session = %req.session_id, "replacing the codex process");
                old.kill().await;
            }
            if g.is_none() {
                **g = Some(self.open(&req, &out).await?);
            }
            let Some(p) = g.as_mut() else {
                return Err(Error::internal("codex process vanished"));
            };
            let result = match p.start_turn(&prompt, &out, self.idle).await {
                Ok(Ok(())) => p.run(&out, self.idle).await,
                Ok(Err(e)) => Ok(Err(Error::unavailable(format!(
                    "codex refused the turn: {e}"
                )))),
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => r,
                Err(e) => {
                    // The process is broken (exited, hung, unwritable): stop it; the next turn
                    // resumes the thread in a new one.
                    if let Some(p) = g.take() {
                        p.kill().await;
                    }
                    Err(e)
                }
            }
        }
        .await;
        guard.done = true;
        result
    }
}

impl Provider for Codex {
    fn id(&self) -> &str {
        "codex"
    }

    fn default_model(&self) -> String {
        self.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        cli::health("codex", &self.command, proc::INSTALL_HINT)
    }

    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>> {
        Box::pin(self.turn(req, out))
    }

    fn forget_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, ()> {
        self.slots.forget(session_id);
        Box::pin(async {})
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.slots.stop_all(INTERRUPT_GRACE))
    }
}
