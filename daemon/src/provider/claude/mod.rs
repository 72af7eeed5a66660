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

use super::TurnEnd;
use super::cli::{CliAgent, CliProvider, CliSettings, Turn};
use super::{Provider, ProviderEvent, TurnRequest};
use agentmux_shared::Result;
use agentmux_shared::config::CliConfig;
use proc::{Launch, Proc};
use std::path::Path;
use std::time::Duration;

/// How long an interrupted turn may take to end with its `result`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
const INSTALL_HINT: &str = "install @anthropic-ai/claude-code or set [providers.claude] command";

/// Claude Code's part of the CLI skeleton.
struct Claude;

pub fn provider(c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    CliProvider::new(CliSettings::new("claude", "claude", c, managed_bin), Claude)
}

/// Starts `claude` for a session, resuming Claude's session `resume` when not empty.
fn spawn(s: &CliSettings, req: &TurnRequest, resume: &str) -> Result<Proc> {
    Proc::spawn(&Launch {
        command: &s.program(),
        args: &s.args,
        env: &s.env_for(req),
        cwd: &req.cwd,
        model: &req.model,
        resume,
        session_id: &req.session_id,
    })
}

impl CliAgent for Claude {
    type Proc = Proc;
    const INTERRUPT_GRACE: Duration = INTERRUPT_GRACE;

    fn install_hint(&self, _: &CliSettings) -> String {
        INSTALL_HINT.into()
    }

    async fn start(&self, s: &CliSettings, t: &Turn<'_>) -> Result<Proc> {
        spawn(s, t.req, &t.req.provider_session_id)
    }

    async fn run(&self, s: &CliSettings, p: &mut Proc, t: &Turn<'_>) -> Result<Result<TurnEnd>> {
        let result = p.turn(t.prompt, t.out, s.idle).await;
        let resume = &t.req.provider_session_id;
        if !t.fresh || resume.is_empty() || p.parser.saw_init || matches!(result, Ok(Ok(_))) {
            return result;
        }
        // A resumed process that ended the turn without its `system/init` could not load the
        // conversation (e.g. its transcript is gone): say so and start a new one rather than
        // fail every turn from now on.
        let why = p.died("claude could not resume").await;
        let old = std::mem::replace(p, spawn(s, t.req, "")?);
        old.kill().await;
        let _ = t
            .out
            .send(ProviderEvent::Warning(format!(
                "cannot resume the Claude conversation {resume} ({}); starting a new one",
                why.message
            )))
            .await;
        p.turn(t.prompt, t.out, s.idle).await
    }
}
