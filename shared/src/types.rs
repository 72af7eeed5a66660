//! Domain types shared by the daemon, the client and the transports; JSON mirrors agentmux.v1.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    #[default]
    Pending,
    Allowed,
    Denied,
    Cancelled,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Allowed => "allowed",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Cancelled => "cancelled",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> ApprovalStatus {
        match s {
            "allowed" => ApprovalStatus::Allowed,
            "denied" => ApprovalStatus::Denied,
            "cancelled" => ApprovalStatus::Cancelled,
            "expired" => ApprovalStatus::Expired,
            _ => ApprovalStatus::Pending,
        }
    }
}

/// What a person (or the policy) answered to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    AllowOnce,
    AllowAlways,
    Deny,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::AllowOnce, Decision::AllowAlways, Decision::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::AllowOnce => "allow_once",
            Decision::AllowAlways => "allow_always",
            Decision::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> crate::Result<Decision> {
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str() == s.trim())
            .ok_or_else(|| {
                crate::Error::invalid(format!(
                    "decision {s:?} is not one of allow_once, allow_always, deny"
                ))
            })
    }
}

/// A provider's request to run a tool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Approval {
    pub id: String,
    pub session_id: String,
    pub tool: String,
    /// The tool input as JSON text.
    pub input_json: String,
    pub summary: String,
    /// A unified diff when the tool edits a file.
    pub diff: String,
    /// `allow_once`, `allow_always`, `deny`.
    pub options: Vec<String>,
    pub status: ApprovalStatus,
    /// The option chosen, empty while pending.
    pub decision: String,
    pub message: String,
    /// How it ended: `decided`, `policy`, `turn_cancelled`, `turn_ended`, `session_deleted`,
    /// `daemon_restarted`, `timed_out`.
    pub reason: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: i64,
}

/// `DecideApproval` / `POST /v1/approvals/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DecideApproval {
    pub decision: String,
    pub message: String,
}

/// A tool call's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input_json: String,
    /// `started`, `finished`, `failed`.
    pub status: String,
    pub output: String,
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
}

/// One step of an agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PlanEntry {
    pub content: String,
    /// `pending`, `in_progress`, `completed`.
    pub status: String,
    /// `high`, `medium`, `low`, or empty when the agent gives none.
    pub priority: String,
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
}

// ---- requests, shared by gRPC and REST so validation lives once

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CreateSession {
    pub title: String,
    pub provider: String,
    pub model: String,
    pub cwd: String,
    /// `ask` (default), `auto-edit`, `never-ask`.
    pub approval_policy: String,
    /// Pending approvals expire (denied) after this many seconds; 0 (default): never.
    pub approval_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
    pub last_seq: u64,
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CancelResult {
    pub id: String,
    pub cancelled_turn: bool,
    pub dropped_queued: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

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

// ---- providers: the registry and install jobs

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
    pub version: String,
}
