//! Send → first `message.delta` on a session with 1,000 earlier messages beside one with 10
//! (issue 8: it should not grow), through the real `agentmuxd` and its `openai` provider against
//! the fake model server. Prints figures; asserts nothing. Run through `tests/bench/run.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use agentmux_shared::types::EventPayload;
use agentmux_tests::client::{Item, Rest, Sse};
use agentmux_tests::daemon::{Daemon, DaemonOptions, daemon_bin};
use agentmux_tests::fake::{FakeModel, Script};
use serde_json::json;
use std::time::{Duration, Instant};

/// Measured turns per session, interleaved so drifting machine load hits both alike.
const RUNS: usize = 30;
/// Earlier messages (a user message and its answer per turn) on the short and the long session.
const SHORT: usize = 10;
const LONG: usize = 1000;

async fn new_session(rest: &Rest, title: &str) -> String {
    let r = rest
        .post(
            "/v1/sessions",
            json!({"title": title, "provider": "openai"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Fills a session with `messages` stored messages: a send and a wait per turn, the fake
/// answering "ok" at once.
async fn fill(rest: &Rest, fake: &FakeModel, id: &str, messages: usize) {
    let path = format!("/v1/sessions/{id}/messages?wait=true");
    for i in 0..messages / 2 {
        fake.push(Script::answer("ok"));
        let r = rest
            .post(&path, json!({"content": format!("message {i}")}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// The next event of the session on `sse`.
async fn next_event(sse: &mut Sse) -> EventPayload {
    loop {
        match sse.next_item().await {
            Some(Item::Event(ev)) => return ev.payload,
            Some(Item::Heartbeat) => {}
            Some(Item::Lagged(n)) => panic!("the event stream lagged (resume after {n})"),
            None => panic!("the event stream ended"),
        }
    }
}

/// Sends one message and times it until `sse` shows the answer's first delta; then reads on to
/// the end of the turn, so the next run starts on an idle session.
async fn send_to_first_delta(rest: &Rest, fake: &FakeModel, sse: &mut Sse, id: &str) -> Duration {
    fake.push(Script::answer("ok"));
    let path = format!("/v1/sessions/{id}/messages");
    let t0 = Instant::now();
    let send = async {
        let r = rest.post(&path, json!({"content": "Say ok."})).await;
        assert_eq!(r.status, 202, "{}", r.text());
    };
    let first_delta = async {
        while !matches!(next_event(sse).await, EventPayload::MessageDelta { .. }) {}
        t0.elapsed()
    };
    let ((), took) = tokio::join!(send, first_delta);
    loop {
        if let EventPayload::TurnFinished(f) = next_event(sse).await {
            assert_eq!(f.status.as_str(), "complete", "{f:?}");
            return took;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    println!("agentmuxd: {}", daemon_bin().display());
    let fake = FakeModel::start().await;
    let d = Daemon::start(DaemonOptions::fake(fake.base_url()).env("AGENTMUX_LOG", "warn")).await;
    let rest = d.rest();
    let short = new_session(&rest, "short").await;
    let long = new_session(&rest, "long").await;
    let t = Instant::now();
    tokio::join!(
        fill(&rest, &fake, &short, SHORT),
        fill(&rest, &fake, &long, LONG)
    );
    println!(
        "set-up: {SHORT} and {LONG} earlier messages (send + wait, two sessions at once) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let head = d.last_seq().await;
    let events = |id: &str| format!("/v1/events?session={id}&after={head}");
    let mut sse_short = rest.sse(&events(&short), None).await;
    let mut sse_long = rest.sse(&events(&long), None).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(send_to_first_delta(&rest, &fake, &mut sse_short, &short).await);
        b.push(send_to_first_delta(&rest, &fake, &mut sse_long, &long).await);
    }
    let (a, b) = (median(&mut a), median(&mut b));
    println!(
        "send -> first message.delta (openai provider, fake model), median of {RUNS}: \
         {SHORT} earlier messages {:.2} ms, {LONG} earlier messages {:.2} ms, ratio {:.2}",
        ms(a),
        ms(b),
        b.as_secs_f64() / a.as_secs_f64()
    );
}
