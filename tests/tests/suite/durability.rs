//! Process life: `kill -9` mid-stream loses nothing acknowledged, SIGTERM is graceful, and one
//! daemon per data dir.

use super::{
    all_sessions, create_session, get_session, id_of, messages, send, send_wait, start,
    wait_session,
};
use agentmux_shared::types::EventPayload;
use agentmux_tests::client::{Item, Subscription, read_contiguous};
use agentmux_tests::fake_openai::{Script, Step};
use agentmux_tests::within;
use pretty_assertions::assert_eq;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads a session's stream until the deltas add up to `want`; returns the last seq seen.
async fn wait_text<S: Subscription>(sub: &mut S, want: &str) -> u64 {
    let mut seen = String::new();
    loop {
        match sub.next_item().await {
            Some(Item::Event(e)) => {
                if let EventPayload::MessageDelta { text, .. } = &e.payload {
                    seen.push_str(text);
                }
                if seen == want {
                    return e.seq;
                }
                assert!(
                    want.starts_with(&seen),
                    "deltas {seen:?} do not lead to {want:?}"
                );
            }
            Some(_) => {}
            None => panic!("stream ended before {want:?}"),
        }
    }
}

/// Every session with all its messages, by id.
async fn snapshot(rest: &agentmux_tests::client::Rest) -> BTreeMap<String, (Value, Vec<Value>)> {
    let mut out = BTreeMap::new();
    for s in &all_sessions(rest).await {
        let id = id_of(s);
        let msgs = messages(rest, &id).await;
        out.insert(id, (s.clone(), msgs));
    }
    out
}

#[tokio::test]
async fn kill_9_mid_stream_loses_nothing_acknowledged() {
    let (fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    let done = id_of(&create_session(&rest, "finished work").await);
    send_wait(&rest, &done, "one").await;
    send_wait(&rest, &done, "two").await;
    let renamed = id_of(&create_session(&rest, "old name").await);
    let r = rest
        .patch(
            &format!("/v1/sessions/{renamed}"),
            serde_json::json!({"title": "new name"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let running = id_of(&create_session(&rest, "running").await);

    let head0 = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?after={head0}&session={running}"), None)
        .await;
    fake.push(Script::new(vec![
        Step::Text {
            text: "partial-1 ".into(),
            delay: Duration::ZERO,
        },
        Step::Text {
            text: "partial-2 ".into(),
            delay: Duration::from_millis(30),
        },
        Step::Hang,
    ]));
    let sent = send(&rest, &running, "long task").await;
    let user_id = sent["message"]["id"].as_str().unwrap().to_string();
    wait_text(&mut sse, "partial-1 partial-2 ").await;
    drop(sse);

    // Everything acknowledged so far: the full event log and every session and message.
    let head = d.last_seq().await;
    let mut all = rest.sse("/v1/events?after=0", None).await;
    let log_before = read_contiguous(&mut all, 0, head).await;
    drop(all);
    let before = snapshot(&rest).await;
    assert_eq!(before.len(), 3);

    d.kill9().await;
    d.restart().await;
    let rest = d.rest();

    // The log is intact and seqs continue.
    let head_after = d.last_seq().await;
    assert!(
        head_after >= head,
        "last_seq went back: {head} -> {head_after}"
    );
    let mut all = rest.sse("/v1/events?after=0", None).await;
    let log_after = read_contiguous(&mut all, 0, head_after).await;
    assert_eq!(
        &log_after[..head as usize],
        log_before.as_slice(),
        "every acknowledged event survives kill -9 unchanged"
    );
    drop(all);

    let after = snapshot(&rest).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "same sessions after restart"
    );
    for id in [&done, &renamed] {
        assert_eq!(after[id].1, before[id].1, "messages of {id} unchanged");
        assert_eq!(after[id].0["title"], before[id].0["title"]);
        assert_eq!(after[id].0["status"], "idle");
    }
    assert_eq!(after[&renamed].0["title"], "new name");

    // The running turn is interrupted with its partial text.
    let s = &after[&running].0;
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["busy"], false, "{s}");
    let msgs = &after[&running].1;
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert_eq!(msgs[0]["id"], user_id.as_str());
    assert_eq!(msgs[0]["content"], "long task");
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["status"], "interrupted", "{}", msgs[1]);
    assert_eq!(
        msgs[1]["content"], "partial-1 partial-2 ",
        "partial text survives kill -9"
    );

    // New events get higher seqs; the session can go on.
    let again = send_wait(&rest, &running, "continue").await;
    assert_eq!(again["reply"]["content"], "echo: continue");
    let s = get_session(&rest, &running).await;
    assert_eq!(s["status"], "idle");
    let head_final = d.last_seq().await;
    assert!(head_final > head_after);
    let mut tail = rest.sse("/v1/events", Some(head_after)).await;
    read_contiguous(&mut tail, head_after, head_final).await;
    let history = fake.requests().last().map(super::chat_history).unwrap();
    assert_eq!(history.first(), Some(&super::pair("user", "long task")));
}

#[tokio::test]
async fn sigterm_is_graceful_and_marks_the_running_turn_interrupted() {
    let (fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "sigterm").await);
    send_wait(&rest, &id, "before").await;
    let head0 = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?after={head0}&session={id}"), None)
        .await;
    fake.push(Script::new(vec![
        Step::Text {
            text: "half".into(),
            delay: Duration::ZERO,
        },
        Step::Hang,
    ]));
    send(&rest, &id, "stop me").await;
    wait_text(&mut sse, "half").await;

    let status = d.sigterm().await;
    assert!(
        status.success(),
        "SIGTERM exit status: {status}; output:\n{}",
        d.output()
    );
    // An open SSE subscriber did not hold the shutdown up.
    drop(sse);

    d.restart().await;
    let rest = d.rest();
    let s = get_session(&rest, &id).await;
    assert_eq!(s["status"], "interrupted", "{s}");
    let msgs = messages(&rest, &id).await;
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[3]["status"], "interrupted");
    assert_eq!(msgs[3]["content"], "half");
    assert_eq!(msgs[1]["content"], "echo: before");
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_exits_naming_the_pid() {
    let (_fake, d) = start(|o| o).await;
    let other_socket = d.socket.with_file_name("second.sock");
    let mut cmd = d.command(&other_socket);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = within("the second daemon to exit", cmd.output())
        .await
        .expect("run a second agentmuxd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "second daemon must fail; output:\n{text}"
    );
    let pid = d.pid().to_string();
    assert!(
        text.contains(&pid),
        "second daemon must name the pid {pid} holding the lock; output:\n{text}"
    );
    // The first one is untouched and still owns its socket.
    let h = d.rest().get_ok("/v1/health").await;
    assert_eq!(h["status"], "ok");
    assert_eq!(d.info().await["pid"], d.pid());
}

#[tokio::test]
async fn kill_9_under_load_keeps_every_acknowledged_write() {
    let (_fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    // A live subscriber: every event it is shown was acknowledged as durable.
    let mut live = rest.sse("/v1/events?after=0", None).await;
    let seen = tokio::spawn(async move {
        let mut got = Vec::new();
        // Ends when the daemon dies (the stream breaks or ends).
        while let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_secs(20), live.try_next_event()).await
        {
            if let Some(ev) = item {
                got.push(ev);
            }
        }
        got
    });
    let mut writers = Vec::new();
    for w in 0..4 {
        let rest = rest.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let body = serde_json::json!({ "title": format!("w{w} #{i}") });
                let r = tokio::time::timeout(
                    Duration::from_secs(5),
                    rest.try_request(reqwest::Method::POST, "/v1/sessions", Some(body)),
                )
                .await;
                match r {
                    Ok(Ok(reply)) if reply.status == 201 => acked.push(id_of(&reply.json())),
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    d.kill9().await;
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(within("writer", w).await.expect("writer"));
    }
    let seen = within("live subscriber", seen).await.expect("subscriber");
    assert!(
        acked.len() > 20,
        "load ran: {} creates acknowledged",
        acked.len()
    );

    d.restart().await;
    let rest = d.rest();
    let have: std::collections::BTreeSet<String> =
        all_sessions(&rest).await.iter().map(id_of).collect();
    let head = d.last_seq().await;
    let mut all = rest.sse("/v1/events?after=0", None).await;
    let log = read_contiguous(&mut all, 0, head).await;
    let in_log: std::collections::BTreeSet<String> = log
        .iter()
        .filter(|e| matches!(e.payload, EventPayload::SessionCreated { .. }))
        .map(|e| e.session_id.clone())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !have.contains(*id)).collect();
    if !lost.is_empty() {
        let direct = rest.get(&format!("/v1/sessions/{}", lost[0])).await;
        panic!(
            "{} of {} acknowledged sessions missing from GET /v1/sessions after kill -9 \
             (listed {}, session.created events in the log {}, lost ones in the log {}); \
             GET /v1/sessions/{} -> {} {}",
            lost.len(),
            acked.len(),
            have.len(),
            in_log.len(),
            lost.iter().filter(|id| in_log.contains(**id)).count(),
            lost[0],
            direct.status,
            direct.text()
        );
    }
    for e in &seen {
        assert!(
            e.seq <= head,
            "a published event (seq {}) is missing after restart (head {head})",
            e.seq
        );
        assert_eq!(
            &log[(e.seq - 1) as usize],
            e,
            "published event {} changed",
            e.seq
        );
    }
    eprintln!(
        "kill -9 under load: {} creates acknowledged, {} events seen live, head {head} after restart",
        acked.len(),
        seen.len()
    );
}

#[tokio::test]
async fn queued_input_survives_kill_9_and_runs_on_resume() {
    let (fake, mut d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "resume me").await);
    fake.push(Script::new(vec![
        Step::Text {
            text: "working ".into(),
            delay: Duration::ZERO,
        },
        Step::Hang,
    ]));
    send(&rest, &id, "first").await;
    // The model has the first request (and its hanging script) before the daemon dies.
    agentmux_tests::poll_until(
        "the first model request",
        Duration::from_secs(10),
        || async { (!fake.requests().is_empty()).then_some(()) },
    )
    .await;
    let queued = send(&rest, &id, "second").await;
    assert_eq!(queued["queued"], true, "{queued}");
    let second_id = queued["message"]["id"].as_str().unwrap().to_string();

    d.kill9().await;
    d.restart().await;
    let s = get_session(&rest, &id).await;
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(s["queued"], 1, "{s}");
    assert_eq!(s["busy"], false, "{s}");

    // Nothing runs until asked; resume runs the queued input.
    let r = rest
        .post(&format!("/v1/sessions/{id}/resume"), serde_json::json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = wait_session(&rest, &id, 20, "the queued turn to finish", |s| {
        s["busy"] == false && s["queued"] == 0 && s["status"] == "idle"
    })
    .await;
    assert_eq!(s["last_error"], "", "{s}");
    let answered = messages(&rest, &id)
        .await
        .into_iter()
        .any(|m| m["reply_to"] == second_id.as_str() && m["status"] == "complete");
    assert!(answered, "the queued message was answered");
    // With nothing left, resume says so.
    rest.post(&format!("/v1/sessions/{id}/resume"), serde_json::json!({}))
        .await
        .assert_error(409, "failed_precondition");
}
