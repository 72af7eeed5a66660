//! Providers as the registry sees them, and npm install jobs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// A coding-agent CLI the daemon runs.
    #[default]
    Cli,
    /// A model API the daemon calls itself.
    Http,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Cli => "cli",
            ProviderKind::Http => "http",
        }
    }

    pub fn parse(s: &str) -> ProviderKind {
        match s {
            "http" => ProviderKind::Http,
            _ => ProviderKind::Cli,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialsStatus {
    Found,
    #[default]
    Missing,
    /// agentmux cannot tell (an agent it knows nothing about).
    Unknown,
    /// A local model server that takes no key.
    NotNeeded,
}

impl CredentialsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsStatus::Found => "found",
            CredentialsStatus::Missing => "missing",
            CredentialsStatus::Unknown => "unknown",
            CredentialsStatus::NotNeeded => "not_needed",
        }
    }

    pub fn parse(s: &str) -> CredentialsStatus {
        match s {
            "found" => CredentialsStatus::Found,
            "unknown" => CredentialsStatus::Unknown,
            "not_needed" => CredentialsStatus::NotNeeded,
            _ => CredentialsStatus::Missing,
        }
    }
}

/// One provider as the registry sees it: installed or not, version, credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProviderInfo {
    pub id: String,
    pub kind: ProviderKind,
    /// `claude-stream-json`, `codex-app-server`, `acp`, `openai-chat`.
    pub protocol: String,
    /// Sessions can use it in this daemon.
    pub registered: bool,
    /// The adapter's own readiness, as in `Health`.
    pub available: bool,
    pub detail: String,
    pub installed: bool,
    /// The configured command, or the CLI's usual name.
    pub command: String,
    /// The resolved executable.
    pub path: String,
    /// `config`, `managed` (the daemon's npm prefix) or `path`; empty when not installed.
    pub source: String,
    pub version: String,
    pub version_error: String,
    pub credentials_status: CredentialsStatus,
    /// Where credentials were found (never the secret itself), or how to provide them.
    pub credentials: String,
    /// What an install hands to npm; empty when it cannot be installed.
    pub npm_package: String,
    pub install_hint: String,
    pub base_url: String,
    pub model: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallState {
    /// Waiting for another install to finish.
    #[default]
    Queued,
    Running,
    Succeeded,
    Failed,
    /// The daemon stopped while it ran.
    Interrupted,
}

impl InstallState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallState::Queued => "queued",
            InstallState::Running => "running",
            InstallState::Succeeded => "succeeded",
            InstallState::Failed => "failed",
            InstallState::Interrupted => "interrupted",
        }
    }

    /// The job is over (nothing will change it any more).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            InstallState::Succeeded | InstallState::Failed | InstallState::Interrupted
        )
    }
}

/// An npm install of a provider CLI into the daemon-managed prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct InstallJob {
    pub id: String,
    pub provider: String,
    /// The npm spec installed.
    pub package: String,
    pub state: InstallState,
    pub created_at_ms: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// npm's exit code; -1 when it did not exit on its own.
    pub exit_code: i32,
    pub error: String,
    /// The last output lines (stdout and stderr interleaved as they came).
    pub output_tail: Vec<String>,
    pub output_lines: u64,
    pub prefix: String,
    /// After success: the installed executable and its version.
    pub path: String,
    pub version: String,
    /// npm's pid while it runs.
    pub pid: u32,
}

/// `InstallProvider` / `POST /v1/providers/{id}/install`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct InstallProvider {
    /// An npm version or tag; empty: the configured `npm_package`, else the latest.
    #[schemars(regex(pattern = r"^([A-Za-z0-9.+_^~*<>=][A-Za-z0-9.+_^~*<>=-]{0,99})?$"))]
    pub version: String,
}
