//! ACP (Agent Client Protocol) agents as providers: Gemini CLI (`gemini --acp`), Qwen Code
//! (`qwen --acp`), OpenCode (`opencode acp`) and any `[providers.acp.NAME]` command.
//!
//! One agent process per agentmux session (its own process group, cwd = the session's), reused
//! across turns. A turn makes sure the process has the session's ACP session (`session/new`,
//! or `session/load` of the stored id when the process is new; when loading fails, a new
//! session whose first prompt carries the transcript), then sends `session/prompt` and maps the
//! `session/update`s until its result. Permission requests become approvals answered by option
//! kind; cancel (dropping the turn) sends `session/cancel` and escalates to SIGINT → SIGTERM →
//! SIGKILL on the process group when the prompt does not end in time.
//! Protocol facts: tests/fixtures/cli/README.md.

mod conn;
mod fs;
mod map;
mod turn;

use super::cli::{self, CliProc, Slots, TurnGuard};
use super::{BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest};
use agent_client_protocol::is_incoming_transport_closed;
use agentmux_shared::config::CliConfig;
use agentmux_shared::types::ProviderHealth;
use agentmux_shared::{Error, Result};
use conn::{Conn, SpawnParams};
use map::Mapper;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use turn::{Proc, TurnCtx};

/// The least time start-up and each session set-up request get.
const SETUP_MIN: Duration = Duration::from_secs(60);
/// How long shutdown waits for a turn to let go of its process.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// The agents agentmux knows how to start; `Custom` is a configured command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Gemini,
    Qwen,
    OpenCode,
    Custom,
}

impl Flavor {
    fn default_command(self) -> &'static str {
        match self {
            Flavor::Gemini => "gemini",
            Flavor::Qwen => "qwen",
            Flavor::OpenCode => "opencode",
            Flavor::Custom => "",
        }
    }

    fn install_hint(self, id: &str) -> String {
        match self {
            Flavor::Gemini => "install @google/gemini-cli or set [providers.gemini] command".into(),
            Flavor::Qwen => "install @qwen-code/qwen-code or set [providers.qwen] command".into(),
            Flavor::OpenCode => "install opencode-ai or set [providers.opencode] command".into(),
            Flavor::Custom => format!("set [providers.acp.{id}] command"),
        }
    }

    /// The protocol flags (after the configured args) for a model (may be empty).
    fn protocol_args(self, model: &str) -> Vec<String> {
        let mut a: Vec<String> = match self {
            Flavor::Gemini => vec!["--acp".into()],
            Flavor::Qwen => vec!["--acp".into(), "--auth-type".into(), "openai".into()],
            Flavor::OpenCode => vec!["acp".into()],
            Flavor::Custom => Vec::new(),
        };
        // OpenCode takes its model from its config; a configured agent from its args.
        if matches!(self, Flavor::Gemini | Flavor::Qwen) && !model.is_empty() {
            a.push("-m".into());
            a.push(model.into());
        }
        a
    }

    /// Quiet defaults; the provider's `env` may override them.
    fn quiet_env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Flavor::OpenCode => &[("OPENCODE_DISABLE_AUTOUPDATE", "1")],
            _ => &[],
        }
    }
}

pub struct Acp {
    id: String,
    flavor: Flavor,
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    model: String,
    idle: Duration,
    /// One process per session, behind a lock that a turn (or its cleanup after a cancel) holds.
    slots: Slots<Proc>,
}

impl Acp {
    pub fn gemini(c: &CliConfig) -> Acp {
        Acp::new("gemini", Flavor::Gemini, c)
    }

    pub fn qwen(c: &CliConfig) -> Acp {
        Acp::new("qwen", Flavor::Qwen, c)
    }

    pub fn opencode(c: &CliConfig) -> Acp {
        Acp::new("opencode", Flavor::OpenCode, c)
    }

    /// A `[providers.acp.NAME]` agent: its command and args, nothing added.
    pub fn custom(name: &str, c: &CliConfig) -> Acp {
        Acp::new(name, Flavor::Custom, c)
    }

    fn new(id: &str, flavor: Flavor, c: &CliConfig) -> Acp {
        let command = c.command.trim();
        Acp {
            id: id.to_string(),
            flavor,
            command: if command.is_empty() {
                flavor.default_command().to_string()
            } else {
                command.to_string()
            },
            args: c.args.clone(),
            env: c.env.clone(),
            model: c.model.clone(),
            idle: Duration::from_secs(c.idle_timeout_secs.max(1)),
            slots: Slots::default(),
        }
    }

    /// Start-up and session set-up may take longer than a quiet spell in a turn (OpenCode
    /// needs 3–13 s on a loaded box), but not forever.
    fn setup_deadline(&self) -> Duration {
        self.idle.max(SETUP_MIN)
    }

    fn model_for(&self, req: &TurnRequest) -> String {
        if req.model.is_empty() {
            self.model.clone()
        } else {
            req.model.clone()
        }
    }

    /// Starts the agent for a session and initializes the connection.
    async fn start(&self, req: &TurnRequest) -> Result<Proc> {
        if self.command.is_empty() {
            return Err(Error::unavailable(format!(
                "the {} provider has no command ({})",
                self.id,
                self.flavor.install_hint(&self.id)
            )));
        }
        let mut args = self.args.clone();
        args.extend(self.flavor.protocol_args(&self.model_for(req)));
        let mut env: Vec<(String, String)> = self
            .flavor
            .quiet_env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut conn = Conn::spawn(SpawnParams {
            provider: &self.id,
            command: &self.command,
            args,
            env,
            cwd: &req.cwd,
            session_id: &req.session_id,
            install_hint: &self.flavor.install_hint(&self.id),
        })
        .await?;
        let init = conn
            .cx
            .send_request(conn::initialize_request())
            .block_task();
        let init = match tokio::time::timeout(self.setup_deadline(), init).await {
            Err(_) => {
                let e = conn
                    .died(&format!(
                        "{} did not answer initialize within {} s",
                        self.id,
                        self.setup_deadline().as_secs()
                    ))
                    .await;
                conn.kill().await;
                return Err(e);
            }
            Ok(Err(e)) => {
                let e = if is_incoming_transport_closed(&e) {
                    conn.died(&format!("{} exited during start-up", self.id))
                        .await
                } else {
                    Error::unavailable(format!("{} refused initialize: {e}", self.id))
                };
                conn.kill().await;
                return Err(e);
            }
            Ok(Ok(r)) => r,
        };
        let agent = init
            .agent_info
            .as_ref()
            .map(|i| format!("{} {}", i.name, i.version))
            .unwrap_or_else(|| self.id.clone());
        tracing::info!(
            pgid = conn.pgid,
            agent,
            load_session = init.agent_capabilities.load_session,
            ms = conn.started.elapsed().as_millis() as u64,
            "acp agent initialized"
        );
        Ok(Proc {
            mapper: Mapper::new(&req.cwd),
            load_session: init.agent_capabilities.load_session,
            conn,
            session: String::new(),
            pending: None,
            prompting: false,
        })
    }

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let prompt = req.prompt()?;
        let slot = self.slots.get(&req.session_id);
        let mut guard = TurnGuard::lock(&slot).await;
        let result = async {
            let Some(g) = guard.slot.as_mut() else {
                return Err(Error::internal("acp slot vanished"));
            };
            if let Some(p) = g.as_mut()
                && p.conn.exited()
            {
                tracing::info!(session = %req.session_id, provider = %self.id, "agent process had exited; starting it again");
                if let Some(old) = g.take() {
                    old.conn.kill().await;
                }
            }
            if g.is_none() {
                **g = Some(self.start(&req).await?);
            }
            let Some(proc) = g.as_mut() else {
                return Err(Error::internal("acp process vanished"));
            };
            let ctx = TurnCtx {
                id: &self.id,
                idle: self.idle,
                setup: self.setup_deadline(),
                model: self.model_for(&req),
                out: &out,
            };
            let result = match proc.open_session(&ctx, &req, &prompt).await {
                Ok(text) => proc.prompt(&ctx, &text).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => r,
                Err(e) => {
                    // The process is broken (exited, hung, unreachable): stop it; the next turn
                    // starts a new one and loads the conversation again.
                    if let Some(p) = g.take() {
                        p.conn.kill().await;
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

impl Provider for Acp {
    fn id(&self) -> &str {
        &self.id
    }

    fn default_model(&self) -> String {
        self.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        cli::health(&self.id, &self.command, &self.flavor.install_hint(&self.id))
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
        Box::pin(self.slots.stop_all(CANCEL_GRACE))
    }
}

impl CliProc for Proc {
    async fn interrupt(&mut self) -> bool {
        self.cancel().await
    }

    async fn stop(self) {
        self.conn.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ChatMessage;
    use agentmux_shared::types::Role;
    use turn::replay_prompt;

    #[test]
    fn commands_per_flavor() {
        assert_eq!(
            Flavor::Gemini.protocol_args("gemini-2.5-flash"),
            vec!["--acp", "-m", "gemini-2.5-flash"]
        );
        assert_eq!(Flavor::Gemini.protocol_args(""), vec!["--acp"]);
        assert_eq!(
            Flavor::Qwen.protocol_args("m"),
            vec!["--acp", "--auth-type", "openai", "-m", "m"]
        );
        assert_eq!(Flavor::OpenCode.protocol_args("x"), vec!["acp"]);
        assert!(Flavor::Custom.protocol_args("x").is_empty());
        let c = CliConfig::default();
        assert_eq!(Acp::opencode(&c).command, "opencode");
        assert_eq!(Acp::custom("goose", &c).command, "");
        let h = Acp::custom("goose", &c).health();
        assert!(
            !h.available && h.detail.contains("[providers.acp.goose]"),
            "{h:?}"
        );
    }

    #[test]
    fn replay_puts_the_transcript_before_the_prompt() {
        let m = |role, c: &str| ChatMessage {
            role,
            content: c.into(),
        };
        let h = vec![
            m(Role::User, "Remember apple."),
            m(Role::Assistant, "OK."),
            m(Role::User, "Which word?"),
        ];
        let p = replay_prompt(&h, "Which word?");
        assert!(p.contains("User: Remember apple.\nAssistant: OK.\n"), "{p}");
        assert!(p.ends_with("\n\nWhich word?"), "{p}");
        assert_eq!(replay_prompt(&h[2..], "Which word?"), "Which word?");
    }
}
