//! What a test queues: [`Script`]s of [`Step`]s, the [`Match`] that picks the requests a script
//! answers, and the [`Gate`] a script can wait on.

use super::{Recorded, Wire};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A one-shot latch a script can wait on (`Step::Wait`); the test opens it.
#[derive(Clone, Default)]
pub struct Gate(pub(super) Arc<Notify>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }
    /// Lets one waiting (or the next) `Step::Wait` go on.
    pub fn open(&self) {
        self.0.notify_one();
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

/// One thing the server does while answering a request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Sleep, then send a text delta.
    Text { text: String, delay: Duration },
    /// Sleep, then send a reasoning / thinking delta.
    Reasoning { text: String, delay: Duration },
    /// Sleep, then call the function tool `name` with the JSON `input` (Anthropic `tool_use`,
    /// Chat `tool_calls`, Responses `function_call`, Gemini `functionCall`).
    Tool {
        name: String,
        input: Value,
        delay: Duration,
    },
    /// Sleep, then call the freeform tool `name` with raw text (Responses `custom_tool_call`, e.g.
    /// Codex's `apply_patch` with `*** Begin Patch` text). Other wires send it as a function call
    /// with `{"input": text}`.
    CustomTool {
        name: String,
        input: String,
        delay: Duration,
    },
    /// Answer with this HTTP status and JSON body instead of a stream (must be the first step).
    HttpError { status: u16, body: Value },
    /// Answer with this HTTP status and the wire's own error body carrying `message` (must be first).
    ApiError { status: u16, message: String },
    /// Send nothing more, ever (before the first step: not even the response headers).
    Hang,
    /// Send this raw text as an SSE `data:` line (not valid JSON).
    Malformed(String),
    /// Wait until the test opens the gate, then go on.
    Wait(Gate),
    /// Close the stream without the wire's closing events.
    Abort,
}

impl Step {
    pub fn text(text: &str) -> Step {
        Step::Text {
            text: text.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn tool(name: &str, input: Value) -> Step {
        Step::Tool {
            name: name.into(),
            input,
            delay: Duration::ZERO,
        }
    }
    pub fn custom_tool(name: &str, input: &str) -> Step {
        Step::CustomTool {
            name: name.into(),
            input: input.into(),
            delay: Duration::ZERO,
        }
    }
}

/// Decides which requests a script answers.
#[derive(Clone)]
pub struct Match(Arc<dyn Fn(&Recorded) -> bool + Send + Sync>);

impl Match {
    pub fn new(f: impl Fn(&Recorded) -> bool + Send + Sync + 'static) -> Match {
        Match(Arc::new(f))
    }
    /// Requests that offer the model at least one tool (an agent's main turn, not a title or
    /// memory side request).
    pub fn has_tools() -> Match {
        Match::new(|r| !r.tools().is_empty())
    }
    /// Requests that offer a tool with this name.
    pub fn offers_tool(name: &str) -> Match {
        let name = name.to_string();
        Match::new(move |r| r.tools().contains(&name))
    }
    pub fn wire(wire: Wire) -> Match {
        Match::new(move |r| r.wire == wire)
    }
    /// Requests whose JSON body contains this text anywhere.
    pub fn body_contains(text: &str) -> Match {
        let text = text.to_string();
        Match::new(move |r| r.body.to_string().contains(&text))
    }
    pub fn matches(&self, r: &Recorded) -> bool {
        (self.0)(r)
    }
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Match")
    }
}

/// What one request gets.
#[derive(Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    /// Reported in the final chunk's `usage` when the client asked for it.
    pub usage: Usage,
    /// `stop` (or `length`); a script that calls tools ends with the wire's tool-use reason instead.
    pub finish_reason: String,
    /// Which requests this script may answer; `None`: the next model request of any wire.
    pub when: Option<Match>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Script {
        Script {
            steps,
            usage: Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
            },
            finish_reason: "stop".into(),
            when: None,
        }
    }

    /// Text in chunks, each sent after `delay`.
    pub fn chunks(chunks: &[&str], delay: Duration) -> Script {
        Script::new(
            chunks
                .iter()
                .map(|c| Step::Text {
                    text: (*c).to_string(),
                    delay,
                })
                .collect(),
        )
    }

    /// One answer: this text in one delta.
    pub fn answer(text: &str) -> Script {
        Script::new(vec![Step::text(text)])
    }

    /// A turn that calls one function tool (and nothing else).
    pub fn tool_call(name: &str, input: Value) -> Script {
        Script::new(vec![Step::tool(name, input)])
    }

    /// A turn that calls one freeform tool, e.g. Codex's `apply_patch`.
    pub fn custom_tool_call(name: &str, input: &str) -> Script {
        Script::new(vec![Step::custom_tool(name, input)])
    }

    /// An HTTP error with the wire's own error body.
    pub fn http_error(status: u16, message: &str) -> Script {
        Script::new(vec![Step::ApiError {
            status,
            message: message.into(),
        }])
    }

    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        self.usage = Usage {
            prompt_tokens,
            completion_tokens,
        };
        self
    }

    /// Only requests `m` accepts take this script.
    pub fn when(mut self, m: Match) -> Script {
        self.when = Some(m);
        self
    }

    /// The text all `Text` steps add up to.
    pub fn text(&self) -> String {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn calls_tools(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Tool { .. } | Step::CustomTool { .. }))
    }
}
