//! The one place where agentmux.v1 messages and domain types are converted.

use crate::error::{Error, Result};
use crate::types::*;
use agentmux_proto::v1 as pb;

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

fn session_status(v: i32) -> SessionStatus {
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

fn role(v: i32) -> Role {
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

fn message_status(v: i32) -> MessageStatus {
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
        }
    }
}

impl From<pb::Session> for Session {
    fn from(s: pb::Session) -> Self {
        Session {
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
        }
    }
}

impl From<pb::Message> for Message {
    fn from(m: pb::Message) -> Self {
        Message {
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
            tools: m.tools.into_iter().map(Into::into).collect(),
            changes: m
                .changes
                .into_iter()
                .map(|c| FileChange {
                    path: c.path,
                    diff: c.diff,
                })
                .collect(),
            plan: m.plan.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ToolCall> for pb::ToolCall {
    fn from(t: ToolCall) -> Self {
        pb::ToolCall {
            id: t.id,
            name: t.name,
            input_json: t.input_json,
            status: t.status,
            output: t.output,
        }
    }
}

impl From<pb::ToolCall> for ToolCall {
    fn from(t: pb::ToolCall) -> Self {
        ToolCall {
            id: t.id,
            name: t.name,
            input_json: t.input_json,
            status: t.status,
            output: t.output,
        }
    }
}

impl From<PlanEntry> for pb::PlanEntry {
    fn from(e: PlanEntry) -> Self {
        pb::PlanEntry {
            content: e.content,
            status: e.status,
            priority: e.priority,
        }
    }
}

impl From<pb::PlanEntry> for PlanEntry {
    fn from(e: pb::PlanEntry) -> Self {
        PlanEntry {
            content: e.content,
            status: e.status,
            priority: e.priority,
        }
    }
}

fn missing(what: &str) -> Error {
    Error::invalid(format!("event is missing its {what}"))
}

impl From<Event> for pb::Event {
    fn from(e: Event) -> Self {
        use pb::event::Payload as P;
        let payload = match e.payload {
            EventPayload::SessionCreated { session } => P::SessionCreated(pb::SessionCreated {
                session: Some(session.into()),
            }),
            EventPayload::SessionUpdated { session } => P::SessionUpdated(pb::SessionUpdated {
                session: Some(session.into()),
            }),
            EventPayload::SessionDeleted { id } => P::SessionDeleted(pb::SessionDeleted { id }),
            EventPayload::SessionReset { session } => P::SessionReset(pb::SessionReset {
                session: Some(session.into()),
            }),
            EventPayload::MessageCreated { message } => P::MessageCreated(pb::MessageCreated {
                message: Some(message.into()),
            }),
            EventPayload::MessageDelta { message_id, text } => {
                P::MessageDelta(pb::MessageDelta { message_id, text })
            }
            EventPayload::ReasoningDelta { message_id, text } => {
                P::ReasoningDelta(pb::ReasoningDelta { message_id, text })
            }
            EventPayload::MessageCompleted { message } => {
                P::MessageCompleted(pb::MessageCompleted {
                    message: Some(message.into()),
                })
            }
            EventPayload::TurnStarted {
                user_message_id,
                assistant_message_id,
            } => P::TurnStarted(pb::TurnStarted {
                user_message_id,
                assistant_message_id,
            }),
            EventPayload::TurnFinished(t) => P::TurnFinished(pb::TurnFinished {
                user_message_id: t.user_message_id,
                assistant_message_id: t.assistant_message_id,
                status: pb::MessageStatus::from(t.status) as i32,
                stop_reason: t.stop_reason,
                error: t.error,
                usage: Some(t.usage.into()),
                cost_usd: t.cost_usd,
            }),
            EventPayload::Warning { message } => P::Warning(pb::Warning { message }),
            EventPayload::TerminalCreated { terminal } => P::TerminalCreated(pb::TerminalCreated {
                terminal: Some(terminal.into()),
            }),
            EventPayload::TerminalUpdated { terminal } => P::TerminalUpdated(pb::TerminalUpdated {
                terminal: Some(terminal.into()),
            }),
            EventPayload::TerminalRemoved { id } => P::TerminalRemoved(pb::TerminalRemoved { id }),
            EventPayload::ApprovalRequested { approval } => {
                P::ApprovalRequested(pb::ApprovalRequested {
                    approval: Some(approval.into()),
                })
            }
            EventPayload::ApprovalResolved { approval } => {
                P::ApprovalResolved(pb::ApprovalResolved {
                    approval: Some(approval.into()),
                })
            }
            EventPayload::ToolCall(t) => P::ToolCall(t.into()),
            EventPayload::FileChanged { path, diff } => {
                P::FileChanged(pb::FileChanged { path, diff })
            }
            EventPayload::PlanUpdated { entries } => P::PlanUpdated(pb::PlanUpdated {
                entries: entries.into_iter().map(Into::into).collect(),
            }),
            EventPayload::ProviderInstall { job, lines } => {
                P::ProviderInstall(pb::ProviderInstall {
                    job: Some(job.into()),
                    lines,
                })
            }
        };
        pb::Event {
            seq: e.seq,
            ts_ms: e.ts_ms,
            session_id: e.session_id,
            payload: Some(payload),
        }
    }
}

impl TryFrom<pb::Event> for Event {
    type Error = Error;

    fn try_from(e: pb::Event) -> Result<Self> {
        use pb::event::Payload as P;
        let payload = match e.payload.ok_or_else(|| missing("payload"))? {
            P::SessionCreated(p) => EventPayload::SessionCreated {
                session: p.session.ok_or_else(|| missing("session"))?.into(),
            },
            P::SessionUpdated(p) => EventPayload::SessionUpdated {
                session: p.session.ok_or_else(|| missing("session"))?.into(),
            },
            P::SessionDeleted(p) => EventPayload::SessionDeleted { id: p.id },
            P::SessionReset(p) => EventPayload::SessionReset {
                session: p.session.ok_or_else(|| missing("session"))?.into(),
            },
            P::MessageCreated(p) => EventPayload::MessageCreated {
                message: p.message.ok_or_else(|| missing("message"))?.into(),
            },
            P::MessageDelta(p) => EventPayload::MessageDelta {
                message_id: p.message_id,
                text: p.text,
            },
            P::ReasoningDelta(p) => EventPayload::ReasoningDelta {
                message_id: p.message_id,
                text: p.text,
            },
            P::MessageCompleted(p) => EventPayload::MessageCompleted {
                message: p.message.ok_or_else(|| missing("message"))?.into(),
            },
            P::TurnStarted(p) => EventPayload::TurnStarted {
                user_message_id: p.user_message_id,
                assistant_message_id: p.assistant_message_id,
            },
            P::TurnFinished(p) => EventPayload::TurnFinished(TurnFinished {
                user_message_id: p.user_message_id,
                assistant_message_id: p.assistant_message_id,
                status: message_status(p.status),
                stop_reason: p.stop_reason,
                error: p.error,
                usage: p.usage.map(Usage::from).unwrap_or_default(),
                cost_usd: p.cost_usd,
            }),
            P::Warning(p) => EventPayload::Warning { message: p.message },
            P::TerminalCreated(p) => EventPayload::TerminalCreated {
                terminal: p.terminal.ok_or_else(|| missing("terminal"))?.into(),
            },
            P::TerminalUpdated(p) => EventPayload::TerminalUpdated {
                terminal: p.terminal.ok_or_else(|| missing("terminal"))?.into(),
            },
            P::TerminalRemoved(p) => EventPayload::TerminalRemoved { id: p.id },
            P::ApprovalRequested(p) => EventPayload::ApprovalRequested {
                approval: p.approval.ok_or_else(|| missing("approval"))?.into(),
            },
            P::ApprovalResolved(p) => EventPayload::ApprovalResolved {
                approval: p.approval.ok_or_else(|| missing("approval"))?.into(),
            },
            P::ToolCall(t) => EventPayload::ToolCall(t.into()),
            P::FileChanged(p) => EventPayload::FileChanged {
                path: p.path,
                diff: p.diff,
            },
            P::PlanUpdated(p) => EventPayload::PlanUpdated {
                entries: p.entries.into_iter().map(Into::into).collect(),
            },
            P::ProviderInstall(p) => EventPayload::ProviderInstall {
                job: p.job.ok_or_else(|| missing("job"))?.into(),
                lines: p.lines,
            },
        };
        Ok(Event {
            seq: e.seq,
            ts_ms: e.ts_ms,
            session_id: e.session_id,
            payload,
        })
    }
}

impl From<ApiKey> for pb::ApiKey {
    fn from(k: ApiKey) -> Self {
        pb::ApiKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

impl From<pb::ApiKey> for ApiKey {
    fn from(k: pb::ApiKey) -> Self {
        ApiKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

impl From<StreamItem> for pb::SubscribeResponse {
    fn from(item: StreamItem) -> Self {
        use pb::subscribe_response::Item;
        let item = match item {
            StreamItem::Event(e) => Item::Event(pb::Event::from((*e).clone())),
            StreamItem::Heartbeat { last_seq } => Item::Heartbeat(pb::Heartbeat { last_seq }),
            StreamItem::Lagged { resume_after_seq } => {
                Item::Lagged(pb::Lagged { resume_after_seq })
            }
        };
        pb::SubscribeResponse { item: Some(item) }
    }
}

impl From<Health> for pb::HealthResponse {
    fn from(h: Health) -> Self {
        pb::HealthResponse {
            status: h.status,
            last_seq: h.last_seq,
            providers: h
                .providers
                .into_iter()
                .map(|p| pb::ProviderHealth {
                    id: p.id,
                    available: p.available,
                    detail: p.detail,
                })
                .collect(),
        }
    }
}

impl From<Info> for pb::InfoResponse {
    fn from(i: Info) -> Self {
        pb::InfoResponse {
            version: i.version,
            pid: i.pid,
            data_dir: i.data_dir,
            socket: i.socket,
            tcp_listen: i.tcp_listen,
            last_seq: i.last_seq,
            started_at_ms: i.started_at_ms,
            schema_version: i.schema_version,
            sessions: i.sessions,
        }
    }
}

impl From<pb::InfoResponse> for Info {
    fn from(i: pb::InfoResponse) -> Self {
        Info {
            version: i.version,
            pid: i.pid,
            data_dir: i.data_dir,
            socket: i.socket,
            tcp_listen: i.tcp_listen,
            last_seq: i.last_seq,
            started_at_ms: i.started_at_ms,
            schema_version: i.schema_version,
            sessions: i.sessions,
        }
    }
}

impl From<pb::CreateSessionRequest> for CreateSession {
    fn from(r: pb::CreateSessionRequest) -> Self {
        CreateSession {
            title: r.title,
            provider: r.provider,
            model: r.model,
            cwd: r.cwd,
            approval_policy: r.approval_policy,
            approval_timeout_secs: r.approval_timeout_secs,
        }
    }
}

impl From<Approval> for pb::Approval {
    fn from(a: Approval) -> Self {
        pb::Approval {
            id: a.id,
            session_id: a.session_id,
            tool: a.tool,
            input_json: a.input_json,
            summary: a.summary,
            diff: a.diff,
            options: a.options,
            status: a.status.as_str().into(),
            decision: a.decision,
            message: a.message,
            reason: a.reason,
            created_at_ms: a.created_at_ms,
            resolved_at_ms: a.resolved_at_ms,
        }
    }
}

impl From<pb::Approval> for Approval {
    fn from(a: pb::Approval) -> Self {
        Approval {
            id: a.id,
            session_id: a.session_id,
            tool: a.tool,
            input_json: a.input_json,
            summary: a.summary,
            diff: a.diff,
            options: a.options,
            status: ApprovalStatus::parse(&a.status),
            decision: a.decision,
            message: a.message,
            reason: a.reason,
            created_at_ms: a.created_at_ms,
            resolved_at_ms: a.resolved_at_ms,
        }
    }
}

impl From<Terminal> for pb::Terminal {
    fn from(t: Terminal) -> Self {
        pb::Terminal {
            id: t.id,
            name: t.name,
            command: t.command,
            args: t.args,
            env: t.env.into_iter().collect(),
            cwd: t.cwd,
            rows: t.rows,
            cols: t.cols,
            status: match t.status {
                TerminalStatus::Running => pb::TerminalStatus::Running,
                TerminalStatus::Exited => pb::TerminalStatus::Exited,
            } as i32,
            exit_code: t.exit_code,
            exit_signal: t.exit_signal,
            pid: t.pid,
            clients: t.clients,
            preset: t.preset,
            provider_session_id: t.provider_session_id,
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            exited_at_ms: t.exited_at_ms,
            exit_reason: t.exit_reason,
        }
    }
}

impl From<pb::Terminal> for Terminal {
    fn from(t: pb::Terminal) -> Self {
        Terminal {
            id: t.id,
            name: t.name,
            command: t.command,
            args: t.args,
            env: t.env.into_iter().collect(),
            cwd: t.cwd,
            rows: t.rows,
            cols: t.cols,
            status: match pb::TerminalStatus::try_from(t.status) {
                Ok(pb::TerminalStatus::Exited) => TerminalStatus::Exited,
                Ok(pb::TerminalStatus::Running | pb::TerminalStatus::Unspecified) | Err(_) => {
                    TerminalStatus::Running
                }
            },
            exit_code: t.exit_code,
            exit_signal: t.exit_signal,
            pid: t.pid,
            clients: t.clients,
            preset: t.preset,
            provider_session_id: t.provider_session_id,
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            exited_at_ms: t.exited_at_ms,
            exit_reason: t.exit_reason,
        }
    }
}

impl From<pb::CreateTerminalRequest> for CreateTerminal {
    fn from(r: pb::CreateTerminalRequest) -> Self {
        CreateTerminal {
            name: r.name,
            command: r.command,
            args: r.args,
            env: r.env.into_iter().collect(),
            cwd: r.cwd,
            rows: r.rows,
            cols: r.cols,
            preset: r.preset,
        }
    }
}

impl From<ProviderInfo> for pb::ProviderInfo {
    fn from(p: ProviderInfo) -> Self {
        pb::ProviderInfo {
            id: p.id,
            kind: p.kind.as_str().into(),
            protocol: p.protocol,
            registered: p.registered,
            available: p.available,
            detail: p.detail,
            installed: p.installed,
            command: p.command,
            path: p.path,
            source: p.source,
            version: p.version,
            version_error: p.version_error,
            credentials_status: p.credentials_status.as_str().into(),
            credentials: p.credentials,
            npm_package: p.npm_package,
            install_hint: p.install_hint,
            base_url: p.base_url,
            model: p.model,
        }
    }
}

impl From<pb::ProviderInfo> for ProviderInfo {
    fn from(p: pb::ProviderInfo) -> Self {
        ProviderInfo {
            id: p.id,
            kind: ProviderKind::parse(&p.kind),
            protocol: p.protocol,
            registered: p.registered,
            available: p.available,
            detail: p.detail,
            installed: p.installed,
            command: p.command,
            path: p.path,
            source: p.source,
            version: p.version,
            version_error: p.version_error,
            credentials_status: CredentialsStatus::parse(&p.credentials_status),
            credentials: p.credentials,
            npm_package: p.npm_package,
            install_hint: p.install_hint,
            base_url: p.base_url,
            model: p.model,
        }
    }
}

impl From<InstallState> for pb::InstallState {
    fn from(s: InstallState) -> Self {
        match s {
            InstallState::Queued => pb::InstallState::Queued,
            InstallState::Running => pb::InstallState::Running,
            InstallState::Succeeded => pb::InstallState::Succeeded,
            InstallState::Failed => pb::InstallState::Failed,
            InstallState::Interrupted => pb::InstallState::Interrupted,
        }
    }
}

fn install_state(v: i32) -> InstallState {
    match pb::InstallState::try_from(v) {
        Ok(pb::InstallState::Running) => InstallState::Running,
        Ok(pb::InstallState::Succeeded) => InstallState::Succeeded,
        Ok(pb::InstallState::Failed) => InstallState::Failed,
        Ok(pb::InstallState::Interrupted) => InstallState::Interrupted,
        Ok(pb::InstallState::Queued | pb::InstallState::Unspecified) | Err(_) => {
            InstallState::Queued
        }
    }
}

impl From<InstallJob> for pb::InstallJob {
    fn from(j: InstallJob) -> Self {
        pb::InstallJob {
            id: j.id,
            provider: j.provider,
            package: j.package,
            state: pb::InstallState::from(j.state) as i32,
            created_at_ms: j.created_at_ms,
            started_at_ms: j.started_at_ms,
            finished_at_ms: j.finished_at_ms,
            exit_code: j.exit_code,
            error: j.error,
            output_tail: j.output_tail,
            output_lines: j.output_lines,
            prefix: j.prefix,
            path: j.path,
            version: j.version,
            pid: j.pid,
        }
    }
}

impl From<pb::InstallJob> for InstallJob {
    fn from(j: pb::InstallJob) -> Self {
        InstallJob {
            id: j.id,
            provider: j.provider,
            package: j.package,
            state: install_state(j.state),
            created_at_ms: j.created_at_ms,
            started_at_ms: j.started_at_ms,
            finished_at_ms: j.finished_at_ms,
            exit_code: j.exit_code,
            error: j.error,
            output_tail: j.output_tail,
            output_lines: j.output_lines,
            prefix: j.prefix,
            path: j.path,
            version: j.version,
            pid: j.pid,
        }
    }
}
