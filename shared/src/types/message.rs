//! Messages and what an answer carries: usage, tool calls, file changes, plan.

use super::str_enum::str_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Counts come from model servers: saturate rather than trust them not to overflow.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
    }
}

str_enum! {
    /// Where a tool call is.
    #[derive(Default)]
    pub enum ToolCallStatus ("tool call status") {
        #[default]
        Started = "started",
        /// Still running, with news (more output, its input completed).
        Updated = "updated",
        Finished = "finished",
        Failed = "failed",
        /// Refused by a person or a policy; the output says why.
        Denied = "denied",
    }
}

/// A tool call's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input_json: String,
    pub status: ToolCallStatus,
    pub output: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Streaming,
    #[default]
    Complete,
    Cancelled,
    Interrupted,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Complete => "complete",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub index: u64,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: String,
    pub usage: Usage,
    pub created_at_ms: i64,
    pub completed_at_ms: i64,
    pub error: String,
    pub stop_reason: String,
    pub reply_to: String,
    /// What an agent's turn did besides talking, kept with its answer when the turn ends:
    /// tool calls (latest state of each, in call order), file changes, the last plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FileChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlanEntry>,
    /// What the model thought aloud before answering (its reasoning or thinking deltas).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
}

/// Tool calls kept per answer: a runaway agent must not grow a message without bound (the
/// events still carry everything).
pub const MAX_TOOL_CALLS: usize = 500;

/// Folds a tool call's new state into `tools`: an update replaces the call with its id (keeping
/// the name and input when the update leaves them out); a new call is appended.
pub fn merge_tool_call(tools: &mut Vec<ToolCall>, t: &ToolCall) {
    let known = tools.iter().position(|x| x.id == t.id && !t.id.is_empty());
    match known.and_then(|i| tools.get_mut(i)) {
        Some(x) => {
            let name = std::mem::take(&mut x.name);
            let input = std::mem::take(&mut x.input_json);
            *x = t.clone();
            if x.name.is_empty() {
                x.name = name;
            }
            if x.input_json.is_empty() {
                x.input_json = input;
            }
        }
        None => {
            if tools.len() < MAX_TOOL_CALLS {
                tools.push(t.clone());
            }
        }
    }
}

/// A file an agent changed, with a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    pub path: String,
    pub diff: String,
}

str_enum! {
    /// Where a step of an agent's plan is.
    #[derive(Default)]
    pub enum PlanStatus ("plan status") {
        #[default]
        Pending = "pending",
        InProgress = "in_progress",
        Completed = "completed",
    }
}

impl PlanStatus {
    /// A status as an agent spells it (`inProgress`, `done`, ...): the adapters' reading of
    /// a foreign protocol, where a step of unknown state counts as not done.
    pub fn from_agent(s: &str) -> PlanStatus {
        match s.trim() {
            "in_progress" | "inProgress" | "in-progress" | "active" | "running" => {
                PlanStatus::InProgress
            }
            "completed" | "complete" | "done" | "finished" => PlanStatus::Completed,
            _ => PlanStatus::Pending,
        }
    }
}

/// One step of an agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PlanEntry {
    pub content: String,
    pub status: PlanStatus,
    /// `high`, `medium`, `low`, or empty when the agent gives none.
    pub priority: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next_index: u64,
    pub more: bool,
    /// The event log head read before the messages: subscribing after it misses nothing.
    pub last_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SendResult {
    pub message: Message,
    pub queued: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Message>,
}
