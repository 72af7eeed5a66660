//! OpenAI-compatible chat completions (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio)
//! over reqwest, streamed as SSE.

use crate::provider::{BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::config::OpenAiConfig;
use agentmux_shared::types::{ProviderHealth, Usage};
use agentmux_shared::{Error, Result};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::mpsc;

pub(crate) const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// How much of an error body is kept for the message.
const ERROR_BODY_LIMIT: usize = 2048;

/// The conventional environment variables, read once at start.
#[derive(Debug, Clone, Default)]
pub struct EnvDefaults {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
}

impl EnvDefaults {
    pub fn from_env() -> EnvDefaults {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        EnvDefaults {
            base_url: var("OPENAI_BASE_URL"),
            api_key: var("OPENAI_API_KEY"),
            model: var("OPENAI_MODEL"),
        }
    }
}

pub struct OpenAi {
    id: String,
    base_url: String,
    api_key: String,
    model: String,
    idle_timeout: Duration,
    connect_timeout: Duration,
    /// Built on the first turn: TLS set-up and the system's root certificates cost memory an
    /// idle daemon should not carry.
    http: std::sync::OnceLock<reqwest::Client>,
}

impl OpenAi {
    pub fn new(id: &str, c: &OpenAiConfig, env: &EnvDefaults) -> Result<OpenAi> {
        let pick = |cfg: &str, env: &Option<String>, default: &str| {
            if !cfg.is_empty() {
                cfg.to_string()
            } else {
                env.clone().unwrap_or_else(|| default.to_string())
            }
        };
        Ok(OpenAi {
            id: id.to_string(),
            base_url: pick(&c.base_url, &env.base_url, DEFAULT_BASE_URL)
                .trim_end_matches('/')
                .to_string(),
            api_key: pick(&c.api_key, &env.api_key, ""),
            model: pick(&c.model, &env.model, DEFAULT_MODEL),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs.max(1)),
            connect_timeout: Duration::from_secs(c.connect_timeout_secs.max(1)),
            http: std::sync::OnceLock::new(),
        })
    }

    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        // Another caller may have installed it already; either way one is in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| Error::internal(format!("http client: {e}")))?;
        Ok(self.http.get_or_init(|| client))
    }

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let model = if req.model.is_empty() {
            self.model.clone()
        } else {
            req.model
        };
        let messages: Vec<serde_json::Value> = req
            .history
            .iter()
            .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let body = serde_json::json!({
            "model": model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let mut rb = self
            .http()?
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body);
        if !self.api_key.is_empty() {
            rb = rb.bearer_auth(&self.api_key);
        }
        let resp = tokio::time::timeout(self.idle_timeout, rb.send())
            .await
            .map_err(|_| self.idle_error())?
            .map_err(|e| {
                Error::unavailable(format!("{}: request failed: {}", self.id, chain(&e)))
            })?;
        let status = resp.status();
        if !status.is_success() {
            let text = tokio::time::timeout(self.idle_timeout, resp.text())
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default();
            return Err(Error::unavailable(format!(
                "{}: model server returned {}: {}",
                self.id,
                status.as_u16(),
                error_message(&text)
            )));
        }
        let mut end = TurnEnd {
            model: model.clone(),
            ..TurnEnd::default()
        };
        let mut done = false;
        let mut stream = resp.bytes_stream().eventsource();
        loop {
            let next = tokio::time::timeout(self.idle_timeout, stream.next())
                .await
                .map_err(|_| self.idle_error())?;
            let Some(item) = next else { break };
            let ev =
                item.map_err(|e| Error::unavailable(format!("{}: stream broke: {e}", self.id)))?;
            let data = ev.data.trim();
            if data == "[DONE]" {
                done = true;
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Chunk = match serde_json::from_str(data) {
                Ok(c) => c,
                Err(e) => {
                    let msg = format!("{}: skipped a malformed chunk: {e}", self.id);
                    let _ = out.send(ProviderEvent::Warning(msg)).await;
                    continue;
                }
            };
            if let Some(err) = chunk.error {
                return Err(Error::unavailable(format!(
                    "{}: model server error: {}",
                    self.id,
                    err.message.unwrap_or_else(|| "unknown".into())
                )));
            }
            if let Some(m) = chunk.model.filter(|m| !m.is_empty()) {
                end.model = m;
            }
            if let Some(u) = chunk.usage {
                end.usage = Usage {
                    input_tokens: u.prompt_tokens,
                    output_tokens: u.completion_tokens,
                    reasoning_tokens: u
                        .completion_tokens_details
                        .map(|d| d.reasoning_tokens)
                        .unwrap_or(0),
                };
            }
            for choice in chunk.choices {
                if let Some(d) = choice.delta {
                    let reasoning = d
                        .reasoning_content
                        .or(d.reasoning)
                        .filter(|s| !s.is_empty());
                    let text = d.content.filter(|s| !s.is_empty());
                    let events = reasoning
                        .map(ProviderEvent::Reasoning)
                        .into_iter()
                        .chain(text.map(ProviderEvent::Text));
                    for ev in events {
                        if out.send(ev).await.is_err() {
                            return Err(Error::unavailable("turn abandoned"));
                        }
                    }
                }
                if let Some(r) = choice.finish_reason {
                    end.stop_reason = r;
                }
            }
        }
        if !done && end.stop_reason.is_empty() {
            return Err(Error::unavailable(format!(
                "{}: the model server closed the stream before the answer ended",
                self.id
            )));
        }
        if end.stop_reason.is_empty() {
            end.stop_reason = "stop".into();
        }
        Ok(end)
    }

    fn idle_error(&self) -> Error {
        Error::unavailable(format!(
            "{}: no response from the model server for {} s",
            self.id,
            self.idle_timeout.as_secs()
        ))
    }
}

impl Provider for OpenAi {
    fn id(&self) -> &str {
        &self.id
    }

    fn default_model(&self) -> String {
        self.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        let local = self.base_url.contains("://127.0.0.1")
            || self.base_url.contains("://localhost")
            || self.base_url.contains("://[::1]");
        let available = !self.api_key.is_empty() || local;
        let detail = if available {
            format!("{} ({})", self.base_url, self.model)
        } else {
            format!(
                "{}: no API key (set OPENAI_API_KEY or providers.{}.api_key)",
                self.base_url, self.id
            )
        };
        ProviderHealth {
            id: self.id.clone(),
            available,
            detail,
        }
    }

    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>> {
        Box::pin(self.turn(req, out))
    }
}

/// reqwest errors hide the useful part (connection refused, …) in their sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorBody,
    }
    if let Some(m) = serde_json::from_str::<Envelope>(body)
        .ok()
        .and_then(|env| env.error.message)
    {
        return m;
    }
    let mut s: String = body.chars().take(ERROR_BODY_LIMIT).collect();
    if s.trim().is_empty() {
        s = "(empty body)".into();
    }
    s
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    completion_tokens_details: Option<UsageDetails>,
}

#[derive(Deserialize)]
struct UsageDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_the_envelope() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(error_message("plain"), "plain");
        assert_eq!(error_message(""), "(empty body)");
    }

    #[test]
    fn config_wins_over_env() {
        let env = EnvDefaults {
            base_url: Some("http://env/v1/".into()),
            api_key: Some("envkey".into()),
            model: None,
        };
        let c = OpenAiConfig {
            api_key: "cfgkey".into(),
            ..OpenAiConfig::default()
        };
        let p = OpenAi::new("openai", &c, &env).unwrap();
        assert_eq!(p.base_url, "http://env/v1");
        assert_eq!(p.api_key, "cfgkey");
        assert_eq!(p.model, DEFAULT_MODEL);
    }
}
