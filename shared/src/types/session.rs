//! Sessions: their record, status, approval policy and the requests that make and cancel them.

use super::Usage;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest session title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    #[default]
    Idle,
    Busy,
    /// The daemon stopped while a turn ran; the next message or resume continues.
    Interrupted,
    /// The last turn failed; `last_error` says why. The next message retries.
    Failed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Idle => "idle",
            SessionStatus::Busy => "busy",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    pub id: String,
    pub title: String,
    pub provider: String,
    pub model: String,
    pub cwd: String,
    pub status: SessionStatus,
    pub busy: bool,
    pub queued: u32,
    pub message_count: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub forked_from: String,
    pub last_error: String,
    pub usage: Usage,
    /// The provider CLI's own session id (for resume); empty until known.
    pub provider_session_id: String,
    pub approval_policy: ApprovalPolicy,
    /// A pending approval nobody answers within this many seconds expires (denied); 0: never.
    pub approval_timeout_secs: u64,
}

/// When a session's provider must ask a person before it runs a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ApprovalPolicy {
    /// Ask for edits and commands.
    #[default]
    #[serde(rename = "ask")]
    Ask,
    /// File edits are allowed; everything else asks.
    #[serde(rename = "auto-edit")]
    AutoEdit,
    /// Everything is allowed.
    #[serde(rename = "never-ask")]
    NeverAsk,
}

impl ApprovalPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Ask => "ask",
            ApprovalPolicy::AutoEdit => "auto-edit",
            ApprovalPolicy::NeverAsk => "never-ask",
        }
    }

    /// Parses a policy name; empty is the default (`ask`).
    pub fn parse(s: &str) -> crate::Result<ApprovalPolicy> {
        match s.trim() {
            "" | "ask" => Ok(ApprovalPolicy::Ask),
            "auto-edit" | "auto_edit" => Ok(ApprovalPolicy::AutoEdit),
            "never-ask" | "never_ask" => Ok(ApprovalPolicy::NeverAsk),
            other => Err(crate::Error::invalid(format!(
                "approval_policy {other:?} is not one of ask, auto-edit, never-ask"
            ))),
        }
    }
}

impl Session {
    /// What a person sees in a list: busy sessions with waiting input show as queued.
    pub fn display_status(&self) -> &'static str {
        if self.busy && self.queued > 0 {
            "queued"
        } else {
            self.status.as_str()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CreateSession {
    #[schemars(length(max = 120), regex(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub title: String,
    pub provider: String,
    pub model: String,
    /// An absolute path (an existing directory under the allowed roots); empty: the default.
    #[schemars(regex(pattern = "^(/.*)?$"))]
    pub cwd: String,
    /// `ask` (default), `auto-edit`, `never-ask`.
    #[schemars(extend("enum" = ["", "ask", "auto-edit", "never-ask"]))]
    pub approval_policy: String,
    /// Pending approvals expire (denied) after this many seconds; 0 (default): never.
    #[schemars(range(max = 9_007_199_254_740_991u64))]
    pub approval_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
    pub last_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CancelResult {
    pub id: String,
    pub cancelled_turn: bool,
    pub dropped_queued: u32,
}
