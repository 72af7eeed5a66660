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

use super::TurnEnd;
use super::cli::{CliAgent, CliProc, CliProvider, CliSettings, Turn};
use super::{Provider, TurnRequest};
use agent_client_protocol::is_incoming_transport_closed;
use agentmux_shared::config::CliConfig;
use agentmux_shared::{Error, Result};
use conn::{Conn, SpawnParams};
use map::Mapper;
use std::path::Path;
use std::time::Duration;
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

/// An ACP agent's part of the CLI skeleton: which agent it is.
struct Acp(Flavor);

pub fn gemini(c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    provider("gemini", Flavor::Gemini, c, managed_bin)
}

pub fn qwen(c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    provider("qwen", Flavor::Qwen, c, managed_bin)
}

pub fn opencode(c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    provider("opencode", Flavor::OpenCode, c, managed_bin)
}

/// A `[providers.acp.NAME]` agent: its command and args, nothing added.
pub fn custom(name: &str, c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    provider(name, Flavor::Custom, c, managed_bin)
}

fn provider(id: &str, flavor: Flavor, c: &CliConfig, managed_bin: &Path) -> impl Provider + use<> {
    CliProvider::new(settings(id, flavor, c, managed_bin), Acp(flavor))
}

fn settings(id: &str, flavor: Flavor, c: &CliConfig, managed_bin: &Path) -> CliSettings {
    CliSettings::new(id, flavor.default_command(), c, managed_bin)
}

/// Start-up and session set-up may take longer than a quiet spell in a turn (OpenCode needs
/// 3–13 s on a loaded box), but not forever.
fn setup_deadline(s: &CliSettings) -> Duration {
    s.idle.max(SETUP_MIN)
}

fn model_for(s: &CliSettings, req: &TurnRequest) -> String {
    if req.model.is_empty() {
        s.model.clone()
    } else {
        req.model.clone()
    }
}

impl CliAgent for Acp {
    type Proc = Proc;
    const INTERRUPT_GRACE: Duration = CANCEL_GRACE;

    fn install_hint(&self, s: &CliSettings) -> String {
        self.0.install_hint(&s.id)
    }

    /// Starts the agent for a session and initializes the connection.
    async fn start(&self, s: &CliSettings, t: &Turn<'_>) -> Result<Proc> {
        let req = t.req;
        if s.command.is_empty() {
            return Err(Error::unavailable(format!(
                "the {} provider has no command ({})",
                s.id,
                self.0.install_hint(&s.id)
            )));
        }
        let mut args = s.args.clone();
        args.extend(self.0.protocol_args(&model_for(s, req)));
        let mut env: Vec<(String, String)> = self
            .0
            .quiet_env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(s.env_for(req));
        let mut conn = Conn::spawn(SpawnParams {
            provider: &s.id,
            command: &s.program(),
            args,
            env,
            cwd: &req.cwd,
            session_id: &req.session_id,
            install_hint: &self.0.install_hint(&s.id),
        })
        .await?;
        let init = conn
            .cx
            .send_request(conn::initialize_request())
            .block_task();
        let init = match tokio::time::timeout(setup_deadline(s), init).await {
            Err(_) => {
                let e = conn
                    .died(&format!(
                        "{} did not answer initialize within {} s",
                        s.id,
                        setup_deadline(s).as_secs()
                    ))
                    .await;
                conn.kill().await;
                return Err(e);
            }
            Ok(Err(e)) => {
                let e = if is_incoming_transport_closed(&e) {
                    conn.died(&format!("{} exited during start-up", s.id)).await
                } else {
                    Error::unavailable(format!("{} refused initialize: {e}", s.id))
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
            .unwrap_or_else(|| s.id.clone());
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

    async fn run(&self, s: &CliSettings, p: &mut Proc, t: &Turn<'_>) -> Result<Result<TurnEnd>> {
        let ctx = TurnCtx {
            id: &s.id,
            idle: s.idle,
            setup: setup_deadline(s),
            model: model_for(s, t.req),
            out: t.out,
        };
        let text = p.open_session(&ctx, t.req, t.prompt).await?;
        p.prompt(&ctx, &text).await
    }
}

impl CliProc for Proc {
    fn can_serve(&mut self, _req: &TurnRequest) -> bool {
        !self.conn.exited()
    }

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
        let bin = Path::new("/nonexistent");
        assert_eq!(
            settings("opencode", Flavor::OpenCode, &c, bin).command,
            "opencode"
        );
        assert_eq!(settings("goose", Flavor::Custom, &c, bin).command, "");
        let h = custom("goose", &c, bin).health();
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
