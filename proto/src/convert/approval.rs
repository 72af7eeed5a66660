//! Approvals. Records written before the enum fields carry their status, decision and
//! reason as text in the `legacy_*` fields; they are read from there.

use super::known;
use crate::v1 as pb;
use agentmux_shared::error::{Error, Result};
use agentmux_shared::types::*;

impl From<ApprovalStatus> for pb::ApprovalStatus {
    fn from(s: ApprovalStatus) -> Self {
        match s {
            ApprovalStatus::Pending => pb::ApprovalStatus::Pending,
            ApprovalStatus::Allowed => pb::ApprovalStatus::Allowed,
            ApprovalStatus::Denied => pb::ApprovalStatus::Denied,
            ApprovalStatus::Cancelled => pb::ApprovalStatus::Cancelled,
            ApprovalStatus::Expired => pb::ApprovalStatus::Expired,
        }
    }
}

impl From<Decision> for pb::Decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::AllowOnce => pb::Decision::AllowOnce,
            Decision::AllowAlways => pb::Decision::AllowAlways,
            Decision::Deny => pb::Decision::Deny,
        }
    }
}

impl From<ApprovalReason> for pb::ApprovalReason {
    fn from(r: ApprovalReason) -> Self {
        match r {
            ApprovalReason::Decided => pb::ApprovalReason::Decided,
            ApprovalReason::Policy => pb::ApprovalReason::Policy,
            ApprovalReason::TimedOut => pb::ApprovalReason::TimedOut,
            ApprovalReason::TurnCancelled => pb::ApprovalReason::TurnCancelled,
            ApprovalReason::TurnEnded => pb::ApprovalReason::TurnEnded,
            ApprovalReason::SessionDeleted => pb::ApprovalReason::SessionDeleted,
            ApprovalReason::DaemonRestarted => pb::ApprovalReason::DaemonRestarted,
            ApprovalReason::Rule => pb::ApprovalReason::Rule,
            ApprovalReason::CliAllowed => pb::ApprovalReason::CliAllowed,
        }
    }
}

impl From<ApprovalKind> for pb::ApprovalKind {
    fn from(k: ApprovalKind) -> Self {
        match k {
            ApprovalKind::ToolCall => pb::ApprovalKind::ToolCall,
        }
    }
}

fn decision(v: i32, legacy: &str) -> Result<Option<Decision>> {
    Ok(match known::<pb::Decision>("decision", v)? {
        Some(pb::Decision::AllowOnce) => Some(Decision::AllowOnce),
        Some(pb::Decision::AllowAlways) => Some(Decision::AllowAlways),
        Some(pb::Decision::Deny) => Some(Decision::Deny),
        Some(pb::Decision::Unspecified) | None if legacy.is_empty() => None,
        Some(pb::Decision::Unspecified) | None => Some(Decision::parse(legacy)?),
    })
}

fn status(v: i32, legacy: &str) -> Result<ApprovalStatus> {
    Ok(match known::<pb::ApprovalStatus>("approval status", v)? {
        Some(pb::ApprovalStatus::Pending) => ApprovalStatus::Pending,
        Some(pb::ApprovalStatus::Allowed) => ApprovalStatus::Allowed,
        Some(pb::ApprovalStatus::Denied) => ApprovalStatus::Denied,
        Some(pb::ApprovalStatus::Cancelled) => ApprovalStatus::Cancelled,
        Some(pb::ApprovalStatus::Expired) => ApprovalStatus::Expired,
        Some(pb::ApprovalStatus::Unspecified) | None => ApprovalStatus::parse(legacy)?,
    })
}

fn reason(v: i32, legacy: &str) -> Result<Option<ApprovalReason>> {
    Ok(match known::<pb::ApprovalReason>("approval reason", v)? {
        Some(pb::ApprovalReason::Decided) => Some(ApprovalReason::Decided),
        Some(pb::ApprovalReason::Policy) => Some(ApprovalReason::Policy),
        Some(pb::ApprovalReason::TimedOut) => Some(ApprovalReason::TimedOut),
        Some(pb::ApprovalReason::TurnCancelled) => Some(ApprovalReason::TurnCancelled),
        Some(pb::ApprovalReason::TurnEnded) => Some(ApprovalReason::TurnEnded),
        Some(pb::ApprovalReason::SessionDeleted) => Some(ApprovalReason::SessionDeleted),
        Some(pb::ApprovalReason::DaemonRestarted) => Some(ApprovalReason::DaemonRestarted),
        Some(pb::ApprovalReason::Rule) => Some(ApprovalReason::Rule),
        Some(pb::ApprovalReason::CliAllowed) => Some(ApprovalReason::CliAllowed),
        Some(pb::ApprovalReason::Unspecified) | None if legacy.is_empty() => None,
        Some(pb::ApprovalReason::Unspecified) | None => Some(ApprovalReason::parse(legacy)?),
    })
}

fn kind(v: i32) -> Result<ApprovalKind> {
    Ok(match known::<pb::ApprovalKind>("approval kind", v)? {
        // Before kinds existed every approval was a tool call.
        Some(pb::ApprovalKind::ToolCall | pb::ApprovalKind::Unspecified) | None => {
            ApprovalKind::ToolCall
        }
    })
}

impl From<Approval> for pb::Approval {
    fn from(a: Approval) -> Self {
        let enum_of = |d: Decision| pb::Decision::from(d) as i32;
        pb::Approval {
            id: a.id,
            session_id: a.session_id,
            kind: pb::ApprovalKind::from(a.kind) as i32,
            tool: a.tool,
            input_json: a.input_json,
            summary: a.summary,
            diff: a.diff,
            options: a.options,
            status: pb::ApprovalStatus::from(a.status) as i32,
            decision: a.decision.map(enum_of).unwrap_or_default(),
            message: a.message,
            reason: a
                .reason
                .map(|r| pb::ApprovalReason::from(r) as i32)
                .unwrap_or_default(),
            created_at_ms: a.created_at_ms,
            resolved_at_ms: a.resolved_at_ms,
            // Also as text, for peers that predate the enums.
            legacy_status: a.status.as_str().into(),
            legacy_decision: a.decision.map(|d| d.as_str().into()).unwrap_or_default(),
            legacy_reason: a.reason.map(|r| r.as_str().into()).unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::Approval> for Approval {
    type Error = Error;

    fn try_from(a: pb::Approval) -> Result<Self> {
        Ok(Approval {
            kind: kind(a.kind)?,
            options: a.options,
            status: status(a.status, &a.legacy_status)?,
            decision: decision(a.decision, &a.legacy_decision)?,
            reason: reason(a.reason, &a.legacy_reason)?,
            id: a.id,
            session_id: a.session_id,
            tool: a.tool,
            input_json: a.input_json,
            summary: a.summary,
            diff: a.diff,
            message: a.message,
            created_at_ms: a.created_at_ms,
            resolved_at_ms: a.resolved_at_ms,
        })
    }
}

impl TryFrom<pb::DecideApprovalRequest> for DecideApproval {
    type Error = Error;

    fn try_from(r: pb::DecideApprovalRequest) -> Result<Self> {
        Ok(DecideApproval {
            decision: decision(r.decision, &r.legacy_decision)?
                .ok_or_else(|| Error::invalid("decision is required"))?,
            message: r.message,
        })
    }
}
