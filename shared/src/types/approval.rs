//! Approvals: requests that wait for a person or the session policy, and how they end.

use super::str_enum::str_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

str_enum! {
    #[derive(Default)]
    pub enum ApprovalStatus ("approval status") {
        #[default]
        Pending = "pending",
        Allowed = "allowed",
        Denied = "denied",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

str_enum! {
    /// What a person (or the policy) answered to an approval.
    pub enum Decision ("decision") {
        AllowOnce = "allow_once",
        AllowAlways = "allow_always",
        Deny = "deny",
    }
}

str_enum! {
    /// How an approval ended.
    pub enum ApprovalReason ("approval reason") {
        /// A person answered.
        Decided = "decided",
        /// The session's policy answered at once.
        Policy = "policy",
        /// Nobody answered within the session's approval timeout.
        TimedOut = "timed_out",
        TurnCancelled = "turn_cancelled",
        TurnEnded = "turn_ended",
        SessionDeleted = "session_deleted",
        /// Pending approvals cannot outlive the process that asked.
        DaemonRestarted = "daemon_restarted",
        /// An "allow always" rule of the session answered at once.
        Rule = "rule",
        /// The agent CLI ran the tool without asking (its own notion of a safe action); put
        /// on record afterwards.
        CliAllowed = "cli_allowed",
    }
}

/// What "allow always" leaves behind: requests of this tool in this session are allowed at
/// once (and recorded, reason `rule`) until the rule is revoked. agentmux keeps the rule, not
/// the agent CLI, so its scope is exactly this and it can be listed and taken back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRule {
    pub tool: String,
    pub created_at_ms: i64,
}

str_enum! {
    /// What waits for the decision.
    #[derive(Default)]
    pub enum ApprovalKind ("approval kind") {
        /// A provider asks to run a tool.
        #[default]
        ToolCall = "tool_call",
    }
}

/// A request that waits for a person or the session policy: a provider asking to run a tool
/// (a workflow gate next).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Approval {
    pub id: String,
    pub session_id: String,
    pub kind: ApprovalKind,
    pub tool: String,
    /// The tool input as JSON text.
    pub input_json: String,
    pub summary: String,
    /// A unified diff when the tool edits a file.
    pub diff: String,
    /// What the agent offered, in its own words (`allow_once`, `reject_always`, ...); the
    /// answer is always a `Decision`.
    pub options: Vec<String>,
    pub status: ApprovalStatus,
    /// The option chosen; none while pending or when it ended without one.
    pub decision: Option<Decision>,
    pub message: String,
    /// How it ended; none while pending.
    pub reason: Option<ApprovalReason>,
    pub created_at_ms: i64,
    pub resolved_at_ms: i64,
}

/// `DecideApproval` / `POST /v1/approvals/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecideApproval {
    pub decision: Decision,
    /// For a denial: what the agent is told.
    #[serde(default)]
    pub message: String,
}
