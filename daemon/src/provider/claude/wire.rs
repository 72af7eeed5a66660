//! Claude Code's stream-json lines as typed values: what `claude` prints, by `type`, and the tool
//! inputs the adapter reads. Only the fields the adapter uses; serde skips the rest.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// One stdout line. A `type` agentmux does not know is `Unknown`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Line {
    System(System),
    StreamEvent(StreamEvent),
    Assistant(MessageLine),
    User(MessageLine),
    ControlRequest(ControlRequest),
    ControlResponse(ControlResponse),
    ControlCancelRequest {},
    Result(ResultLine),
    #[serde(other)]
    Unknown,
}

/// Just the `type`, to name a line the parser could not read.
#[derive(Debug, Deserialize)]
pub(super) struct Tag {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `system` (`init` starts every process's conversation; `status` and others are ignored).
#[derive(Debug, Deserialize)]
pub(super) struct System {
    pub subtype: Option<String>,
    pub model: Option<String>,
    pub session_id: Option<String>,
}

/// `stream_event`: one Messages API streaming event, with `--include-partial-messages`.
#[derive(Debug, Deserialize)]
pub(super) struct StreamEvent {
    #[serde(default)]
    pub event: Event,
    /// Set for a subagent's events (not the answer's).
    pub parent_tool_use_id: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Event {
    ContentBlockDelta {
        #[serde(default)]
        delta: Delta,
    },
    #[default]
    #[serde(other)]
    Other,
}

/// A content block's delta, by `type` (`text_delta`, `thinking_delta`, …).
#[derive(Debug, Default, Deserialize)]
#[serde(tag = "type")]
pub(super) enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: Option<String> },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: Option<String> },
    #[default]
    #[serde(other)]
    Other,
}

/// `assistant` (its tool uses) and `user` (tool results) lines.
#[derive(Debug, Deserialize)]
pub(super) struct MessageLine {
    #[serde(default)]
    pub message: Message,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Message {
    #[serde(default)]
    pub content: Content,
}

/// A message's content: blocks, or a plain string (nothing the adapter reads).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Content {
    Blocks(Vec<Block>),
    Other(IgnoredAny),
}

impl Default for Content {
    fn default() -> Self {
        Content::Blocks(Vec::new())
    }
}

impl Content {
    pub fn blocks(self) -> Vec<Block> {
        match self {
            Content::Blocks(b) => b,
            Content::Other(_) => Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block {
    ToolUse {
        id: Option<String>,
        name: Option<String>,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: Option<String>,
        is_error: Option<bool>,
        /// A string or a list of text blocks.
        #[serde(default)]
        content: Value,
    },
    #[serde(other)]
    Other,
}

/// `control_request`: claude asks the client something.
#[derive(Debug, Deserialize)]
pub(super) struct ControlRequest {
    pub request_id: Option<String>,
    #[serde(default)]
    pub request: Request,
}

/// The request: `can_use_tool` fills the tool fields; other subtypes only name themselves
/// (they are refused by name).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Request {
    pub subtype: Option<String>,
    pub tool_name: Option<String>,
    /// The tool's input, handed back as is when allowed.
    #[serde(default)]
    pub input: Value,
    pub tool_use_id: Option<String>,
    pub description: Option<String>,
    /// Rules "always allow" adds; handed back as is.
    #[serde(default)]
    pub permission_suggestions: Value,
}

/// `control_response`: claude's answer to one of our control requests.
#[derive(Debug, Deserialize)]
pub(super) struct ControlResponse {
    #[serde(default)]
    pub response: Response,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Response {
    pub subtype: Option<String>,
    pub error: Option<String>,
}

/// `result`: the turn's end.
#[derive(Debug, Deserialize)]
pub(super) struct ResultLine {
    pub subtype: Option<String>,
    pub session_id: Option<String>,
    pub is_error: Option<bool>,
    pub result: Option<String>,
    /// Strings, or anything else (shown as JSON).
    pub errors: Option<Vec<Value>>,
    pub stop_reason: Option<String>,
    pub usage: Option<ResultUsage>,
    pub total_cost_usd: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ResultUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
}

/// The file fields of Write, Edit, MultiEdit and NotebookEdit inputs.
#[derive(Debug, Default, Deserialize)]
pub(super) struct FileInput {
    pub file_path: Option<String>,
    pub notebook_path: Option<String>,
    /// Write: the whole new file.
    pub content: Option<String>,
    /// Edit: one replacement.
    #[serde(flatten)]
    pub edit: Edit,
    /// MultiEdit: replacements in order.
    pub edits: Option<Vec<Edit>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Edit {
    pub old_string: Option<String>,
    pub new_string: Option<String>,
    pub replace_all: Option<bool>,
}

/// TodoWrite's input: Claude's plan.
#[derive(Debug, Deserialize)]
pub(super) struct TodoInput {
    pub todos: Vec<Todo>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Todo {
    pub content: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
}
