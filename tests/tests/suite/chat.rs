//! Turns against the fake model server: answers and history, streaming deltas, the queue, soft and
//! hard cancel, hanging and failing models.

use super::{
    assert_healthy, chat_history, create_session, get_session, id_of, messages, pair, send,
    send_wait, start, wait_session,
};
use agentmux_shared::types::{Event, EventPayload, MessageStatus};
use agentmux_tests::client::{Item, Subscription, Ws};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::fake_openai::{FakeOpenAi, Gate, Script, Step};
use agentmux_tests::poll_until;
use pretty_assertions::assert_eq;
use serde_json::json;
use std::time::{Duration, Instant};

fn text(t: &str, ms: u64) -> Step {
    Step::Text {
        text: t.into(),
        delay: Duration::from_millis(ms),
    }
}

#[tokio::test]
async fn send_wait_returns_the_answer_and_sends_history() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "chat").await);

    let first = send_wait(&rest, &id, "first question").await;
    assert_eq!(first["queued"], false);
    assert_eq!(first["message"]["role"], "user");
    assert_eq!(first["message"]["content"], "first question");
    let reply = &first["reply"];
    assert_eq!(reply["role"], "assistant");
    assert_eq!(reply["content"], "echo: first question");
    assert_eq!(reply["status"], "complete");
    assert_eq!(reply["model"], "fake-model");
    assert_eq!(reply["reply_to"], first["message"]["id"]);
    assert_eq!(reply["session_id"], id.as_str());
    assert_eq!(
        reply["usage"],
        json!({"input_tokens": 11, "output_tokens": 7, "reasoning_tokens": 0}),
        "token usage from the final stream chunk is stored"
    );
    assert!(reply["completed_at_ms"].as_i64().unwrap() >= reply["created_at_ms"].as_i64().unwrap());

    fake.push(
        Script::chunks(&["Hello", ", ", "world"], Duration::from_millis(5)).with_usage(30, 3),
    );
    let second = send_wait(&rest, &id, "second question").await;
    assert_eq!(second["reply"]["content"], "Hello, world");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(chat_history(&reqs[0]), vec![pair("user", "first question")]);
    assert_eq!(
        chat_history(&reqs[1]),
        vec![
            pair("user", "first question"),
            pair("assistant", "echo: first question"),
            pair("user", "second question"),
        ],
        "the model sees the earlier turns"
    );
    for r in &reqs {
        assert_eq!(r.body["model"], "fake-model");
        assert_eq!(r.body["stream"], true);
        assert_eq!(r.authorization, "Bearer fake-key");
    }

    let s = get_session(&rest, &id).await;
    assert_eq!(s["message_count"], 4);
    assert_eq!(s["status"], "idle");
    assert_eq!(
        s["usage"]["input_tokens"], 41,
        "session usage is the sum: {s}"
    );
    assert_eq!(
        s["usage"]["output_tokens"], 10,
        "session usage is the sum: {s}"
    );
    let stored = messages(&rest, &id).await;
    assert_eq!(stored[3]["content"], "Hello, world");
    assert_eq!(stored[3]["usage"]["input_tokens"], 30);
}

/// Reads until the turn for `session` finishes; returns the events of that session.
async fn read_turn<S: Subscription>(sub: &mut S, session: &str) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        match sub.next_item().await {
            Some(Item::Event(e)) => {
                assert_eq!(
                    e.session_id, session,
                    "filtered stream carries only this session"
                );
                let done = matches!(e.payload, EventPayload::TurnFinished(_));
                out.push(e);
                if done {
                    return out;
                }
            }
            Some(Item::Heartbeat) => {}
            Some(Item::Lagged(n)) => panic!("lagged at {n}"),
            None => panic!("stream ended before turn.finished; got {out:#?}"),
        }
    }
}

fn check_turn_events(events: &[Event], want_text: &str, want_reasoning: &str) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs increase: {seqs:?}"
    );
    let names: Vec<&str> = events.iter().map(|e| e.payload.name()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n);
    let started = pos("turn.started").unwrap_or_else(|| panic!("no turn.started in {names:?}"));
    let first_delta =
        pos("message.delta").unwrap_or_else(|| panic!("no message.delta in {names:?}"));
    let completed =
        pos("message.completed").unwrap_or_else(|| panic!("no message.completed in {names:?}"));
    assert!(
        pos("message.created").is_some_and(|p| p < first_delta),
        "{names:?}"
    );
    assert!(
        started < first_delta && first_delta < completed,
        "{names:?}"
    );
    let assistant_id = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::TurnStarted {
                assistant_message_id,
                ..
            } => Some(assistant_message_id.clone()),
            _ => None,
        })
        .unwrap();
    let mut deltas = Vec::new();
    let mut reasoning = String::new();
    for e in events {
        match &e.payload {
            EventPayload::MessageDelta { message_id, text } => {
                assert_eq!(message_id, &assistant_id);
                deltas.push(text.clone());
            }
            EventPayload::ReasoningDelta { message_id, text } => {
                assert_eq!(message_id, &assistant_id);
                reasoning.push_str(text);
            }
            EventPayload::MessageCompleted { message } if message.id == assistant_id => {
                assert_eq!(message.content, want_text);
                assert_eq!(message.status, MessageStatus::Complete);
            }
            EventPayload::TurnFinished(t) => {
                assert_eq!(t.assistant_message_id, assistant_id);
                assert_eq!(t.status, MessageStatus::Complete);
            }
            _ => {}
        }
    }
    assert_eq!(
        deltas.concat(),
        want_text,
        "deltas add up to the answer, in order"
    );
    assert!(
        deltas.len() >= 2,
        "the answer streams in several deltas: {deltas:?}"
    );
    assert_eq!(reasoning, want_reasoning);
}

#[tokio::test]
async fn streaming_deltas_arrive_in_order_over_sse_and_grpc() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "stream").await);
    let head = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?after={head}&session={id}"), None)
        .await;
    let g = d.grpc().await;
    let mut sub = g.subscribe(head, &id).await;
    let mut ws = Ws::unix(&d.socket, &format!("/v1/ws?after={head}&session={id}")).await;
    // Another session's events must not show up in the filtered streams.
    let other = id_of(&create_session(&rest, "other").await);
    send_wait(&rest, &other, "noise").await;

    let mut steps = vec![Step::Reasoning {
        text: "thinking…".into(),
        delay: Duration::from_millis(20),
    }];
    for w in ["alpha ", "beta ", "gamma ", "delta ", "omega"] {
        steps.push(text(w, 40));
    }
    fake.push(Script::new(steps));
    let sent = send(&rest, &id, "go").await;
    assert_eq!(sent["queued"], false);
    assert_eq!(sent["message"]["content"], "go");

    let over_sse = read_turn(&mut sse, &id).await;
    check_turn_events(&over_sse, "alpha beta gamma delta omega", "thinking…");
    let over_grpc = read_turn(&mut sub, &id).await;
    check_turn_events(&over_grpc, "alpha beta gamma delta omega", "thinking…");
    let over_ws = read_turn(&mut ws, &id).await;
    assert_eq!(over_sse, over_grpc, "SSE and gRPC carry the same events");
    assert_eq!(over_sse, over_ws, "SSE and WebSocket carry the same events");
    assert!(over_sse[0].seq > head);
    // The answer keeps its reasoning, so a transcript read later shows it too.
    let msgs = messages(&rest, &id).await;
    assert_eq!(msgs[1]["reasoning"], "thinking…");
    assert_eq!(msgs[1]["content"], "alpha beta gamma delta omega");
}

#[tokio::test]
async fn message_sent_while_busy_is_queued_and_runs_next() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "queue").await);
    let gate = Gate::new();
    fake.push(Script::new(vec![
        text("first part", 0),
        Step::Wait(gate.clone()),
        text(" done", 0),
    ]));

    let a = send(&rest, &id, "A").await;
    assert_eq!(a["queued"], false);
    fake.wait_requests(1, Duration::from_secs(10)).await;
    let b = send(&rest, &id, "B").await;
    assert_eq!(b["queued"], true, "B waits behind A: {b}");
    let s = get_session(&rest, &id).await;
    assert_eq!(
        (s["busy"].clone(), s["queued"].clone()),
        (json!(true), json!(1)),
        "{s}"
    );
    assert_eq!(s["status"], "busy");
    let b_id = b["message"]["id"].as_str().unwrap().to_string();
    let stored_b = messages(&rest, &id)
        .await
        .into_iter()
        .find(|m| m["id"] == b_id.as_str())
        .expect("queued message is stored");
    assert_eq!(stored_b["status"], "queued");
    // Nothing for B reached the model yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.request_count(), 1);

    gate.open();
    let s = wait_session(&rest, &id, 10, "both turns done", |s| {
        s["busy"] == false && s["message_count"] == 4
    })
    .await;
    assert_eq!(
        (s["status"].clone(), s["queued"].clone()),
        (json!("idle"), json!(0))
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        chat_history(&reqs[0]),
        vec![pair("user", "A")],
        "B is not sent with A"
    );
    assert_eq!(
        chat_history(&reqs[1]),
        vec![
            pair("user", "A"),
            pair("assistant", "first part done"),
            pair("user", "B")
        ]
    );
    let msgs = messages(&rest, &id).await;
    let replies: Vec<(String, String)> = msgs
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            pair("first part done", "complete"),
            pair("echo: B", "complete")
        ]
    );
}

/// Waits until the session's SSE stream shows a delta with `text`.
async fn wait_delta<S: Subscription>(sub: &mut S, want: &str) {
    let mut seen = String::new();
    while !seen.contains(want) {
        match sub.next_item().await {
            Some(Item::Event(e)) => {
                if let EventPayload::MessageDelta { text, .. } = e.payload {
                    seen.push_str(&text);
                }
            }
            Some(_) => {}
            None => panic!("stream ended before delta {want:?}"),
        }
    }
}

#[tokio::test]
async fn soft_cancel_keeps_partial_text_and_the_queue() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "cancel").await);
    let head = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?after={head}&session={id}"), None)
        .await;
    fake.push(Script::new(vec![text("partial ", 0), Step::Hang]));

    send(&rest, &id, "long").await;
    wait_delta(&mut sse, "partial ").await;
    let queued = send(&rest, &id, "next").await;
    assert_eq!(queued["queued"], true);

    let r = rest
        .post(
            &format!("/v1/sessions/{id}/cancel"),
            json!({"clear_queue": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"id": id, "cancelled_turn": true, "dropped_queued": 0})
    );

    // The queued message runs next (default echo script).
    let s = wait_session(&rest, &id, 10, "queued turn done", |s| {
        s["busy"] == false && s["message_count"] == 4
    })
    .await;
    assert_eq!(s["status"], "idle");
    let msgs = messages(&rest, &id).await;
    let cancelled = msgs
        .iter()
        .find(|m| m["role"] == "assistant" && m["reply_to"] == msgs[0]["id"])
        .expect("reply to the cancelled turn");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["content"], "partial ",
        "soft cancel keeps the partial text"
    );
    let last = msgs.last().unwrap();
    assert_eq!(
        (last["content"].clone(), last["status"].clone()),
        (json!("echo: next"), json!("complete"))
    );
    poll_until(
        "the daemon to close the model stream",
        Duration::from_secs(5),
        || async { (fake.disconnects() >= 1).then_some(()) },
    )
    .await;

    // Cancel with nothing queued: the session is idle right away.
    fake.push(Script::new(vec![text("again ", 0), Step::Hang]));
    send(&rest, &id, "third").await;
    wait_delta(&mut sse, "again ").await;
    let t0 = Instant::now();
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/cancel"),
            json!({"clear_queue": false}),
        )
        .await;
    assert_eq!(r.json()["cancelled_turn"], true, "{}", r.text());
    wait_session(&rest, &id, 3, "idle after cancel", |s| {
        s["busy"] == false && s["status"] == "idle"
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn hard_cancel_drops_the_queue() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "hard").await);
    fake.push(Script::new(vec![text("working ", 0), Step::Hang]));

    send(&rest, &id, "A").await;
    fake.wait_requests(1, Duration::from_secs(10)).await;
    let b = send(&rest, &id, "B").await;
    let c = send(&rest, &id, "C").await;
    assert_eq!(
        (b["queued"].clone(), c["queued"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(get_session(&rest, &id).await["queued"], 2);

    let r = rest
        .post(
            &format!("/v1/sessions/{id}/cancel"),
            json!({"clear_queue": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"id": id, "cancelled_turn": true, "dropped_queued": 2})
    );
    let s = wait_session(&rest, &id, 3, "idle after hard cancel", |s| {
        s["busy"] == false
    })
    .await;
    assert_eq!(
        (s["status"].clone(), s["queued"].clone()),
        (json!("idle"), json!(0))
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.request_count(),
        1,
        "dropped messages never reach the model"
    );
    let msgs = messages(&rest, &id).await;
    for dropped in [&b, &c] {
        let m = msgs
            .iter()
            .find(|m| m["id"] == dropped["message"]["id"])
            .expect("dropped message is still in the history");
        assert_eq!(m["status"], "cancelled", "{m}");
    }

    // The session is not stuck.
    let r = send_wait(&rest, &id, "after").await;
    assert_eq!(r["reply"]["content"], "echo: after");
}

#[tokio::test]
async fn hanging_model_fails_the_turn_after_the_idle_timeout() {
    let (fake, d) = start(|o| o.openai("idle_timeout_secs = 1")).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "hang").await);

    // Stops mid-stream.
    fake.push(Script::new(vec![text("abc", 0), Step::Hang]));
    let t0 = Instant::now();
    send(&rest, &id, "one").await;
    let s = wait_session(&rest, &id, 10, "failed after the idle timeout", |s| {
        s["status"] == "failed"
    })
    .await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "failed too early: {took:?}"
    );
    assert!(!s["busy"].as_bool().unwrap(), "{s}");
    assert!(
        !s["last_error"].as_str().unwrap().is_empty(),
        "last_error says why: {s}"
    );
    let msgs = messages(&rest, &id).await;
    let reply = msgs
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("assistant message");
    assert_eq!(reply["status"], "failed", "{reply}");
    assert!(!reply["error"].as_str().unwrap().is_empty(), "{reply}");

    // Never answers at all (no headers).
    fake.push(Script::new(vec![Step::Hang]));
    send(&rest, &id, "two").await;
    wait_session(&rest, &id, 10, "second turn fails", |s| {
        s["status"] == "failed" && s["message_count"] == 4 && s["busy"] == false
    })
    .await;

    // The next message retries and works.
    let r = send_wait(&rest, &id, "three").await;
    assert_eq!(r["reply"]["content"], "echo: three");
    let s = get_session(&rest, &id).await;
    assert_eq!(s["status"], "idle");
}

#[tokio::test]
async fn model_errors_fail_the_session_and_the_daemon_keeps_serving() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "errors").await);

    fake.push(Script::http_error(500, "fake upstream exploded"));
    send(&rest, &id, "boom").await;
    let s = wait_session(&rest, &id, 10, "failed after HTTP 500", |s| {
        s["status"] == "failed"
    })
    .await;
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("500") || err.contains("fake upstream exploded"),
        "last_error should mention the upstream failure: {err:?}"
    );
    assert_eq!(s["busy"], false);
    assert_healthy(&rest).await;

    // Malformed stream data ends the turn one way or the other, never hangs it.
    fake.push(Script::new(vec![
        text("ok ", 0),
        Step::Malformed("{not json".into()),
    ]));
    send(&rest, &id, "garbage").await;
    wait_session(&rest, &id, 10, "turn over malformed data finished", |s| {
        s["busy"] == false && s["message_count"] == 4
    })
    .await;
    assert_healthy(&rest).await;

    // A stream that stops without [DONE] is not left running either.
    fake.push(Script::new(vec![text("cut", 0), Step::Abort]));
    send(&rest, &id, "cut").await;
    wait_session(&rest, &id, 10, "turn over a cut stream finished", |s| {
        s["busy"] == false && s["message_count"] == 6
    })
    .await;

    // Recovers: next message succeeds and clears the error.
    let r = send_wait(&rest, &id, "fine").await;
    assert_eq!(r["reply"]["content"], "echo: fine");
    let s = get_session(&rest, &id).await;
    assert_eq!(s["status"], "idle");
    assert_eq!(s["last_error"], "", "a successful turn clears last_error");

    // Other sessions were never affected.
    let other = id_of(&create_session(&rest, "other").await);
    let r = send_wait(&rest, &other, "hi").await;
    assert_eq!(r["reply"]["content"], "echo: hi");
}

#[tokio::test]
async fn cancel_and_delete_work_while_the_model_has_not_answered() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "silent").await);

    // The model never sends headers: cancel still frees the session.
    fake.push(Script::new(vec![Step::Hang]));
    send(&rest, &id, "hello?").await;
    fake.wait_requests(1, Duration::from_secs(10)).await;
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/cancel"),
            json!({"clear_queue": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cancelled_turn"], true);
    wait_session(&rest, &id, 3, "idle after cancelling a silent model", |s| {
        s["busy"] == false && s["status"] == "idle"
    })
    .await;
    let msgs = messages(&rest, &id).await;
    assert_eq!(msgs.last().unwrap()["status"], "cancelled", "{msgs:#?}");

    // Deleting a busy session stops its turn and removes it.
    let doomed = id_of(&create_session(&rest, "doomed").await);
    fake.push(Script::new(vec![text("some ", 0), Step::Hang]));
    send(&rest, &doomed, "work").await;
    fake.wait_requests(2, Duration::from_secs(10)).await;
    let r = rest.delete(&format!("/v1/sessions/{doomed}")).await;
    assert_eq!(r.status, 200, "DELETE a busy session: {}", r.text());
    rest.get(&format!("/v1/sessions/{doomed}"))
        .await
        .assert_error(404, "not_found");
    poll_until(
        "the deleted session's model stream to close",
        Duration::from_secs(5),
        || async { (fake.disconnects() >= 2).then_some(()) },
    )
    .await;
    assert_healthy(&rest).await;
    let r = send_wait(&rest, &id, "still here").await;
    assert_eq!(r["reply"]["content"], "echo: still here");
}

#[tokio::test]
async fn provider_settings_come_from_the_environment_unless_the_config_sets_them() {
    let fake = FakeOpenAi::start().await;
    let d = Daemon::start(
        DaemonOptions::default()
            .openai(&format!("model = {:?}", agentmux_tests::fake_openai::MODEL))
            .env("OPENAI_BASE_URL", &fake.base_url())
            .env("OPENAI_API_KEY", "env-key"),
    )
    .await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "env").await);
    let r = send_wait(&rest, &id, "from env").await;
    assert_eq!(r["reply"]["content"], "echo: from env");
    assert_eq!(fake.requests()[0].authorization, "Bearer env-key");

    // The config file wins over the environment.
    let config_fake = FakeOpenAi::start().await;
    let d = Daemon::start(
        DaemonOptions::fake(config_fake.base_url())
            .env("OPENAI_BASE_URL", &fake.base_url())
            .env("OPENAI_API_KEY", "env-key"),
    )
    .await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "config").await);
    let r = send_wait(&rest, &id, "from config").await;
    assert_eq!(r["reply"]["content"], "echo: from config");
    assert_eq!(config_fake.request_count(), 1);
    assert_eq!(config_fake.requests()[0].authorization, "Bearer fake-key");
    assert_eq!(fake.request_count(), 1, "the env server got nothing more");
}
