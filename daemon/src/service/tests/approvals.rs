//! Approvals: raised by a turn, decided (idempotently), answered by the policy, expired by
//! the session's timeout, cancelled with their turn, and gone with their session.

use super::*;
use agentmux_shared::ErrorKind;
use agentmux_shared::types::{Approval, ApprovalReason, ApprovalStatus};
use pretty_assertions::assert_eq;

async fn requested(e: &Env) -> Approval {
    e.next("an approval request", |p| match p {
        EventPayload::ApprovalRequested { approval } => Some(approval.clone()),
        _ => None,
    })
    .await
}

async fn resolved(e: &Env) -> Approval {
    e.next("an approval resolved", |p| match p {
        EventPayload::ApprovalResolved { approval } => Some(approval.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_decision_reaches_the_agent_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Ask { edit: true }]);
    e.svc.send_message(&s.id, "write", false).await.unwrap();
    let a = requested(&e).await;
    assert_eq!(a.status, ApprovalStatus::Pending);
    assert_eq!(e.svc.list_approvals(&s.id, true).unwrap(), vec![a.clone()]);
    let d = e
        .svc
        .decide_approval(&a.id, Decision::AllowOnce, "", "key-1")
        .await
        .unwrap();
    assert_eq!(
        (d.status, d.decision, d.reason),
        (
            ApprovalStatus::Allowed,
            Some(Decision::AllowOnce),
            Some(ApprovalReason::Decided)
        )
    );
    assert_eq!(e.finished().await.content, "allowed");
    // The same decision again, or the same key, returns it; another one is a conflict.
    let again = e
        .svc
        .decide_approval(&a.id, Decision::AllowOnce, "", "")
        .await;
    assert_eq!(again.unwrap(), d);
    let retry = e
        .svc
        .decide_approval(&a.id, Decision::AllowOnce, "", "key-1")
        .await;
    assert_eq!(retry.unwrap(), d);
    let err = e
        .svc
        .decide_approval(&a.id, Decision::Deny, "", "")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err:?}");
    let err = e
        .svc
        .decide_approval("apr_nope", Decision::Deny, "", "")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn policies_answer_at_once_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    for (policy, edit, auto) in [
        ("never-ask", false, true),
        ("auto-edit", true, true),
        ("auto-edit", false, false),
    ] {
        let s = e.session(policy, 0).await;
        e.provider.push(vec![Step::Ask { edit }]);
        e.svc.send_message(&s.id, "write", false).await.unwrap();
        if auto {
            let a = resolved(&e).await;
            assert_eq!(a.reason, Some(ApprovalReason::Policy), "{policy}");
            assert_eq!(a.decision, Some(Decision::AllowOnce));
            assert_eq!(e.finished().await.content, "allowed", "{policy}");
        } else {
            let a = requested(&e).await;
            e.svc
                .decide_approval(&a.id, Decision::Deny, "no", "")
                .await
                .unwrap();
            assert_eq!(e.finished().await.content, "denied", "{policy}");
        }
    }
}

#[tokio::test]
async fn an_unanswered_approval_expires_after_the_session_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 1).await;
    e.provider.push(vec![Step::Ask { edit: false }]);
    e.svc.send_message(&s.id, "run", false).await.unwrap();
    let a = requested(&e).await;
    let x = resolved(&e).await;
    assert_eq!(x.id, a.id);
    assert_eq!(
        (x.status, x.decision, x.reason),
        (
            ApprovalStatus::Expired,
            Some(Decision::Deny),
            Some(ApprovalReason::TimedOut)
        )
    );
    assert!(x.message.contains("1 s"), "{}", x.message);
    assert_eq!(e.finished().await.content, "denied");
}

#[tokio::test]
async fn cancel_resolves_the_pending_approval_and_denies_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Ask { edit: false }, Step::Hang]);
    e.svc.send_message(&s.id, "run", false).await.unwrap();
    let a = requested(&e).await;
    e.svc.cancel_session(&s.id, false).await.unwrap();
    let x = resolved(&e).await;
    assert_eq!(
        (x.id.as_str(), x.status),
        (a.id.as_str(), ApprovalStatus::Cancelled)
    );
    assert_eq!(x.reason, Some(ApprovalReason::TurnCancelled));
    let err = e
        .svc
        .decide_approval(&a.id, Decision::AllowOnce, "", "")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists);
}

#[tokio::test]
async fn a_deleted_session_takes_its_approvals_along() {
    let dir = tempfile::tempdir().unwrap();
    let e = start_in(dir.path()).await;
    let keep = e.session("never-ask", 0).await;
    e.provider.push(vec![Step::Ask { edit: false }]);
    e.svc.send_message(&keep.id, "run", true).await.unwrap();
    let s = e.session("ask", 0).await;
    e.provider.push(vec![Step::Ask { edit: false }, Step::Hang]);
    e.svc.send_message(&s.id, "run", false).await.unwrap();
    let a = requested(&e).await;
    e.svc.delete_session(&s.id, false, false).await.unwrap();
    let x = resolved(&e).await;
    assert_eq!(
        (x.id.as_str(), x.reason),
        (a.id.as_str(), Some(ApprovalReason::SessionDeleted))
    );
    assert_eq!(
        e.svc.get_approval(&a.id).unwrap_err().kind,
        ErrorKind::NotFound
    );
    let left = e.svc.list_approvals("", false).unwrap();
    assert_eq!(left.len(), 1, "the other session's approval stays");
    assert_eq!(left[0].session_id, keep.id);
}
