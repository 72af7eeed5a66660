//! Claude Code as a provider, over its bidirectional stream-json protocol:
//! `claude -p --input-format stream-json --output-format stream-json --verbose
//! --permission-prompt-tool stdio --include-partial-messages`.
//!
//! One long-lived process per session (its own process group, cwd = the session's), reused across
//! turns and started again with `--resume=<session id>` when it is gone (daemon restart, a cancel
//! that had to kill it). Permission requests (`control_request` `can_use_tool`) become approval
//! requests; cancel (dropping the turn) sends the `interrupt` control request and escalates to
//! SIGINT → SIGTERM → SIGKILL on the process group when no `result` follows within 2 s.
//! Protocol facts: tests/fixtures/cli/README.md.

mod parser;
mod proc;
mod wire;

use super::cli::{self, Slots, TurnGuard};
use super::{BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::config::CliConfig;
use agentmux_shared::types::ProviderHealth;
use agentmux_shared::{Error, Result};
use proc::{Launch, Proc};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an interrupted turn may take to end with its `result`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
const INSTALL_HINT: &str = "install @anthropic-ai/claude-code or set [providers.claude] command";

pub struct Claude {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    model: String,
    idle: Duration,
    /// One process per session, behind a lock that a turn (or its cleanup after a cancel) holds.
    slots: Slots<Proc>,
}

impl Claude {
    pub fn new(c: &CliConfig) -> Claude {
        Claude {
            command: if c.command.trim().is_empty() {
                "claude".into()
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

    /// Starts `claude` for a session, resuming Claude's session `resume` when not empty.
    fn spawn(&self, req: &TurnRequest, resume: &str) -> Result<Proc> {
        Proc::spawn(&Launch {
            command: &self.command,
            args: &self.args,
            env: &self.env,
            cwd: &req.cwd,
            model: &req.model,
            resume,
            session_id: &req.session_id,
        })
    }

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let prompt = req.prompt()?;
        let slot = self.slots.get(&req.session_id);
        let mut guard = TurnGuard::lock(&slot).await;
        let result = async {
            let Some(g) = guard.slot.as_mut() else {
                return Err(Error::internal("claude slot vanished"));
            };
            let mut resume = req.provider_session_id.clone();
            loop {
                if let Some(p) = g.as_mut()
                    && p.exited()
                {
                    tracing::info!(session = %req.session_id, "claude process had exited; starting it again");
                    if let Some(old) = g.take() {
                        old.kill().await;
                    }
                }
                let fresh = g.is_none();
                if fresh {
                    **g = Some(self.spawn(&req, &resume)?);
                }
                let Some(proc) = g.as_mut() else {
                    return Err(Error::internal("claude process vanished"));
                };
                let result = match proc.start_turn(&prompt).await {
                    Ok(()) => proc.run(&out, self.idle).await,
                    Err(e) => Err(e),
                };
                // A resumed process that ended the turn without its `system/init` could not
                // load the conversation (e.g. its transcript is gone): say so and start a new
                // one rather than fail every turn from now on.
                if fresh && !resume.is_empty() && !proc.parser.saw_init && !is_ok(&result) {
                    let why = proc.died("claude could not resume").await;
                    if let Some(p) = g.take() {
                        p.kill().await;
                    }
                    let _ = out
                        .send(ProviderEvent::Warning(format!(
                            "cannot resume the Claude conversation {resume} ({}); starting a new one",
                            why.message
                        )))
                        .await;
                    resume.clear();
                    continue;
                }
                return match result {
                    Ok(r) => r,
                    Err(e) => {
                        // The process is broken (exited, hung, unwritable): stop it; the next
                        // turn resumes the conversation in a new one.
                        if let Some(p) = g.take() {
                            p.kill().await;
                        }
                        Err(e)
                    }
                };
            }
        }
        .await;
        guard.done = true;
        result
    }
}

impl Provider for Claude {
    fn id(&self) -> &str {
        "claude"
    }

    fn default_model(&self) -> String {
        self.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        cli::health("claude", &self.command, INSTALL_HINT)
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

fn is_ok(r: &Result<Result<TurnEnd>>) -> bool {
    matches!(r, Ok(Ok(_)))
}
