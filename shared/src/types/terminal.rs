//! Terminals: programs in daemon-owned PTYs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStatus {
    #[default]
    Running,
    Exited,
}

impl TerminalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalStatus::Running => "running",
            TerminalStatus::Exited => "exited",
        }
    }
}

/// A program in a daemon-owned PTY.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Terminal {
    pub id: String,
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: std::collections::BTreeMap<String, String>,
    pub cwd: String,
    pub rows: u32,
    pub cols: u32,
    pub status: TerminalStatus,
    pub exit_code: i32,
    pub exit_signal: String,
    pub pid: u32,
    pub clients: u32,
    pub preset: String,
    pub provider_session_id: String,
    pub created_at_ms: i64,
    pub started_at_ms: i64,
    pub exited_at_ms: i64,
    pub exit_reason: String,
}

/// What a masked environment value reads as.
pub const REDACTED: &str = "<redacted>";

/// An environment variable whose value is likely a credential, by its name.
/// Whether a client's variable may travel into a session's environment: not one that looks
/// like a secret (those belong in the daemon's config), except the sockets and files that only
/// point at one (`SSH_AUTH_SOCK`, `XAUTHORITY`).
pub fn passable_env(name: &str) -> bool {
    // What changes how programs load or where an agent sends its key is the daemon's to set.
    let steers = name.starts_with("LD_")
        || name.starts_with("DYLD_")
        || name.ends_with("_BASE_URL")
        || matches!(name, "NODE_OPTIONS" | "BASH_ENV" | "ENV" | "PROMPT_COMMAND");
    !name.is_empty()
        && !name.contains('=')
        && !steers
        && (!looks_secret(name) || name.ends_with("_SOCK") || name == "XAUTHORITY")
}

/// Whether a passable variable's value may be kept: a proxy with credentials in it is a
/// secret too.
pub fn passable_value(name: &str, value: &str) -> bool {
    let proxy_login = name.to_ascii_lowercase().ends_with("_proxy") && value.contains('@');
    !value.contains('\0') && !proxy_login
}

pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
    ]
    .iter()
    .any(|w| n.contains(w))
}

impl Terminal {
    /// The record as clients see it: values of credential-looking variables are masked (the
    /// program still gets them; the daemon keeps them to restart it).
    pub fn redacted(mut self) -> Terminal {
        for (k, v) in self.env.iter_mut() {
            if looks_secret(k) && !v.is_empty() {
                *v = REDACTED.to_string();
            }
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
/// A command or a preset is needed; a session or a cwd, not both.
#[schemars(extend("anyOf" = [
    {"required": ["command"], "properties": {"command": {"pattern": "\\S"}}},
    {"required": ["preset"], "properties": {"preset": {"pattern": "\\S"}}}
]))]
#[schemars(extend("not" = {
    "required": ["session", "cwd"],
    "properties": {"session": {"pattern": "\\S"}, "cwd": {"pattern": "\\S"}}
}))]
#[serde(default)]
pub struct CreateTerminal {
    #[schemars(length(max = 64), regex(pattern = r"^[^/\x00-\x1f\x7f-\x9f]*$"))]
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: std::collections::BTreeMap<String, String>,
    /// An absolute path (an existing directory under the allowed roots); empty: the default.
    #[schemars(regex(pattern = "^(/.*)?$"))]
    pub cwd: String,
    #[schemars(range(max = 1000))]
    pub rows: u32,
    #[schemars(range(max = 1000))]
    pub cols: u32,
    pub preset: String,
    /// Start where this session works (its worktree, when it has one) instead of `cwd`.
    #[schemars(length(max = 200))]
    pub session: String,
}
