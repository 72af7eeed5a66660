//! Tests of the store (a file of their own: the store itself is long enough).
use super::*;

#[test]
fn reopen_keeps_schema_and_refuses_newer() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.applied().unwrap(), crate::journal::Position::default());
        s.tree
            .insert(META_SCHEMA, &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        s.flush_blocking().unwrap();
    }
    // sled's background flusher can hold the directory's lock a moment after the drop.
    let t0 = std::time::Instant::now();
    let err = loop {
        let err = Store::open(dir.path()).err().unwrap();
        if err.message.contains("newer") || t0.elapsed() > std::time::Duration::from_secs(5) {
            break err;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(err.message.contains("newer"), "{}", err.message);
}

fn approval(session: &str, id: &str) -> Approval {
    Approval {
        id: id.into(),
        session_id: session.into(),
        ..Approval::default()
    }
}

#[test]
fn approvals_live_under_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let ops = [("ses_b", "apr_1"), ("ses_a", "apr_2"), ("ses_b", "apr_3")]
        .iter()
        .flat_map(|(ses, id)| Store::put_approval(&approval(ses, id)))
        .collect();
    s.apply(Store::batch(ops, Default::default())).unwrap();
    let ids = |v: Vec<Approval>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(s.approvals("").unwrap()), ["apr_1", "apr_2", "apr_3"]);
    assert_eq!(ids(s.approvals("ses_b").unwrap()), ["apr_1", "apr_3"]);
    assert_eq!(s.approval("apr_3").unwrap().unwrap().session_id, "ses_b");
    let dels = s.approval_deletes("ses_b").unwrap();
    s.apply(Store::batch(dels, Default::default())).unwrap();
    assert_eq!(ids(s.approvals("").unwrap()), ["apr_2"]);
    assert!(s.approval("apr_1").unwrap().is_none());
    // Nothing of the deleted session's approvals is left, index included.
    assert_eq!(s.tree.scan_prefix([APPROVAL_SESSION]).count(), 1);
}

#[test]
fn a_schema_1_store_is_rekeyed_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.tree.insert(META_SCHEMA, &1u32.to_be_bytes()).unwrap();
    let session = Store::put_session(&Session {
        id: "ses_a".into(),
        ..Session::default()
    });
    s.apply(Store::batch(vec![session], Default::default()))
        .unwrap();
    let old = approval("ses_a", "apr_1");
    // An approval of a session deleted since goes, rather than coming back.
    let mut gone = vec![APPROVAL];
    gone.extend_from_slice(b"apr_0");
    s.tree
        .insert(
            gone,
            pb::Approval::from(approval("ses_gone", "apr_0")).encode_to_vec(),
        )
        .unwrap();
    let mut k = vec![APPROVAL];
    k.extend_from_slice(b"apr_1");
    s.tree
        .insert(k, pb::Approval::from(old.clone()).encode_to_vec())
        .unwrap();
    assert!(
        s.approval("apr_1").unwrap().is_none(),
        "not found by id before"
    );
    s.upgrade().unwrap();
    assert_eq!(s.approval("apr_1").unwrap(), Some(old.clone()));
    assert_eq!(s.approvals("ses_a").unwrap(), vec![old]);
    assert_eq!(s.schema().unwrap(), SCHEMA_VERSION);
    s.upgrade().unwrap();
    assert_eq!(
        s.approvals("").unwrap().len(),
        1,
        "upgrading twice changes nothing"
    );
}

#[test]
fn a_tail_of_messages_reads_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let ops = (0..10)
        .flat_map(|i| {
            ["ses_a", "ses_b"].map(|ses| {
                Store::put_message(&Message {
                    session_id: ses.into(),
                    index: i,
                    content: format!("{ses}{i}"),
                    ..Message::default()
                })
            })
        })
        .collect();
    s.apply(Store::batch(ops, Default::default())).unwrap();
    let text = |v: Vec<Message>| v.into_iter().map(|m| m.content).collect::<Vec<_>>();
    assert_eq!(
        text(s.messages_before("ses_a", 7, 3).unwrap()),
        ["ses_a4", "ses_a5", "ses_a6"]
    );
    assert_eq!(
        text(s.messages_before("ses_b", 2, 5).unwrap()),
        ["ses_b0", "ses_b1"]
    );
    assert!(s.messages_before("ses_a", 0, 5).unwrap().is_empty());
    assert!(s.messages_before("ses_c", 10, 5).unwrap().is_empty());
}

#[test]
fn queued_input_is_found_from_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    use MessageStatus::{Complete, Queued};
    let msgs = [
        (Role::User, Complete, "ran"),
        (Role::User, Queued, "q1"),
        (Role::Assistant, MessageStatus::Streaming, "answer"),
        (Role::User, Queued, "q2"),
    ];
    let ops = msgs
        .iter()
        .enumerate()
        .map(|(i, (role, status, text))| {
            Store::put_message(&Message {
                session_id: "ses_a".into(),
                index: i as u64,
                role: *role,
                status: *status,
                content: text.to_string(),
                ..Message::default()
            })
        })
        .collect();
    s.apply(Store::batch(ops, Default::default())).unwrap();
    let text = |v: Vec<Message>| v.into_iter().map(|m| m.content).collect::<Vec<_>>();
    assert_eq!(text(s.queued_messages("ses_a").unwrap()), ["q1", "q2"]);
    assert!(s.queued_messages("ses_b").unwrap().is_empty());
}

#[test]
fn sessions_page_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let ops = ["ses_a1", "ses_a2", "ses_b1"]
        .iter()
        .map(|id| {
            Store::put_session(&Session {
                id: id.to_string(),
                ..Default::default()
            })
        })
        .collect();
    s.apply(Store::batch(ops, Default::default())).unwrap();
    let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.sessions("ses_a", "", 10).unwrap()),
        ["ses_a1", "ses_a2"]
    );
    assert_eq!(
        ids(s.sessions("", "ses_a1", 10).unwrap()),
        ["ses_a2", "ses_b1"]
    );
    assert_eq!(ids(s.sessions("", "", 1).unwrap()), ["ses_a1"]);
}

#[test]
fn only_the_newest_broken_store_is_kept_before_another_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    for ms in ["1796000000001", "1796000000002", "1796000000003"] {
        std::fs::create_dir(dir.path().join(format!("store.broken-{ms}"))).unwrap();
    }
    prune_broken(&dir.path().join("store"), 1);
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["store.broken-1796000000003"]);
}
