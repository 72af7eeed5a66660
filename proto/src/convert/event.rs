//! Events of the durable log and the items of a subscription.

use super::session::message_status;
use crate::v1 as pb;
use agentmux_shared::error::{Error, Result};
use agentmux_shared::types::*;

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
            EventPayload::WorkspaceChanged {
                reason,
                paths,
                truncated,
            } => P::WorkspaceChanged(pb::WorkspaceChanged {
                reason,
                paths,
                truncated,
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
                message: p.message.ok_or_else(|| missing("message"))?.try_into()?,
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
                message: p.message.ok_or_else(|| missing("message"))?.try_into()?,
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
                approval: p.approval.ok_or_else(|| missing("approval"))?.try_into()?,
            },
            P::ApprovalResolved(p) => EventPayload::ApprovalResolved {
                approval: p.approval.ok_or_else(|| missing("approval"))?.try_into()?,
            },
            P::ToolCall(t) => EventPayload::ToolCall(t.try_into()?),
            P::FileChanged(p) => EventPayload::FileChanged {
                path: p.path,
                diff: p.diff,
            },
            P::PlanUpdated(p) => EventPayload::PlanUpdated {
                entries: p
                    .entries
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Result<_>>()?,
            },
            P::WorkspaceChanged(p) => EventPayload::WorkspaceChanged {
                reason: p.reason,
                paths: p.paths,
                truncated: p.truncated,
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
