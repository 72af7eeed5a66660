//! The event log seen by subscribers: replay from a seq with no gap and no duplicate under
//! concurrent writers (SSE, WebSocket, gRPC), reconnects, stalled and lagging subscribers, heartbeats.

use super::{create_session, id_of, send_wait, start};
use agentmux_proto::v1 as pb;
use agentmux_shared::types::Event;
use agentmux_tests::client::{Item, Subscription, Ws, read_contiguous};
use agentmux_tests::fake_openai::{Script, Step};
use agentmux_tests::within;
use pretty_assertions::assert_eq;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Reads from `sub` while writers run, until the head (sent later on `head`) is reached.
/// Checks every seq is the previous + 1, starting at `after + 1`.
async fn collect_live<S: Subscription>(
    mut sub: S,
    after: u64,
    mut head: watch::Receiver<Option<u64>>,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut expect = after + 1;
    loop {
        if let Some(h) = *head.borrow_and_update()
            && expect > h
        {
            return out;
        }
        tokio::select! {
            item = sub.next_item() => match item {
                Some(Item::Event(e)) => {
                    assert_eq!(e.seq, expect, "gap or duplicate (after={after})");
                    expect += 1;
                    out.push(e);
                }
                Some(Item::Heartbeat) => {}
                Some(Item::Lagged(n)) => panic!("unexpected lagged (resume after {n})"),
                None => panic!("stream ended at seq {}", expect - 1),
            },
            _ = head.changed() => {}
        }
    }
}

#[tokio::test]
async fn replay_then_live_has_no_gap_and_no_duplicate_under_concurrent_writers() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    for i in 0..4 {
        let id = id_of(&create_session(&rest, &format!("before {i}")).await);
        if i == 0 {
            send_wait(&rest, &id, "warm up").await;
        }
    }
    let pre_head = d.last_seq().await;
    assert!(pre_head >= 8, "some history to replay: {pre_head}");
    let after = pre_head / 2;
    let (head_tx, head_rx) = watch::channel(None::<u64>);

    // Subscribers opened before the writers start: replay then live.
    let mut readers = Vec::new();
    let sse_header = rest.sse("/v1/events", Some(after)).await;
    readers.push((
        "sse Last-Event-ID",
        tokio::spawn(collect_live(sse_header, after, head_rx.clone())),
    ));
    let sse_query = rest.sse(&format!("/v1/events?after={after}"), None).await;
    readers.push((
        "sse ?after",
        tokio::spawn(collect_live(sse_query, after, head_rx.clone())),
    ));
    let ws = Ws::unix(&d.socket, &format!("/v1/ws?after={after}")).await;
    readers.push(("ws", tokio::spawn(collect_live(ws, after, head_rx.clone()))));
    let grpc = d.grpc().await;
    let sub = grpc.subscribe(after, "").await;
    readers.push((
        "grpc",
        tokio::spawn(collect_live(sub, after, head_rx.clone())),
    ));

    // Writers.
    let mut writers = Vec::new();
    for w in 0..4 {
        let rest = rest.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..2 {
                let id = id_of(&create_session(&rest, &format!("w{w} s{i}")).await);
                send_wait(&rest, &id, &format!("hello from {w}/{i}")).await;
                let r = rest
                    .patch(
                        &format!("/v1/sessions/{id}"),
                        serde_json::json!({"title": format!("w{w} s{i} renamed")}),
                    )
                    .await;
                assert_eq!(r.status, 200);
                send_wait(&rest, &id, "again").await;
            }
        }));
    }
    // Subscribers that join while the writers run: the replay/live hand-over happens mid-write.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let late_sse = rest.sse("/v1/events", Some(after)).await;
    readers.push((
        "late sse",
        tokio::spawn(collect_live(late_sse, after, head_rx.clone())),
    ));
    let late_ws = Ws::unix(&d.socket, &format!("/v1/ws?after={after}")).await;
    readers.push((
        "late ws",
        tokio::spawn(collect_live(late_ws, after, head_rx.clone())),
    ));
    tokio::time::sleep(Duration::from_millis(60)).await;
    let late_grpc = grpc.subscribe(after, "").await;
    readers.push((
        "late grpc",
        tokio::spawn(collect_live(late_grpc, after, head_rx.clone())),
    ));

    for w in writers {
        within("writer", w).await.expect("writer task");
    }
    let head = d.last_seq().await;
    assert!(
        head > pre_head + 40,
        "writers produced events: {pre_head} -> {head}"
    );
    head_tx.send(Some(head)).expect("readers alive");

    let mut results = Vec::new();
    for (name, r) in readers {
        let events = within(name, r)
            .await
            .unwrap_or_else(|e| panic!("reader {name}: {e}"));
        assert_eq!(events.len() as u64, head - after, "{name}");
        results.push((name, events));
    }
    let (first_name, first) = &results[0];
    for (name, events) in &results[1..] {
        assert!(
            events == first,
            "{name} and {first_name} saw different events"
        );
    }

    // Reconnect in the middle with Last-Event-ID: continues exactly after it.
    let mid = after + (head - after) / 2;
    let mut again = rest.sse("/v1/events", Some(mid)).await;
    let tail = read_contiguous(&mut again, mid, head).await;
    assert_eq!(tail.as_slice(), &first[(mid - after) as usize..]);
    let mut ws = Ws::unix(&d.socket, &format!("/v1/ws?after={mid}")).await;
    let tail_ws = read_contiguous(&mut ws, mid, head).await;
    assert_eq!(tail_ws, tail);
}

#[tokio::test]
async fn a_subscriber_that_never_reads_does_not_slow_the_others() {
    let (fake, d) = start(|o| o.daemon("subscriber_buffer = 64")).await;
    let rest = d.rest();
    // Opened and never read until the end: SSE and WebSocket.
    let mut stalled_sse = rest.sse("/v1/events?after=0", None).await;
    let mut stalled_ws = Ws::unix(&d.socket, "/v1/ws?after=0").await;
    let head0 = d.last_seq().await;
    let grpc = d.grpc().await;
    let live = grpc.subscribe(head0, "").await;
    let (head_tx, head_rx) = watch::channel(None::<u64>);
    let live_reader = tokio::spawn(collect_live(live, head0, head_rx));

    // Health latency while the load runs.
    let probe_rest = rest.clone();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let probe = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        while !*stop_rx.borrow_and_update() {
            let t = Instant::now();
            let r = probe_rest.get("/v1/health").await;
            assert_eq!(r.status, 200);
            worst = worst.max(t.elapsed());
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(25)) => {}
                _ = stop_rx.changed() => {}
            }
        }
        worst
    });

    // About 2 MB of deltas plus a few hundred small events.
    let t0 = Instant::now();
    let id = id_of(&create_session(&rest, "load").await);
    let chunk = "x".repeat(1000);
    let steps = (0..2000)
        .map(|i| Step::Text {
            text: chunk.clone(),
            delay: if i % 50 == 0 {
                Duration::from_millis(1)
            } else {
                Duration::ZERO
            },
        })
        .collect();
    fake.push(Script::new(steps));
    let writer_rest = rest.clone();
    let creates = tokio::spawn(async move {
        for i in 0..200 {
            create_session(&writer_rest, &format!("filler {i}")).await;
        }
    });
    let r = send_wait(&rest, &id, "big").await;
    assert_eq!(
        r["reply"]["content"].as_str().map(str::len),
        Some(2_000_000)
    );
    within("creates", creates).await.expect("creates");
    let load_time = t0.elapsed();
    let head = d.last_seq().await;
    head_tx.send(Some(head)).expect("live reader alive");
    let live_events = within("live reader", live_reader)
        .await
        .expect("live reader");
    assert_eq!(live_events.len() as u64, head - head0);
    let live_time = t0.elapsed();
    stop_tx.send(true).expect("probe alive");
    let worst = within("probe", probe).await.expect("probe");
    eprintln!("load {load_time:?}, live reader done at {live_time:?}, worst health {worst:?}");
    assert!(
        load_time < Duration::from_secs(15),
        "load took {load_time:?}"
    );
    assert!(
        worst < Duration::from_secs(1),
        "health slowed to {worst:?} by a stalled subscriber"
    );

    // The stalled ones: contiguous from 1, then either the head or an explicit lagged marker at
    // exactly the last delivered seq.
    for (name, sub) in [
        ("sse", &mut stalled_sse as &mut dyn StalledReader),
        ("ws", &mut stalled_ws as &mut dyn StalledReader),
    ] {
        let mut expect = 1;
        let mut lagged = None;
        while expect <= head {
            match sub.next().await {
                Some(Item::Event(e)) => {
                    assert_eq!(e.seq, expect, "{name}: gap or duplicate");
                    expect += 1;
                }
                Some(Item::Heartbeat) => {}
                Some(Item::Lagged(n)) => {
                    lagged = Some(n);
                    break;
                }
                None => panic!("{name}: stream ended at {} without lagged", expect - 1),
            }
        }
        eprintln!(
            "stalled {name}: delivered up to {}, lagged {lagged:?}",
            expect - 1
        );
        if let Some(n) = lagged {
            assert_eq!(
                n,
                expect - 1,
                "{name}: resume_after_seq is the last delivered seq"
            );
        }
    }
}

/// Object-safe reading for the stalled-subscriber loop.
trait StalledReader {
    fn next(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Item>> + Send + '_>>;
}
impl<S: Subscription + Send> StalledReader for S {
    fn next(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Item>> + Send + '_>> {
        Box::pin(self.next_item())
    }
}

#[tokio::test]
async fn stalled_grpc_subscriber_gets_lagged_and_resumes_without_gap() {
    let (_fake, d) = start(|o| o.daemon("subscriber_buffer = 16")).await;
    let head0 = d.last_seq().await;
    // A small HTTP/2 window on its own connection, so the daemon feels the back-pressure soon.
    let slow = agentmux_tests::client::Grpc::unix(&d.socket, |e| {
        e.initial_stream_window_size(65_535)
            .initial_connection_window_size(65_535)
    })
    .await;
    let mut stalled = slow.subscribe(head0, "").await;

    // Writers keep going while the subscriber first stalls, then reads slowly.
    let grpc = d.grpc().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    // Many writers, so groups commit several events per fsync even when the disk is slow.
    for w in 0..16 {
        let g = grpc.clone();
        let stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = g.sessions();
            let mut n = 0u64;
            while !*stop.borrow() && n < 5_000 {
                s.create_session(pb::CreateSessionRequest {
                    title: format!("{w}-{n}-{}", "t".repeat(90)),
                    ..Default::default()
                })
                .await
                .expect("create while a subscriber is stalled");
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Read slowly: contiguous events, then Lagged at exactly the last delivered seq.
    let t0 = Instant::now();
    let mut expect = head0 + 1;
    let resume = loop {
        match stalled.next_item().await {
            Some(Item::Event(e)) => {
                assert_eq!(e.seq, expect, "gap or duplicate before lagged");
                expect += 1;
            }
            Some(Item::Heartbeat) => {}
            Some(Item::Lagged(n)) => break n,
            None => panic!("stream ended at {} without Lagged", expect - 1),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "a slow reader (buffer 16) never got Lagged; read up to {}",
            expect - 1
        );
        // Far slower than the writers, even on a loaded machine (CI runs other suites and the
        // provider CLIs beside this one), so the daemon sees a reader that stays behind rather
        // than one that catches up (which it may heal from the store).
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop_tx.send(true).expect("writers alive");
    let mut created = 0;
    for t in tasks {
        created += within("writer", t).await.expect("writer task");
    }
    eprintln!(
        "lagged after {:?} at seq {resume}; {created} sessions created",
        t0.elapsed()
    );
    assert_eq!(
        resume,
        expect - 1,
        "resume_after_seq is the last delivered seq"
    );
    // The stream ends after Lagged.
    let after_lag = within("stream end after Lagged", stalled.stream.message()).await;
    assert!(
        matches!(after_lag, Ok(None)),
        "Subscribe must end after Lagged, got {after_lag:?}"
    );

    // Resubscribing from resume_after_seq continues without a gap.
    let head = d.last_seq().await;
    assert!(head > resume);
    let mut again = grpc.subscribe(resume, "").await;
    let tail = read_contiguous(&mut again, resume, head).await;
    assert_eq!(tail.len() as u64, head - resume);
}

#[tokio::test]
async fn heartbeats_arrive_on_idle_streams() {
    let (_fake, d) = start(|o| o.daemon("heartbeat_secs = 1")).await;
    let rest = d.rest();
    let head = d.last_seq().await;
    let mut sse = rest.sse(&format!("/v1/events?after={head}"), None).await;
    let mut ws = Ws::unix(&d.socket, &format!("/v1/ws?after={head}")).await;
    let grpc = d.grpc().await;
    let mut sub = grpc.subscribe(head, "").await;
    let t0 = Instant::now();
    for (name, s) in [
        ("sse", &mut sse as &mut dyn StalledReader),
        ("ws", &mut ws as &mut dyn StalledReader),
        ("grpc", &mut sub as &mut dyn StalledReader),
    ] {
        let item = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap_or_else(|_| panic!("{name}: no heartbeat within 5 s (heartbeat_secs = 1)"));
        assert_eq!(item, Some(Item::Heartbeat), "{name}");
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
}
