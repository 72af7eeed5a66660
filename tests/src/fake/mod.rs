//! A scripted fake model server that speaks the wire APIs agentmux and the coding-agent CLIs call,
//! all on one port:
//!
//! | wire | routes | used by |
//! |---|---|---|
//! | OpenAI Chat Completions ([`openai_chat`]) | `POST /v1/chat/completions`, `GET /v1/models` | the daemon's HTTP agent, Qwen Code, OpenCode |
//! | Anthropic Messages ([`anthropic`]) | `POST /v1/messages[?beta=true]`, `POST /v1/messages/count_tokens` | Claude Code |
//! | OpenAI Responses ([`responses`]) | `POST /v1/responses` | Codex |
//! | Gemini ([`gemini`]) | `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, `:generateContent`, `:countTokens` | Gemini CLI |
//!
//! Tests queue [`Script`]s; each model request takes the first queued script whose [`Match`] accepts
//! it (or the default echo script when none does) and plays its [`Step`]s in that wire's format: text,
//! reasoning, tool calls, errors, hangs. A turn that uses a tool is two scripts: one that calls the
//! tool, and one for the next request, which carries the tool result
//! ([`Recorded::tool_results`]). Every request is recorded (path with query, body) so a test can
//! assert what the client sent.

mod answer;
pub mod anthropic;
pub mod gemini;
pub mod openai_chat;
mod recorded;
pub mod responses;
mod script;
mod server;

pub use answer::{ToolCall, ToolInput};
pub use recorded::{Recorded, ToolResult, Wire};
pub use script::{Gate, Match, Script, Step, Usage};
pub use server::{FakeModel, FakeOpenAi};

pub(crate) use answer::{
    Collected, Encoder, answer, error_response, sse_data, sse_event, take_script,
};
pub(crate) use recorded::{content_text, path_and_query, recorded};
pub(crate) use server::Shared;

/// The model id the fake server reports and that test configs use.
pub const MODEL: &str = "fake-model";

#[cfg(test)]
pub(crate) mod test_util {
    use serde_json::Value;

    pub async fn post(url: &str, body: Value) -> reqwest::Response {
        crate::http_client()
            .build()
            .unwrap()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `(event name or "", data)` of each SSE event in a body.
    pub fn sse(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = d.to_string();
                }
            }
            if !data.is_empty() {
                out.push((event, data));
            }
        }
        out
    }

    pub fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }
}
