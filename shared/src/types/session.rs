//! Sessions: their record, status, approval policy and the requests that make and cancel them.

use super::Usage;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest session title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// Longest session name, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// What a session is called when it has no title to name it after: the end of its id
/// (random bits of a time-ordered id), the short form lists show.
pub fn default_name(id: &str) -> String {
    let tail: String = id.chars().rev().take(6).collect();
    tail.chars().rev().collect()
}

/// A name made from a title: lowercase ASCII letters and digits, other runs as one `-`, at
/// most 32 characters; empty when nothing of the title fits.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 32 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Whether `name` may name a session: `[a-z0-9][a-z0-9._-]*`, at most `MAX_NAME_CHARS`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name.chars().count() <= MAX_NAME_CHARS
}

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
    /// A short unique name to type in place of the id: from the title when it was given at
    /// creation (or first set), else the end of the id.
    pub name: String,
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
    /// Variables of the client that made it (PATH, LANG, SSH_AUTH_SOCK…: never secrets),
    /// given to the agent CLIs it starts under the provider's configured `env`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// Tools allowed for the rest of the session ("allow always"), until revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<super::ApprovalRule>,
    /// The session's own git worktree, when it has one (`cwd` is inside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Workspace>,
}

/// A session's git worktree: recorded before anything is made, so a crash at any point leaves
/// a state the next start can reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Workspace {
    /// The repository's top directory (the user's checkout; never written to).
    pub repo: String,
    /// The worktree's directory.
    pub path: String,
    /// The session's branch (`agentmux/<name>` unless chosen).
    pub branch: String,
    /// What it started from, as given (`HEAD`, a branch) and as the commit it was then.
    pub base: String,
    pub base_commit: String,
    /// `creating`, `ready`, or `missing` (its directory is gone).
    pub state: String,
    /// The commit its branch was made at (the base's, or for a fork the parent's HEAD).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_commit: String,
}

/// How a new session should be set up in a git repository.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct WorkspaceRequest {
    /// `worktree`: its own worktree and branch; `none`: its directory as given; empty: the
    /// daemon's `[sessions] workspace`.
    #[schemars(extend("enum" = ["", "worktree", "none"]))]
    pub mode: String,
    /// What the branch starts from; empty: the repository's `HEAD`.
    #[schemars(length(max = 200))]
    pub base: String,
    /// The branch; empty: `agentmux/<session name>`.
    #[schemars(length(max = 200))]
    pub branch: String,
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
    /// A unique name (`[a-z0-9][a-z0-9._-]*`, at most 40); empty: made from the title, else the
    /// end of the id.
    #[schemars(length(max = 40), regex(pattern = "^([a-z0-9][a-z0-9._-]*)?$"))]
    pub name: String,
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
    /// Its own git worktree, when its directory is in a repository.
    pub workspace: WorkspaceRequest,
    /// The client's environment for the agent (secret-looking names are dropped).
    #[schemars(extend(
        "maxProperties" = 200,
        "propertyNames" = {"maxLength": 256},
        "additionalProperties" = {"type": "string", "maxLength": 32768}
    ))]
    pub env: std::collections::BTreeMap<String, String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_titles_and_ids() {
        assert_eq!(slug("Refactor the Parser!"), "refactor-the-parser");
        assert_eq!(slug("  --fix #42: CI--"), "fix-42-ci");
        assert_eq!(slug("日本語"), "");
        assert_eq!(slug(&"x".repeat(50)).len(), 32);
        assert_eq!(default_name("ses_06c1q3abcdef"), "abcdef");
        assert!(valid_name("parser-2") && valid_name("a.b_c"));
        for bad in ["", "-x", "Upper", "a b", &"x".repeat(41)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
