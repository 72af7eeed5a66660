//! Start-up recovery: a turn the daemon was running when it died is marked interrupted with
//! what it had streamed, pending approvals are cancelled, and nothing acknowledged is lost.

use super::*;
use crate::store::Store;
use agentmux_shared::types::{ApprovalReason, ApprovalStatus, MessageStatus, SessionStatus};
use pretty_assertions::assert_eq;

/// Runs `f` on a runtime of its own and drops the runtime: every task dies mid-flight, as
/// in a crash; only what the journal made durable remains.
fn crash_after<F: std::future::Future<Output = ()>>(f: impl FnOnce() -> F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(f());
    rt.shutdown_background();
}

#[test]
fn an_interrupted_turn_is_recovered_with_its_partial_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let ids = Arc::new(Mutex::new((String::new(), String::new())));
    let out = ids.clone();
    crash_after(move || async move {
        let e = start_in(&path).await;
        let s = e.session("ask", 0).await;
        e.provider.push(vec![
            Step::Text("half "),
            Step::Text("done"),
            Step::Ask { edit: false },
        ]);
        e.svc.send_message(&s.id, "work", false).await.unwrap();
        let a = e
            .next("the approval", |p| match p {
                EventPayload::ApprovalRequested { approval } => Some(approval.clone()),
                _ => None,
            })
            .await;
        e.svc.send_message(&s.id, "queued", false).await.unwrap();
        *out.lock().unwrap() = (s.id.clone(), a.id.clone());
    });
    let (sid, aid) = ids.lock().unwrap().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = start_in(dir.path()).await;
        let s = e.svc.get_session(&sid).unwrap();
        assert_eq!(
            (s.busy, s.status, s.queued),
            (false, SessionStatus::Interrupted, 1)
        );
        let msgs = e.messages(&sid);
        let answer = msgs
            .iter()
            .find(|m| m.role == agentmux_shared::types::Role::Assistant);
        let answer = answer.unwrap();
        assert_eq!(answer.status, MessageStatus::Interrupted);
        assert_eq!(answer.content, "half done", "the streamed text is kept");
        assert_eq!(msgs.last().unwrap().status, MessageStatus::Queued);
        let a = e.svc.get_approval(&aid).unwrap();
        assert_eq!(
            (a.status, a.reason),
            (
                ApprovalStatus::Cancelled,
                Some(ApprovalReason::DaemonRestarted)
            )
        );
        // Resuming runs the queued input.
        e.svc.resume_session(&sid).await.unwrap();
        assert_eq!(e.finished().await.content, "ok");
        assert_eq!(e.provider.prompts(), ["queued"]);
    });
}

#[test]
fn a_store_that_cannot_open_is_rebuilt_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let sid = Arc::new(Mutex::new(String::new()));
    let out = sid.clone();
    crash_after(move || async move {
        let e = start_in(&path).await;
        let s = e.session("never-ask", 0).await;
        e.provider.push(vec![Step::Ask { edit: false }]);
        let r = e.svc.send_message(&s.id, "hello", true).await.unwrap();
        assert_eq!(r.reply.unwrap().content, "allowed");
        *out.lock().unwrap() = s.id.clone();
    });
    let sid = sid.lock().unwrap().clone();
    // What a full disk in the middle of sled's own writes leaves: files sled cannot read.
    let store = dir.path().join("store");
    for f in std::fs::read_dir(&store).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::write(&f, b"\0garbage\0").unwrap();
        }
    }
    assert!(Store::open(&store).is_err(), "the store is broken");
    let rebuilt = Store::open_or_rebuild(&store).unwrap();
    drop(rebuilt);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = start_in(dir.path()).await;
        let s = e.svc.get_session(&sid).unwrap();
        assert_eq!(s.message_count, 2);
        let texts: Vec<String> = e.messages(&sid).into_iter().map(|m| m.content).collect();
        assert_eq!(texts, ["hello", "allowed"]);
        let approvals = e.svc.list_approvals(&sid, false).unwrap();
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].reason, Some(ApprovalReason::Policy));
        assert!(e.svc.get_approval(&approvals[0].id).is_ok());
    });
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().starts_with("store.broken-"))
        .collect();
    assert_eq!(aside.len(), 1, "the broken store is kept aside");
}
