//! Providers produce a turn's answer. Each streams `ProviderEvent`s into a channel; the session
//! runner turns them into durable events. A provider never touches the store.

pub mod acp;
pub mod claude;
pub mod cli;
pub mod codex;
pub mod diff;

use crate::model::openai;
use agentmux_shared::config::Config;
use agentmux_shared::types::{Decision, PlanEntry, ProviderHealth, Role, ToolCall, Usage};
use agentmux_shared::{Error, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Default)]
pub struct TurnRequest {
    pub model: String,
    pub history: Vec<ChatMessage>,
    /// The agentmux session: providers that keep a process per session key it by this.
    pub session_id: String,
    pub cwd: String,
    /// The creating client's environment (PATH, LANG…), under the provider's own `env`.
    pub env: std::collections::BTreeMap<String, String>,
    /// The provider's own session id from an earlier turn (resume after a restart).
    pub provider_session_id: String,
}

impl TurnRequest {
    /// This turn's input: the last user message. CLI providers keep the conversation
    /// themselves and send only this.
    pub fn prompt(&self) -> Result<String> {
        self.history
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .ok_or_else(|| Error::invalid("the turn has no user message"))
    }
}

/// A person's (or the policy's) answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalAnswer {
    pub decision: Decision,
    /// For a denial: what the agent is told.
    pub message: String,
}

/// A provider asks before it runs a tool. Dropping `respond` unanswered means "deny".
#[derive(Debug)]
pub struct ApprovalRequest {
    /// The tool call this is about (empty when the agent does not say): a tool call that ends
    /// without one was allowed by the agent itself, and is put on record as such.
    pub tool_call_id: String,
    pub tool: String,
    pub input_json: String,
    pub summary: String,
    pub diff: String,
    /// The tool only edits files (what the `auto-edit` policy allows without asking).
    pub edit: bool,
    pub options: Vec<String>,
    pub respond: oneshot::Sender<ApprovalAnswer>,
}

#[derive(Debug)]
pub enum ProviderEvent {
    Text(String),
    Reasoning(String),
    /// Something odd the user should see that did not end the turn.
    Warning(String),
    ApprovalRequest(ApprovalRequest),
    ToolCall(ToolCall),
    FileChanged {
        path: String,
        diff: String,
    },
    /// The agent's whole current plan.
    Plan(Vec<PlanEntry>),
    /// The provider's own session id, as soon as it is known.
    SessionId(String),
}

/// How a turn ended when the provider finished it itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnEnd {
    pub model: String,
    pub stop_reason: String,
    pub usage: Usage,
    /// US dollars, when the provider reports it.
    pub cost_usd: f64,
}

pub trait Provider: Send + Sync {
    fn id(&self) -> &str;
    fn default_model(&self) -> String;
    fn health(&self) -> ProviderHealth;
    /// Runs one turn. Dropping the future aborts it (that is how cancel works).
    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>>;
    /// The session is gone: stop whatever is kept for it.
    fn forget_session<'a>(&'a self, _session_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// The daemon stops: stop every process.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[derive(Clone)]
pub struct Providers {
    map: BTreeMap<String, Arc<dyn Provider>>,
}

impl Providers {
    /// The configured providers; CLIs are looked for in `managed_bin` (`<data dir>/clis/bin`)
    /// after a configured path and before `PATH`.
    pub fn from_config(config: &Config, managed_bin: &Path) -> Result<Providers> {
        let mut map: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        let env = openai::EnvDefaults::from_env();
        map.insert(
            "openai".into(),
            Arc::new(openai::OpenAi::new(
                "openai",
                &config.providers.openai,
                &env,
            )?),
        );
        for (id, c) in &config.providers.compat {
            // Compat endpoints name their own base URL; the OpenAI env vars are not theirs.
            let p = openai::OpenAi::new(id, c, &openai::EnvDefaults::default())?;
            map.insert(id.clone(), Arc::new(p));
        }
        let p = &config.providers;
        let bin = managed_bin;
        map.insert("claude".into(), Arc::new(claude::provider(&p.claude, bin)));
        map.insert("codex".into(), Arc::new(codex::provider(&p.codex, bin)));
        map.insert("gemini".into(), Arc::new(acp::gemini(&p.gemini, bin)));
        map.insert("qwen".into(), Arc::new(acp::qwen(&p.qwen, bin)));
        map.insert("opencode".into(), Arc::new(acp::opencode(&p.opencode, bin)));
        for (name, c) in &p.acp {
            if map.contains_key(name) {
                tracing::warn!(
                    name,
                    "[providers.acp.{name}] names a built-in provider; ignored"
                );
                continue;
            }
            map.insert(name.clone(), Arc::new(acp::custom(name, c, bin)));
        }
        Ok(Providers { map })
    }

    /// A registry of these providers (a reload's mix of kept and new ones; tests' own).
    pub fn with(providers: Vec<Arc<dyn Provider>>) -> Providers {
        Providers {
            map: providers
                .into_iter()
                .map(|p| (p.id().to_string(), p))
                .collect(),
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Result<Arc<dyn Provider>> {
        self.map.get(id).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.map.keys().map(String::as_str).collect();
            Error::invalid(format!(
                "unknown provider {id:?} (known: {})",
                known.join(", ")
            ))
        })
    }

    pub fn health(&self) -> Vec<ProviderHealth> {
        self.map.values().map(|p| p.health()).collect()
    }

    pub async fn forget_session(&self, provider: &str, session_id: &str) {
        if let Some(p) = self.map.get(provider) {
            p.forget_session(session_id).await;
        }
    }

    pub async fn shutdown(&self) {
        for p in self.map.values() {
            p.shutdown().await;
        }
    }
}
