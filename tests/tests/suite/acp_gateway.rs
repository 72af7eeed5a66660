//! The ACP file gateway through a scripted agent that writes without asking first: under the
//! `ask` policy such a write raises an approval (denied: nothing is written; allowed: it is),
//! and a policy that allows edits lets it through at once.

use super::{id_of, messages, pending_approval, send, wait_session};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use serde_json::{Value, json};
use std::path::PathBuf;

fn agent() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/acp_unasked_write.py")
        .display()
        .to_string()
}

async fn turn(d: &Daemon, id: &str, n: usize) -> Value {
    wait_session(&d.rest(), id, 30, "the turn", |s| {
        s["busy"] == false && s["message_count"] == n as u64
    })
    .await;
    messages(&d.rest(), id).await[n - 1].clone()
}

#[tokio::test]
async fn a_write_no_permission_covers_is_asked_for() {
    let d = Daemon::start(
        DaemonOptions::default()
            .toml("[providers.acp.scripted]")
            .toml(r#"command = "python3""#)
            .toml(&format!("args = [{:?}]", agent())),
    )
    .await;
    let rest = d.rest();
    let work = tempfile::tempdir().unwrap();
    let create = |policy: &str| {
        let body = json!({"provider": "scripted", "cwd": work.path(), "approval_policy": policy});
        let r = rest.post("/v1/sessions", body);
        async move {
            let r = r.await;
            assert_eq!(r.status, 201, "{}", r.text());
            id_of(&r.json())
        }
    };
    let id = create("ask").await;

    // Denied: nothing is written and the agent is told why.
    send(&rest, &id, "write denied.txt").await;
    let a = pending_approval(&rest, &id, 30).await;
    assert_eq!(a["tool"], "write_text_file", "{a}");
    assert!(a["diff"].as_str().unwrap().contains("+unasked"), "{a}");
    let r = rest
        .post(
            &format!("/v1/approvals/{}", a["id"].as_str().unwrap()),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = turn(&d, &id, 2).await;
    let said = m["content"].as_str().unwrap();
    assert!(
        said.starts_with("refused") && said.contains("denied"),
        "{m}"
    );
    assert!(!work.path().join("denied.txt").exists());

    // Allowed: written.
    send(&rest, &id, "write allowed.txt").await;
    let a = pending_approval(&rest, &id, 30).await;
    rest.post(
        &format!("/v1/approvals/{}", a["id"].as_str().unwrap()),
        json!({"decision": "allow_once"}),
    )
    .await;
    assert_eq!(turn(&d, &id, 4).await["content"], "written");
    assert_eq!(
        std::fs::read_to_string(work.path().join("allowed.txt")).unwrap(),
        "unasked\n"
    );

    // auto-edit: an edit inside the session directory needs no person.
    let id = create("auto-edit").await;
    send(&rest, &id, "write auto.txt").await;
    assert_eq!(turn(&d, &id, 2).await["content"], "written");
    assert!(work.path().join("auto.txt").exists());
    let pending = rest
        .get_ok(&format!("/v1/approvals?session={id}&pending=true"))
        .await;
    assert_eq!(pending["approvals"].as_array().unwrap().len(), 0);
}
