//! The durable event log's entries and what a subscription yields.

use super::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One entry of the durable event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub seq: u64,
    pub ts_ms: i64,
    pub session_id: String,
    #[serde(flatten)]
    pub payload: EventPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    #[serde(rename = "session.created")]
    SessionCreated { session: Session },
    #[serde(rename = "session.updated")]
    SessionUpdated { session: Session },
    #[serde(rename = "session.deleted")]
    SessionDeleted { id: String },
    #[serde(rename = "session.reset")]
    SessionReset { session: Session },
    #[serde(rename = "message.created")]
    MessageCreated { message: Message },
    #[serde(rename = "message.delta")]
    MessageDelta { message_id: String, text: String },
    #[serde(rename = "message.reasoning_delta")]
    ReasoningDelta { message_id: String, text: String },
    #[serde(rename = "message.completed")]
    MessageCompleted { message: Message },
    #[serde(rename = "turn.started")]
    TurnStarted {
        user_message_id: String,
        assistant_message_id: String,
    },
    #[serde(rename = "turn.finished")]
    TurnFinished(TurnFinished),
    #[serde(rename = "warning")]
    Warning { message: String },
    #[serde(rename = "terminal.created")]
    TerminalCreated { terminal: Terminal },
    #[serde(rename = "terminal.updated")]
    TerminalUpdated { terminal: Terminal },
    #[serde(rename = "terminal.removed")]
    TerminalRemoved { id: String },
    #[serde(rename = "approval.requested")]
    ApprovalRequested { approval: Approval },
    #[serde(rename = "approval.resolved")]
    ApprovalResolved { approval: Approval },
    #[serde(rename = "tool.call")]
    ToolCall(ToolCall),
    #[serde(rename = "file.changed")]
    FileChanged { path: String, diff: String },
    /// The agent's current plan (the whole list each time).
    #[serde(rename = "plan.updated")]
    PlanUpdated { entries: Vec<PlanEntry> },
    /// An install job changed state or printed output (`lines`: output since its last event).
    #[serde(rename = "provider.install")]
    ProviderInstall { job: InstallJob, lines: Vec<String> },
    /// Files in the session's worktree changed, or its git state did (`reason`: `files`, or
    /// the git operation: `commit`, `stage`, `merge`, …): clients refresh what they show.
    /// `paths` (relative, at most 200) says which, when known; `truncated` when there were more.
    #[serde(rename = "workspace.changed")]
    WorkspaceChanged {
        reason: String,
        paths: Vec<String>,
        truncated: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TurnFinished {
    pub user_message_id: String,
    pub assistant_message_id: String,
    pub status: MessageStatus,
    pub stop_reason: String,
    pub error: String,
    pub usage: Usage,
    /// What the turn cost in US dollars, when the provider says (0 otherwise).
    #[serde(default)]
    pub cost_usd: f64,
}

impl EventPayload {
    /// The dotted name used as the SSE `event:` field and the JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            EventPayload::SessionCreated { .. } => "session.created",
            EventPayload::SessionUpdated { .. } => "session.updated",
            EventPayload::SessionDeleted { .. } => "session.deleted",
            EventPayload::SessionReset { .. } => "session.reset",
            EventPayload::MessageCreated { .. } => "message.created",
            EventPayload::MessageDelta { .. } => "message.delta",
            EventPayload::ReasoningDelta { .. } => "message.reasoning_delta",
            EventPayload::MessageCompleted { .. } => "message.completed",
            EventPayload::TurnStarted { .. } => "turn.started",
            EventPayload::TurnFinished(_) => "turn.finished",
            EventPayload::Warning { .. } => "warning",
            EventPayload::TerminalCreated { .. } => "terminal.created",
            EventPayload::TerminalUpdated { .. } => "terminal.updated",
            EventPayload::TerminalRemoved { .. } => "terminal.removed",
            EventPayload::ApprovalRequested { .. } => "approval.requested",
            EventPayload::ApprovalResolved { .. } => "approval.resolved",
            EventPayload::ToolCall(_) => "tool.call",
            EventPayload::FileChanged { .. } => "file.changed",
            EventPayload::PlanUpdated { .. } => "plan.updated",
            EventPayload::ProviderInstall { .. } => "provider.install",
            EventPayload::WorkspaceChanged { .. } => "workspace.changed",
        }
    }
}

/// What a subscription yields besides events.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(std::sync::Arc<Event>),
    Heartbeat {
        last_seq: u64,
    },
    /// The subscriber fell behind; resubscribe after this seq.
    Lagged {
        resume_after_seq: u64,
    },
}
