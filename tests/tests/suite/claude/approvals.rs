//! Claude Code's tool approvals through the daemon: allow, deny, idempotent decisions, policies,
//! an expiry, decisions over gRPC, and a delete while one waits.

use super::super::{ROUTES, get_session, id_of, messages, send, send_wait};
use super::harness::{claude_pid, start};
use agentmux_shared::types::{ApprovalReason, ApprovalStatus, EventPayload};
use agentmux_tests::poll_until;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn approval_routes_are_in_the_auth_table() {
    for (m, p) in [
        ("GET", "/v1/approvals"),
        ("GET", "/v1/approvals/{id}"),
        ("POST", "/v1/approvals/{id}"),
    ] {
        assert!(
            ROUTES.iter().any(|(rm, rp, _)| *rm == m && *rp == p),
            "{m} {p} missing from ROUTES"
        );
    }
}
#[tokio::test]
async fn write_asks_then_allow_writes_the_file_with_a_diff() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    assert_eq!(a["tool"], "Write", "{a}");
    assert_eq!(a["status"], "pending");
    assert!(a["id"].as_str().unwrap().starts_with("apr_"), "{a}");
    assert!(a["diff"].as_str().unwrap().contains("+hi"), "{a}");
    assert_eq!(
        serde_json::from_str::<Value>(a["input_json"].as_str().unwrap()).unwrap()["content"],
        "hi\n"
    );
    assert_eq!(a["options"], json!(["allow_once", "allow_always", "deny"]));
    assert!(!e.file().exists(), "nothing is written before the decision");
    assert_eq!(
        get_session(&e.rest, &id).await["busy"],
        true,
        "the turn waits for the decision"
    );

    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "allowed");
    // The same decision again is fine; a different one conflicts.
    let again = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    e.rest
        .post(&format!("/v1/approvals/{aid}"), json!({"decision": "deny"}))
        .await
        .assert_error(409, "already_exists");

    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    assert_eq!(msgs[1]["status"], "complete");
    // The answer keeps what the turn did, so history shows it after a reload.
    assert_eq!(msgs[1]["tools"][0]["name"], "Write", "{}", msgs[1]);
    assert_eq!(msgs[1]["tools"][0]["status"], "finished");
    assert_eq!(msgs[1]["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        msgs[1]["changes"][0]["path"],
        e.file().display().to_string()
    );
    assert!(
        msgs[1]["changes"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+hi")
    );

    let events = e.events(&id).await;
    let names: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("no {n} in {names:?}"))
    };
    assert!(pos("approval.requested") < pos("approval.resolved"));
    assert!(pos("approval.resolved") < pos("file.changed"));
    let diff = events
        .iter()
        .find_map(|ev| match &ev.payload {
            EventPayload::FileChanged { path, diff } => Some((path.clone(), diff.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(diff.0, e.file().display().to_string());
    assert!(diff.1.contains("+hi"), "{}", diff.1);
    // The header names the file as git would, relative to the session's directory.
    assert!(diff.1.contains("+++ b/hello.txt\n"), "{}", diff.1);
    let calls: Vec<(String, String)> = events
        .iter()
        .filter_map(|ev| match &ev.payload {
            EventPayload::ToolCall(t) => Some((t.name.clone(), t.status.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("Write".to_string(), "started".to_string()),
            ("Write".to_string(), "finished".to_string())
        ]
    );
    let resolved = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(resolved["approvals"][0]["reason"], "decided");
    assert_eq!(
        e.rest
            .get_ok(&format!("/v1/approvals?session={id}&pending=true"))
            .await["approvals"],
        json!([])
    );
}

#[tokio::test]
async fn deny_writes_nothing_and_the_model_is_told() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post_with_headers(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "deny", "message": "No files today."}),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "denied");
    // A retry with the same key returns the approval even with another decision.
    let retry = e
        .rest
        .post_with_headers(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["status"], "denied");

    e.idle(&id).await;
    assert!(!e.file().exists(), "a denied write must not happen");
    let told: Vec<_> = e
        .fake
        .requests()
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert!(
        told.iter()
            .any(|t| t.is_error && t.output.contains("No files today.")),
        "the model gets the deny message as an error tool result: {told:?}"
    );
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "I'll create the file.Finished.");
    // Denied, not failed, with the reason the person gave.
    let calls = &msgs[1]["tools"];
    let last = &calls[calls.as_array().map_or(0, |c| c.len().saturating_sub(1))];
    assert_eq!(last["status"], "denied", "{calls}");
    assert!(
        last["output"]
            .as_str()
            .unwrap_or("")
            .contains("No files today."),
        "{calls}"
    );
}

#[tokio::test]
async fn never_ask_policy_allows_and_records_it() {
    let e = start().await;
    let id = e.session("never-ask").await;
    e.script_write();
    send_wait(&e.rest, &id, "Create hello.txt containing hi.").await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(list["approvals"][0]["status"], "allowed", "{list}");
    assert_eq!(list["approvals"][0]["reason"], "policy");
}
#[tokio::test]
async fn auto_edit_allows_edits_and_bad_policies_are_refused() {
    let e = start().await;
    e.rest
        .post(
            "/v1/sessions",
            json!({"provider": "claude", "approval_policy": "sometimes"}),
        )
        .await
        .assert_error(400, "invalid_argument");
    let id = e.session("auto-edit").await;
    e.script_write();
    let r = send_wait(&e.rest, &id, "Create hello.txt containing hi.").await;
    assert_eq!(r["reply"]["content"], "I'll create the file.Finished.");
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(list["approvals"][0]["tool"], "Write");
    assert_eq!(list["approvals"][0]["reason"], "policy", "{list}");
}
#[tokio::test]
async fn delete_resolves_pending_approvals_and_stops_claude_and_grpc_decides() {
    use agentmux_proto::v1 as pb;
    let e = start().await;
    let grpc = e.d.grpc().await;
    let mut approvals = pb::approval_service_client::ApprovalServiceClient::new(grpc.channel());

    // Decided over gRPC.
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let listed = approvals
        .list_approvals(pb::ListApprovalsRequest {
            session_id: id.clone(),
            pending_only: true,
        })
        .await
        .unwrap()
        .into_inner()
        .approvals;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, a["id"].as_str().unwrap());
    let decided = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: listed[0].id.clone(),
            decision: pb::Decision::AllowAlways as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.status(), pb::ApprovalStatus::Allowed);
    assert_eq!(decided.decision(), pb::Decision::AllowAlways);
    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let err = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: listed[0].id.clone(),
            // Older clients send the decision as text.
            legacy_decision: "deny".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");
    let err = approvals
        .decide_approval(pb::DecideApprovalRequest {
            id: "apr_nope".into(),
            decision: pb::Decision::Deny as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");

    // Deleted while an approval waits: it is resolved and claude is stopped. (Claude refuses to
    // overwrite a file it has not read, before asking: start from no file.)
    std::fs::remove_file(e.file()).unwrap();
    let id = e.session("ask").await;
    e.script_write_call();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let pid = claude_pid(&e.d);
    let r = e.rest.delete(&format!("/v1/sessions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The approval was resolved before it went with its session.
    let aid = a["id"].as_str().unwrap();
    let evs = e.events(&id).await;
    assert!(
        evs.iter().any(|ev| matches!(&ev.payload,
            EventPayload::ApprovalResolved { approval } if approval.id == aid
                && approval.status == ApprovalStatus::Cancelled
                && approval.reason == Some(ApprovalReason::SessionDeleted))),
        "{evs:?}"
    );
    let r = e.rest.get(&format!("/v1/approvals/{aid}")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let left = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    assert_eq!(left["approvals"], serde_json::json!([]), "{left}");
    poll_until("claude to exit", Duration::from_secs(15), || async {
        // SAFETY: signal 0 only checks whether the pid exists.
        (unsafe { libc::kill(pid, 0) } != 0).then_some(())
    })
    .await;
}
#[tokio::test]
async fn an_unanswered_approval_expires_after_the_sessions_timeout_and_the_model_is_told() {
    let e = start().await;
    let r = e
        .rest
        .post(
            "/v1/sessions",
            json!({"provider": "claude", "cwd": e.work.path().display().to_string(),
                   "approval_policy": "ask", "approval_timeout_secs": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["approval_timeout_secs"], 2);
    let id = id_of(&r.json());
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    let resolved = poll_until(
        "the approval to expire",
        Duration::from_secs(30),
        || async {
            let a = e.rest.get_ok(&format!("/v1/approvals/{aid}")).await;
            (a["status"] != "pending").then_some(a)
        },
    )
    .await;
    assert_eq!(resolved["status"], "expired", "{resolved}");
    assert_eq!(resolved["reason"], "timed_out");
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    e.idle(&id).await;
    assert!(!e.file().exists(), "an expired approval must not write");
    let told: Vec<_> = e
        .fake
        .requests()
        .iter()
        .flat_map(|r| r.tool_results())
        .collect();
    assert!(
        told.iter()
            .any(|t| t.is_error && t.output.contains("Nobody answered")),
        "the model hears the approval expired: {told:?}"
    );
    // Deciding it now is a conflict, and the event log says how it ended.
    let late = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    late.assert_error(409, "already_exists");
    let evs = e.events(&id).await;
    assert!(evs.iter().any(|ev| matches!(&ev.payload,
        EventPayload::ApprovalResolved { approval } if approval.id == aid && approval.reason == Some(ApprovalReason::TimedOut))));
}

/// `agentmux send --wait` streams the answer and exits 10 when a tool call of the turn was
/// denied, naming it: a script can tell "done" from "done, but refused".
#[tokio::test]
async fn send_wait_exits_10_when_a_tool_was_denied() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    let cli = tokio::process::Command::new(agentmux_tests::daemon::client_bin())
        .arg("--socket")
        .arg(&e.d.socket)
        .args(["send", &id, "Create hello.txt containing hi.", "--wait"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let deny = async {
        let a = e.pending_approval(&id).await;
        let aid = a["id"].as_str().unwrap().to_string();
        let r = e
            .rest
            .post(&format!("/v1/approvals/{aid}"), json!({"decision": "deny"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    };
    let (out, ()) = tokio::join!(cli, deny);
    let out = out.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    assert!(
        stderr.contains("approval_denied") && stderr.contains("Write"),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "I'll create the file.Finished.\n"
    );
    assert!(!e.file().exists());
}

/// "Allow always" leaves a rule agentmux keeps: the same tool is allowed at once for the rest
/// of the session (recorded with reason `rule`), the rule is listed, and once revoked the tool
/// asks again. Claude itself is only ever allowed once, so its own wider rules never apply.
#[tokio::test]
async fn allow_always_is_a_rule_that_can_be_listed_and_revoked() {
    let e = start().await;
    let id = e.session("ask").await;
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let a = e.pending_approval(&id).await;
    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_always"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    e.idle(&id).await;
    assert_eq!(std::fs::read_to_string(e.file()).unwrap(), "hi\n");
    let s = get_session(&e.rest, &id).await;
    assert_eq!(s["rules"][0]["tool"], "Write", "{s}");

    // The next Write is not asked about: the rule answers, on the record.
    std::fs::remove_file(e.file()).unwrap();
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    super::super::wait_session(&e.rest, &id, 60, "the second turn", |s| {
        s["busy"] == false && s["message_count"] == 4
    })
    .await;
    assert!(e.file().exists(), "allowed by the rule");
    let all = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    let reasons: Vec<&str> = all["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, ["decided", "rule"]);

    // Listed by the CLI, revoked over REST: Write asks again.
    let listed = tokio::process::Command::new(agentmux_tests::daemon::client_bin())
        .arg("--socket")
        .arg(&e.d.socket)
        .args(["approvals", "rules", &id])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success() && text.contains("Write"), "{text}");
    let r = e
        .rest
        .delete(&format!("/v1/sessions/{id}/rules/Write"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["rules"].is_null(), "{}", r.text());
    let r = e
        .rest
        .delete(&format!("/v1/sessions/{id}/rules/Write"))
        .await;
    assert_eq!(r.status, 404, "revoking twice: {}", r.text());
    std::fs::remove_file(e.file()).unwrap();
    e.script_write();
    send(&e.rest, &id, "Create hello.txt containing hi.").await;
    let again = e.pending_approval(&id).await;
    assert_ne!(again["id"], a["id"]);
    let aid = again["id"].as_str().unwrap();
    let r = e
        .rest
        .post(&format!("/v1/approvals/{aid}"), json!({"decision": "deny"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    e.idle(&id).await;
    assert!(!e.file().exists());
}

/// Under `ask`, even a shell command Claude deems read-only (`ls`, `git status`) asks: Claude
/// is started with an `ask` rule for Bash, so nothing runs unseen and off the record.
#[tokio::test]
async fn under_ask_a_read_only_shell_command_asks_too() {
    use agentmux_tests::fake_openai::{Match, Script, Step};
    let e = start().await;
    let id = e.session("ask").await;
    e.fake.push(
        Script::new(vec![
            Step::text("Looking."),
            Step::tool(
                "Bash",
                json!({"command": "ls", "description": "List files"}),
            ),
        ])
        .when(Match::has_tools()),
    );
    e.fake
        .push(Script::answer("Done.").when(Match::has_tools()));
    send(&e.rest, &id, "What files are here?").await;
    let a = e.pending_approval(&id).await;
    assert_eq!(a["tool"], "Bash", "{a}");
    assert!(a["summary"].as_str().unwrap_or("").contains("ls"), "{a}");
    let aid = a["id"].as_str().unwrap();
    let r = e
        .rest
        .post(
            &format!("/v1/approvals/{aid}"),
            json!({"decision": "allow_once"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    e.idle(&id).await;
    let msgs = messages(&e.rest, &id).await;
    assert_eq!(msgs[1]["content"], "Looking.Done.");
}

/// What Claude allows itself without asking (reading a file in the project) is still put on
/// record, as an approval with reason `cli_allowed`.
#[tokio::test]
async fn what_claude_reads_unasked_is_on_record() {
    use agentmux_tests::fake_openai::{Match, Script, Step};
    let e = start().await;
    let id = e.session("ask").await;
    std::fs::write(e.work.path().join("notes.txt"), "remember this\n").unwrap();
    let path = e.work.path().join("notes.txt").display().to_string();
    e.fake.push(
        Script::new(vec![Step::tool("Read", json!({"file_path": path}))]).when(Match::has_tools()),
    );
    e.fake
        .push(Script::answer("Read it.").when(Match::has_tools()));
    send(&e.rest, &id, "Read notes.txt.").await;
    super::super::wait_session(&e.rest, &id, 60, "the turn to end", |s| {
        s["busy"] == false && s["message_count"] == 2
    })
    .await;
    let list = e.rest.get_ok(&format!("/v1/approvals?session={id}")).await;
    let all = list["approvals"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(all[0]["reason"], "cli_allowed");
    assert_eq!(all[0]["tool"], "Read");
    assert_eq!(all[0]["status"], "allowed");
    assert!(
        all[0]["input_json"]
            .as_str()
            .unwrap_or("")
            .contains("notes.txt")
    );
}
