//! Sessions, messages and what a message carries (tool calls, plan entries, usage).

use super::known;
use crate::v1 as pb;
use agentmux_shared::error::{Error, Result};
use agentmux_shared::types::*;

impl From<SessionStatus> for pb::SessionStatus {
    fn from(s: SessionStatus) -> Self {
        match s {
            SessionStatus::Idle => pb::SessionStatus::Idle,
            SessionStatus::Busy => pb::SessionStatus::Busy,
            SessionStatus::Interrupted => pb::SessionStatus::Interrupted,
            SessionStatus::Failed => pb::SessionStatus::Failed,
        }
    }
}

pub(crate) fn session_status(v: i32) -> SessionStatus {
    match pb::SessionStatus::try_from(v) {
        Ok(pb::SessionStatus::Busy) => SessionStatus::Busy,
        Ok(pb::SessionStatus::Interrupted) => SessionStatus::Interrupted,
        Ok(pb::SessionStatus::Failed) => SessionStatus::Failed,
        Ok(pb::SessionStatus::Idle | pb::SessionStatus::Unspecified) | Err(_) => {
            SessionStatus::Idle
        }
    }
}

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::User => pb::Role::User,
            Role::Assistant => pb::Role::Assistant,
            Role::System => pb::Role::System,
        }
    }
}

pub(crate) fn role(v: i32) -> Role {
    match pb::Role::try_from(v) {
        Ok(pb::Role::Assistant) => Role::Assistant,
        Ok(pb::Role::System) => Role::System,
        Ok(pb::Role::User | pb::Role::Unspecified) | Err(_) => Role::User,
    }
}

impl From<MessageStatus> for pb::MessageStatus {
    fn from(s: MessageStatus) -> Self {
        match s {
            MessageStatus::Queued => pb::MessageStatus::Queued,
            MessageStatus::Streaming => pb::MessageStatus::Streaming,
            MessageStatus::Complete => pb::MessageStatus::Complete,
            MessageStatus::Cancelled => pb::MessageStatus::Cancelled,
            MessageStatus::Interrupted => pb::MessageStatus::Interrupted,
            MessageStatus::Failed => pb::MessageStatus::Failed,
        }
    }
}

pub(crate) fn message_status(v: i32) -> MessageStatus {
    match pb::MessageStatus::try_from(v) {
        Ok(pb::MessageStatus::Queued) => MessageStatus::Queued,
        Ok(pb::MessageStatus::Streaming) => MessageStatus::Streaming,
        Ok(pb::MessageStatus::Cancelled) => MessageStatus::Cancelled,
        Ok(pb::MessageStatus::Interrupted) => MessageStatus::Interrupted,
        Ok(pb::MessageStatus::Failed) => MessageStatus::Failed,
        Ok(pb::MessageStatus::Complete | pb::MessageStatus::Unspecified) | Err(_) => {
            MessageStatus::Complete
        }
    }
}

impl From<Usage> for pb::Usage {
    fn from(u: Usage) -> Self {
        pb::Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }
}

impl From<pb::Usage> for Usage {
    fn from(u: pb::Usage) -> Self {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }
}

impl From<Session> for pb::Session {
    fn from(s: Session) -> Self {
        pb::Session {
            id: s.id,
            name: s.name,
            title: s.title,
            provider: s.provider,
            model: s.model,
            cwd: s.cwd,
            status: pb::SessionStatus::from(s.status) as i32,
            busy: s.busy,
            queued: s.queued,
            message_count: s.message_count,
            created_at_ms: s.created_at_ms,
            updated_at_ms: s.updated_at_ms,
            forked_from: s.forked_from,
            last_error: s.last_error,
            usage: Some(s.usage.into()),
            provider_session_id: s.provider_session_id,
            approval_policy: s.approval_policy.as_str().into(),
            approval_timeout_secs: s.approval_timeout_secs,
            env: s.env.into_iter().collect(),
            rules: s
                .rules
                .into_iter()
                .map(|r| pb::ApprovalRule {
                    tool: r.tool,
                    created_at_ms: r.created_at_ms,
                })
                .collect(),
            workspace: s.workspace.map(|w| pb::Workspace {
                repo: w.repo,
                path: w.path,
                branch: w.branch,
                base: w.base,
                base_commit: w.base_commit,
                state: w.state,
                start_commit: w.start_commit,
            }),
        }
    }
}

impl From<pb::Session> for Session {
    fn from(s: pb::Session) -> Self {
        Session {
            // Records from before names are called by the end of their id.
            name: if s.name.is_empty() {
                agentmux_shared::types::default_name(&s.id)
            } else {
                s.name
            },
            id: s.id,
            title: s.title,
            provider: s.provider,
            model: s.model,
            cwd: s.cwd,
            status: session_status(s.status),
            busy: s.busy,
            queued: s.queued,
            message_count: s.message_count,
            created_at_ms: s.created_at_ms,
            updated_at_ms: s.updated_at_ms,
            forked_from: s.forked_from,
            last_error: s.last_error,
            usage: s.usage.map(Usage::from).unwrap_or_default(),
            provider_session_id: s.provider_session_id,
            approval_policy: ApprovalPolicy::parse(&s.approval_policy).unwrap_or_default(),
            approval_timeout_secs: s.approval_timeout_secs,
            env: s.env.into_iter().collect(),
            rules: s
                .rules
                .into_iter()
                .map(|r| agentmux_shared::types::ApprovalRule {
                    tool: r.tool,
                    created_at_ms: r.created_at_ms,
                })
                .collect(),
            workspace: s.workspace.map(|w| agentmux_shared::types::Workspace {
                repo: w.repo,
                path: w.path,
                branch: w.branch,
                base: w.base,
                base_commit: w.base_commit,
                state: w.state,
                start_commit: w.start_commit,
            }),
        }
    }
}

impl From<Message> for pb::Message {
    fn from(m: Message) -> Self {
        pb::Message {
            id: m.id,
            session_id: m.session_id,
            index: m.index,
            role: pb::Role::from(m.role) as i32,
            content: m.content,
            status: pb::MessageStatus::from(m.status) as i32,
            model: m.model,
            usage: Some(m.usage.into()),
            created_at_ms: m.created_at_ms,
            completed_at_ms: m.completed_at_ms,
            error: m.error,
            stop_reason: m.stop_reason,
            reply_to: m.reply_to,
            tools: m.tools.into_iter().map(Into::into).collect(),
            changes: m
                .changes
                .into_iter()
                .map(|c| pb::FileChanged {
                    path: c.path,
                    diff: c.diff,
                })
                .collect(),
            plan: m.plan.into_iter().map(Into::into).collect(),
            reasoning: m.reasoning,
        }
    }
}

impl TryFrom<pb::Message> for Message {
    type Error = Error;

    fn try_from(m: pb::Message) -> Result<Self> {
        Ok(Message {
            id: m.id,
            session_id: m.session_id,
            index: m.index,
            role: role(m.role),
            content: m.content,
            status: message_status(m.status),
            model: m.model,
            usage: m.usage.map(Usage::from).unwrap_or_default(),
            created_at_ms: m.created_at_ms,
            completed_at_ms: m.completed_at_ms,
            error: m.error,
            stop_reason: m.stop_reason,
            reply_to: m.reply_to,
            tools: m
                .tools
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
            changes: m
                .changes
                .into_iter()
                .map(|c| FileChange {
                    path: c.path,
                    diff: c.diff,
                })
                .collect(),
            plan: m
                .plan
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
            reasoning: m.reasoning,
        })
    }
}

impl From<ToolCallStatus> for pb::ToolCallStatus {
    fn from(s: ToolCallStatus) -> Self {
        match s {
            ToolCallStatus::Started => pb::ToolCallStatus::Started,
            ToolCallStatus::Updated => pb::ToolCallStatus::Updated,
            ToolCallStatus::Finished => pb::ToolCallStatus::Finished,
            ToolCallStatus::Failed => pb::ToolCallStatus::Failed,
            ToolCallStatus::Denied => pb::ToolCallStatus::Denied,
        }
    }
}

impl From<PlanStatus> for pb::PlanStatus {
    fn from(s: PlanStatus) -> Self {
        match s {
            PlanStatus::Pending => pb::PlanStatus::Pending,
            PlanStatus::InProgress => pb::PlanStatus::InProgress,
            PlanStatus::Completed => pb::PlanStatus::Completed,
        }
    }
}

impl From<ToolCall> for pb::ToolCall {
    fn from(t: ToolCall) -> Self {
        pb::ToolCall {
            id: t.id,
            name: t.name,
            input_json: t.input_json,
            status: pb::ToolCallStatus::from(t.status) as i32,
            output: t.output,
            // Also as text, for peers that predate the enum.
            legacy_status: t.status.as_str().into(),
        }
    }
}

/// A tool call's status as older records wrote it: a known name, else still running.
fn legacy_tool_status(text: &str) -> ToolCallStatus {
    ToolCallStatus::parse(text).unwrap_or(ToolCallStatus::Updated)
}

impl TryFrom<pb::ToolCall> for ToolCall {
    type Error = Error;

    fn try_from(t: pb::ToolCall) -> Result<Self> {
        let status = match known::<pb::ToolCallStatus>("tool call status", t.status)? {
            Some(pb::ToolCallStatus::Started) => ToolCallStatus::Started,
            Some(pb::ToolCallStatus::Updated) => ToolCallStatus::Updated,
            Some(pb::ToolCallStatus::Finished) => ToolCallStatus::Finished,
            Some(pb::ToolCallStatus::Failed) => ToolCallStatus::Failed,
            Some(pb::ToolCallStatus::Denied) => ToolCallStatus::Denied,
            // Older records carry the status as text, some in an agent's own words.
            Some(pb::ToolCallStatus::Unspecified) | None => legacy_tool_status(&t.legacy_status),
        };
        Ok(ToolCall {
            id: t.id,
            name: t.name,
            input_json: t.input_json,
            status,
            output: t.output,
        })
    }
}

impl From<PlanEntry> for pb::PlanEntry {
    fn from(e: PlanEntry) -> Self {
        pb::PlanEntry {
            content: e.content,
            status: pb::PlanStatus::from(e.status) as i32,
            priority: e.priority,
            legacy_status: e.status.as_str().into(),
        }
    }
}

impl TryFrom<pb::PlanEntry> for PlanEntry {
    type Error = Error;

    fn try_from(e: pb::PlanEntry) -> Result<Self> {
        let status = match known::<pb::PlanStatus>("plan status", e.status)? {
            Some(pb::PlanStatus::Pending) => PlanStatus::Pending,
            Some(pb::PlanStatus::InProgress) => PlanStatus::InProgress,
            Some(pb::PlanStatus::Completed) => PlanStatus::Completed,
            Some(pb::PlanStatus::Unspecified) | None => PlanStatus::from_agent(&e.legacy_status),
        };
        Ok(PlanEntry {
            content: e.content,
            status,
            priority: e.priority,
        })
    }
}

impl From<pb::CreateSessionRequest> for CreateSession {
    fn from(r: pb::CreateSessionRequest) -> Self {
        CreateSession {
            title: r.title,
            name: r.name,
            provider: r.provider,
            model: r.model,
            cwd: r.cwd,
            approval_policy: r.approval_policy,
            approval_timeout_secs: r.approval_timeout_secs,
            env: r.env.into_iter().collect(),
            workspace: r
                .workspace
                .map(|w| agentmux_shared::types::WorkspaceRequest {
                    mode: w.mode,
                    base: w.base,
                    branch: w.branch,
                })
                .unwrap_or_default(),
        }
    }
}
