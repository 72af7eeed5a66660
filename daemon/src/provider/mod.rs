//! Providers produce a turn's answer. Each streams `ProviderEvent`s into a channel; the session
//! runner turns them into durable events. A provider never touches the store.

pub mod openai;

use agentmux_shared::config::Config;
use agentmux_shared::types::{ProviderHealth, Role, Usage};
use agentmux_shared::{Error, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub model: String,
    pub history: Vec<ChatMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    Text(String),
    Reasoning(String),
    /// Something odd the user should see that did not end the turn.
    Warning(String),
}

/// How a turn ended when the provider finished it itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnEnd {
    pub model: String,
    pub stop_reason: String,
    pub usage: Usage,
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
}

#[derive(Clone)]
pub struct Providers {
    map: BTreeMap<String, Arc<dyn Provider>>,
}

impl Providers {
    pub fn from_config(config: &Config) -> Result<Providers> {
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
        Ok(Providers { map })
    }

    #[cfg(test)]
    pub fn with(providers: Vec<Arc<dyn Provider>>) -> Providers {
        Providers {
            map: providers
                .into_iter()
                .map(|p| (p.id().to_string(), p))
                .collect(),
        }
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
}
