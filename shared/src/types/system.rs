//! API keys, health and daemon info.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProviderHealth {
    pub id: String,
    pub available: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
    pub last_seq: u64,
    pub providers: Vec<ProviderHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Info {
    pub version: String,
    pub pid: u32,
    pub data_dir: String,
    pub socket: String,
    pub tcp_listen: String,
    pub last_seq: u64,
    pub started_at_ms: i64,
    pub schema_version: u32,
    pub sessions: u64,
    /// When the config was last read (start or reload), and what that reload refused or
    /// changed (`daemon`, `terminal`, `providers.ID`).
    pub config_loaded_at_ms: i64,
    pub config_error: String,
    pub config_changed: Vec<String>,
    /// Worktrees agentmux owns and the disk they take, measured in the background (when).
    #[serde(default)]
    pub worktrees: u32,
    #[serde(default)]
    pub worktrees_bytes: u64,
    #[serde(default)]
    pub worktrees_measured_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}
