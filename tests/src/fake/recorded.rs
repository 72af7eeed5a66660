//! What the server received: each request as a [`Recorded`] (its wire, path, credentials and JSON
//! body) and what it reads out of one (history, tool results, offered tools, model).

use super::{anthropic, gemini, openai_chat, responses};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde_json::{Value, json};

/// Which wire API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    OpenAiChat,
    Anthropic,
    Responses,
    Gemini,
    /// Anything else (model lists, token counts, unknown routes); never takes a script.
    Other,
}

/// A tool result a client sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The call id it answers (Gemini: the function name when no id was sent).
    pub call_id: String,
    /// The result as text (JSON results serialized).
    pub output: String,
    /// Anthropic's `is_error` flag; false on other wires.
    pub is_error: bool,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub wire: Wire,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// `Authorization`, else `x-api-key`, else `x-goog-api-key` (as sent).
    pub authorization: String,
    /// The JSON body (a non-JSON body is kept as a string).
    pub body: Value,
}

impl Recorded {
    /// `(role, text)` of every message in the request, in order (the text parts of each).
    pub fn history(&self) -> Vec<(String, String)> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::history(&self.body),
            Wire::Anthropic => anthropic::history(&self.body),
            Wire::Responses => responses::history(&self.body),
            Wire::Gemini => gemini::history(&self.body),
        }
    }

    /// The text of the last user message that has text.
    pub fn last_user_text(&self) -> String {
        self.history()
            .into_iter()
            .rev()
            .find(|(role, text)| role == "user" && !text.is_empty())
            .map(|(_, t)| t)
            .unwrap_or_default()
    }

    /// Tool results in the request, in order.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::tool_results(&self.body),
            Wire::Anthropic => anthropic::tool_results(&self.body),
            Wire::Responses => responses::tool_results(&self.body),
            Wire::Gemini => gemini::tool_results(&self.body),
        }
    }

    /// Names of the tools the request offers the model.
    pub fn tools(&self) -> Vec<String> {
        match self.wire {
            Wire::OpenAiChat | Wire::Other => openai_chat::tools(&self.body),
            Wire::Anthropic => anthropic::tools(&self.body),
            Wire::Responses => responses::tools(&self.body),
            Wire::Gemini => gemini::tools(&self.body),
        }
    }

    /// The model the request names (Gemini: from the path).
    pub fn model(&self) -> String {
        match self.wire {
            Wire::Gemini => gemini::model_from_path(&self.path),
            _ => self.body["model"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// A short JSON summary (no system prompt or tool schemas), for logs and fixtures.
    pub fn summary(&self) -> Value {
        json!({
            "wire": format!("{:?}", self.wire),
            "path": self.path,
            "model": self.model(),
            "tools": self.tools(),
            "last_user_text": truncate(&self.last_user_text(), 300),
            "tool_results": self.tool_results().iter().map(|r| json!({
                "call_id": r.call_id, "output": truncate(&r.output, 500), "is_error": r.is_error,
            })).collect::<Vec<_>>(),
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Message content is a string or a list of parts with `text`.
pub(crate) fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

pub(crate) fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

pub(crate) fn recorded(wire: Wire, path: String, headers: &HeaderMap, body: &Bytes) -> Recorded {
    let authorization = [
        header::AUTHORIZATION.as_str(),
        "x-api-key",
        "x-goog-api-key",
    ]
    .iter()
    .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
    .unwrap_or_default()
    .to_string();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    Recorded {
        wire,
        path,
        authorization,
        body,
    }
}
