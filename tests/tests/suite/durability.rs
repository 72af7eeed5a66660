//! Process life: `kill -9` mid-stream loses nothing acknowledged, SIGTERM is graceful, and one
//! daemon per data dir.

use super::{create_session, get_session, id_of, messages, send, send_wait, start};
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
    let list = rest.get_ok("/v1/sessions?page_size=1000").await;
    let mut out = BTreeMap::new();
    for s in list["sessions"].as_array().unwrap() {
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
