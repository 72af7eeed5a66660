//! Approvals, all of their life in one place: raised by a turn (answered at once by the
//! session's policy, or persisted and kept waiting), listed, decided, expired by the session's
//! timeout, and resolved when their turn, their session or the daemon ends.

use super::{Service, SessionHandle, SessionState};
use crate::log::NewEvent;
use crate::provider::{ApprovalAnswer, ApprovalRequest};
use crate::store::{Op, Store};
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{
    Approval, ApprovalPolicy, ApprovalReason, ApprovalRule, ApprovalStatus, Decision, EventPayload,
    Session, ToolCall,
};
use agentmux_shared::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest deny message accepted, in bytes.
const MAX_MESSAGE: usize = 16 * 1024;

/// The approvals part's own state.
#[derive(Default)]
pub(super) struct Approvals {
    /// Idempotency keys of decided approvals → approval id.
    keys: std::sync::Mutex<HashMap<String, String>>,
}

/// What the turn that raises an approval says about it.
pub(super) struct Ask<'a> {
    pub session_id: &'a str,
    pub policy: ApprovalPolicy,
    pub timeout_secs: u64,
}

/// Persists an approval request and keeps its answer channel until someone decides, or answers
/// it at once when the session's policy says so (still recorded, with reason `policy`).
pub(super) async fn raise(
    svc: &Service,
    h: &SessionHandle,
    ask: Ask<'_>,
    r: ApprovalRequest,
) -> Result<()> {
    let now = now_ms();
    let mut a = Approval {
        id: new_id("apr"),
        session_id: ask.session_id.to_string(),
        tool: r.tool,
        input_json: r.input_json,
        summary: r.summary,
        diff: r.diff,
        options: r.options,
        status: ApprovalStatus::Pending,
        created_at_ms: now,
        ..Approval::default()
    };
    let by_policy = match ask.policy {
        ApprovalPolicy::NeverAsk => true,
        ApprovalPolicy::AutoEdit => r.edit,
        ApprovalPolicy::Ask => false,
    };
    // Under the session's lock, like every change to it: a delete that won the race has taken
    // the session's approvals along, and a revoked rule answers nothing.
    let st = h.state.lock().await;
    let by_rule = !by_policy && st.session.rules.iter().any(|x| x.tool == a.tool);
    if by_policy || by_rule {
        if st.deleted {
            return Ok(()); // dropping `respond` denies
        }
        a.status = ApprovalStatus::Allowed;
        a.decision = Some(Decision::AllowOnce);
        a.reason = Some(if by_policy {
            ApprovalReason::Policy
        } else {
            ApprovalReason::Rule
        });
        a.resolved_at_ms = now;
        // Recorded before the provider hears the answer, so the event precedes the tool's run.
        let res = svc
            .commit(
                Store::put_approval(&a).to_vec(),
                vec![NewEvent::new(
                    &a.session_id.clone(),
                    EventPayload::ApprovalResolved { approval: a },
                )],
            )
            .await;
        drop(st);
        let _ = r.respond.send(ApprovalAnswer {
            decision: Decision::AllowOnce,
            message: String::new(),
        });
        return res;
    }
    let mut st = st;
    if st.deleted {
        return Ok(()); // dropping `respond` denies
    }
    svc.commit(
        Store::put_approval(&a).to_vec(),
        vec![NewEvent::new(
            &a.session_id,
            EventPayload::ApprovalRequested {
                approval: a.clone(),
            },
        )],
    )
    .await?;
    if ask.timeout_secs > 0 {
        let (svc2, id) = (svc.clone(), a.id.clone());
        let after = Duration::from_secs(ask.timeout_secs);
        // Tracked: shutdown ends the wait (pending approvals are cancelled then anyway).
        svc.shared.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(after) => {}
                _ = svc2.shared.shutdown.cancelled() => return,
            }
            if let Err(e) = svc2.expire_approval(&id, after).await {
                tracing::error!(error = %e, approval = %id, "cannot expire an approval");
            }
        });
    }
    st.approvals.insert(
        a.id.clone(),
        PendingApproval {
            approval: a,
            respond: r.respond,
        },
    );
    Ok(())
}

/// Puts on record a tool call the agent ran without asking agentmux (reason `cli_allowed`):
/// what each CLI deems safe still shows in the approvals list.
pub(super) async fn record_cli_allowed(
    svc: &Service,
    h: &SessionHandle,
    session_id: &str,
    t: &ToolCall,
) -> Result<()> {
    let st = h.state.lock().await;
    if st.deleted {
        return Ok(());
    }
    let now = now_ms();
    let input: String = t.input_json.chars().take(200).collect();
    let a = Approval {
        id: new_id("apr"),
        session_id: session_id.to_string(),
        tool: t.name.clone(),
        input_json: t.input_json.clone(),
        summary: format!("{} {input} (run by the agent without asking)", t.name),
        status: ApprovalStatus::Allowed,
        reason: Some(ApprovalReason::CliAllowed),
        created_at_ms: now,
        resolved_at_ms: now,
        ..Approval::default()
    };
    let res = svc
        .commit(
            Store::put_approval(&a).to_vec(),
            vec![NewEvent::new(
                session_id,
                EventPayload::ApprovalResolved { approval: a },
            )],
        )
        .await;
    drop(st);
    res
}

/// A pending approval of a running turn and the channel its answer goes back on.
pub(super) struct PendingApproval {
    pub approval: Approval,
    pub respond: oneshot::Sender<ApprovalAnswer>,
}

/// `a` resolved without a decision (`cancelled`, with `reason`).
fn cancelled(mut a: Approval, reason: ApprovalReason) -> Approval {
    a.status = ApprovalStatus::Cancelled;
    a.reason = Some(reason);
    a.resolved_at_ms = now_ms();
    a
}

fn resolved_event(a: Approval) -> NewEvent {
    NewEvent::new(
        &a.session_id.clone(),
        EventPayload::ApprovalResolved { approval: a },
    )
}

/// Resolves every pending approval of a session as `cancelled` with `reason`: the writes and
/// events to commit. Dropping the answer channels tells the provider "deny".
pub(super) fn drain_pending(
    st: &mut SessionState,
    reason: ApprovalReason,
) -> (Vec<Op>, Vec<NewEvent>) {
    let mut ops = Vec::new();
    let mut events = Vec::new();
    let mut pending: Vec<PendingApproval> = st.approvals.drain().map(|(_, p)| p).collect();
    pending.sort_by(|a, b| a.approval.id.cmp(&b.approval.id));
    for p in pending {
        let a = cancelled(p.approval, reason);
        ops.extend(Store::put_approval(&a));
        events.push(resolved_event(a));
    }
    (ops, events)
}

/// At start-up: approvals a previous run left pending can no longer be answered.
pub(super) async fn recover(svc: &Service) -> Result<()> {
    let mut ops = Vec::new();
    let mut events = Vec::new();
    for a in svc.store().approvals("")? {
        if a.status == ApprovalStatus::Pending {
            let a = cancelled(a, ApprovalReason::DaemonRestarted);
            ops.extend(Store::put_approval(&a));
            events.push(resolved_event(a));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    tracing::info!(approvals = ops.len(), "cancelled approvals left pending");
    svc.commit(ops, events).await
}

/// A second decision on a resolved approval: the same one is fine, another is a conflict.
fn same_or_conflict(a: Approval, d: Decision) -> Result<Approval> {
    if a.decision == Some(d) {
        return Ok(a);
    }
    let how = match (a.decision, a.reason) {
        (Some(d), _) => d.as_str(),
        (None, Some(r)) => r.as_str(),
        (None, None) => "unresolved",
    };
    Err(Error::new(
        ErrorKind::AlreadyExists,
        format!("approval {} is already {} ({how})", a.id, a.status.as_str()),
    ))
}

impl Service {
    /// Approvals, oldest first; `session` (id or unique prefix) and `pending_only` filter.
    pub fn list_approvals(&self, session: &str, pending_only: bool) -> Result<Vec<Approval>> {
        let session = match session.trim() {
            "" => String::new(),
            s => self.resolve(s).unwrap_or_else(|_| s.to_string()),
        };
        Ok(self
            .store()
            .approvals(&session)?
            .into_iter()
            .filter(|a| !pending_only || a.status == ApprovalStatus::Pending)
            .collect())
    }

    pub fn get_approval(&self, id: &str) -> Result<Approval> {
        self.store()
            .approval(id.trim())?
            .ok_or_else(|| Error::not_found("approval", id))
    }

    /// Answers a pending approval. Idempotent: the same decision again, or a retry with the same
    /// idempotency key, returns the approval; a different decision on a resolved one is a
    /// conflict (`AlreadyExists`).
    pub async fn decide_approval(
        &self,
        id: &str,
        d: Decision,
        message: &str,
        idempotency_key: &str,
    ) -> Result<Approval> {
        if message.len() > MAX_MESSAGE {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                "approval message is over the size limit",
            ));
        }
        let a = self.get_approval(id)?;
        let key = idempotency_key.trim();
        if !key.is_empty() && self.idempotent_hit(key, &a.id) {
            return Ok(a);
        }
        if a.status != ApprovalStatus::Pending {
            return same_or_conflict(a, d);
        }
        let h = self.handle(&a.session_id)?;
        let mut st = h.state.lock().await;
        let Some(p) = st.approvals.remove(&a.id) else {
            drop(st);
            // Resolved meanwhile, or left by a turn that is gone.
            let a = self.get_approval(&a.id)?;
            if a.status != ApprovalStatus::Pending {
                return same_or_conflict(a, d);
            }
            return Err(Error::precondition(format!(
                "approval {} belongs to no running turn",
                a.id
            )));
        };
        let status = if d == Decision::Deny {
            ApprovalStatus::Denied
        } else {
            ApprovalStatus::Allowed
        };
        // "Always" becomes a rule agentmux keeps (listed, revocable, exactly this tool); the
        // agent itself is allowed once, so its own wider rules never come into play.
        if d == Decision::AllowAlways
            && let Err(e) = self.add_rule(&mut st, &p.approval.tool).await
        {
            // Still pending: the person can try again (or decide otherwise).
            st.approvals.insert(p.approval.id.clone(), p);
            return Err(e);
        }
        let a = self
            .answer_pending(st, p, status, ApprovalReason::Decided, d, message)
            .await?;
        if !key.is_empty() {
            self.remember_key(key, &a.id);
        }
        Ok(a)
    }

    /// The session's approval timeout passed: a still-pending approval expires and the agent is
    /// told no. Already resolved: nothing to do.
    pub(super) async fn expire_approval(&self, id: &str, after: std::time::Duration) -> Result<()> {
        let Ok(a) = self.get_approval(id) else {
            return Ok(()); // its session was deleted
        };
        let Ok(h) = self.handle(&a.session_id) else {
            return Ok(());
        };
        let mut st = h.state.lock().await;
        let Some(p) = st.approvals.remove(id) else {
            return Ok(());
        };
        let message = format!(
            "Nobody answered this request within {} s, so it was denied.",
            after.as_secs()
        );
        self.answer_pending(
            st,
            p,
            ApprovalStatus::Expired,
            ApprovalReason::TimedOut,
            Decision::Deny,
            &message,
        )
        .await?;
        Ok(())
    }

    /// Records how a pending approval ended, then tells the provider; if the record cannot be
    /// written the approval stays pending.
    async fn answer_pending(
        &self,
        mut st: tokio::sync::MutexGuard<'_, SessionState>,
        p: PendingApproval,
        status: ApprovalStatus,
        reason: ApprovalReason,
        decision: Decision,
        message: &str,
    ) -> Result<Approval> {
        let mut a = p.approval.clone();
        a.status = status;
        a.decision = Some(decision);
        a.message = message.to_string();
        a.reason = Some(reason);
        a.resolved_at_ms = now_ms();
        if let Err(e) = self
            .commit(
                Store::put_approval(&a).to_vec(),
                vec![resolved_event(a.clone())],
            )
            .await
        {
            st.approvals.insert(p.approval.id.clone(), p);
            return Err(e);
        }
        drop(st);
        let _ = p.respond.send(ApprovalAnswer {
            decision: match decision {
                Decision::AllowAlways => Decision::AllowOnce,
                d => d,
            },
            message: message.to_string(),
        });
        Ok(a)
    }

    /// Records an "allow always" rule for `tool` on the session (once).
    async fn add_rule(
        &self,
        st: &mut tokio::sync::MutexGuard<'_, SessionState>,
        tool: &str,
    ) -> Result<()> {
        if st.session.rules.iter().any(|r| r.tool == tool) {
            return Ok(());
        }
        let mut s = st.session.clone();
        s.rules.push(ApprovalRule {
            tool: tool.to_string(),
            created_at_ms: now_ms(),
        });
        s.updated_at_ms = now_ms();
        self.save_session(&s).await?;
        st.session = s;
        Ok(())
    }

    /// Takes back the session's "allow always" rule for `tool`: its requests ask again.
    pub async fn revoke_rule(&self, session: &str, tool: &str) -> Result<Session> {
        let id = self.resolve(session)?;
        let h = self.handle(&id)?;
        let mut st = h.state.lock().await;
        st.live()?;
        if !st.session.rules.iter().any(|r| r.tool == tool) {
            let have: Vec<&str> = st.session.rules.iter().map(|r| r.tool.as_str()).collect();
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "session {} has no rule for {tool:?} (its rules: {})",
                    st.session.name,
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
            ));
        }
        let mut s = st.session.clone();
        s.rules.retain(|r| r.tool != tool);
        s.updated_at_ms = now_ms();
        self.save_session(&s).await?;
        st.session = s.clone();
        Ok(s)
    }

    fn idempotent_hit(&self, key: &str, approval_id: &str) -> bool {
        self.shared
            .approvals
            .keys
            .lock()
            .map(|m| m.get(key).is_some_and(|id| id == approval_id))
            .unwrap_or(false)
    }

    fn remember_key(&self, key: &str, approval_id: &str) {
        if let Ok(mut m) = self.shared.approvals.keys.lock() {
            // Bounded: retries come within moments of the first try.
            if m.len() >= 10_000 {
                m.clear();
            }
            m.insert(key.to_string(), approval_id.to_string());
        }
    }
}
