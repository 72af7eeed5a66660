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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CreateTerminal {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: std::collections::BTreeMap<String, String>,
    pub cwd: String,
    pub rows: u32,
    pub cols: u32,
    pub preset: String,
}
