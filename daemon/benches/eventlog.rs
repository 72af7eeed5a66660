//! Event-log figures with durability on: append throughput, 1M-event replay, fan-out latency.
//! Run: `cargo bench -p agentmux-daemon --bench eventlog` (prints figures; not a pass/fail test).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use agentmux_daemon::log::{EventLog, LogOptions, NewEvent};
use agentmux_daemon::store::Store;
use agentmux_shared::types::{EventPayload, StreamItem};
use std::time::{Duration, Instant};

fn delta(i: u64) -> NewEvent {
    NewEvent::new(
        "ses_01bench000000000000000000",
        EventPayload::MessageDelta {
            message_id: "msg_01bench000000000000000000".into(),
            text: format!("token {i} "),
        },
    )
}

fn open(dir: &std::path::Path, buffer: usize) -> (EventLog, Store) {
    let store = Store::open(&dir.join("store")).expect("open store");
    let (log, _) = EventLog::start(
        store.clone(),
        &dir.join("journal"),
        LogOptions {
            subscriber_buffer: buffer,
            heartbeat: Duration::from_secs(10),
        },
    )
    .expect("start log");
    (log, store)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn throughput(dir: &std::path::Path) {
    let (log, _) = open(dir, 4096);
    // Streaming producers: 8 sessions appending deltas, then one durable barrier.
    let n_tasks = 8u64;
    let per = 125_000u64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..n_tasks {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                log.append(vec![delta(i)]).await.expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    log.commit(vec![], vec![]).await.expect("barrier");
    let el = t.elapsed();
    let n = n_tasks * per;
    println!(
        "append+publish, durable: {n} events in {:.2} s = {:.0} events/s",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
    // Acknowledged commits: each waits for its own durability (64 concurrent writers).
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                log.commit(vec![], vec![delta(i)]).await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let el = t.elapsed();
    println!(
        "acknowledged commits, 64 writers: {:.0} commits/s",
        32_000.0 / el.as_secs_f64()
    );
}

async fn replay(dir: &std::path::Path) {
    let (log, _) = open(dir, 4096);
    let have = log.durable_seq();
    let want = 1_000_000u64;
    if have < want {
        for chunk in 0..((want - have) / 1000 + 1) {
            let evs = (0..1000).map(|i| delta(chunk * 1000 + i)).collect();
            log.append(evs).await.expect("append");
        }
        log.commit(vec![], vec![]).await.expect("barrier");
    }
    let head = log.durable_seq();
    let start_after = head - want;
    let mut rx = log.subscribe(start_after, None);
    let t = Instant::now();
    let mut got = 0u64;
    let mut last = start_after;
    while got < want {
        match rx.recv().await {
            Some(StreamItem::Event(e)) => {
                assert_eq!(e.seq, last + 1, "gap or duplicate in replay");
                last = e.seq;
                got += 1;
            }
            Some(_) => {}
            None => panic!("subscription ended early"),
        }
    }
    let el = t.elapsed();
    println!(
        "replay of {want} stored events to one subscriber: {:.3} s ({:.0} events/s)",
        el.as_secs_f64(),
        want as f64 / el.as_secs_f64()
    );
}

async fn fanout(dir: &std::path::Path) {
    let (log, _) = open(dir, 4096);
    let subs = 10;
    let rounds = 2000usize;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    for _ in 0..subs {
        let mut s = log.subscribe(log.durable_seq(), None);
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(item) = s.recv().await {
                if let StreamItem::Event(e) = item {
                    let _ = tx.send((e.seq, Instant::now()));
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut append_to_receipt = Vec::with_capacity(rounds * subs);
    let mut publish_to_receipt = Vec::with_capacity(rounds * subs);
    for i in 0..rounds {
        let t0 = Instant::now();
        let evs = log
            .commit(vec![], vec![delta(i as u64)])
            .await
            .expect("commit");
        let t_pub = Instant::now();
        let seq = evs[0].seq;
        let mut seen = 0;
        while seen < subs {
            let (s, at) = rx.recv().await.expect("receipt");
            if s == seq {
                seen += 1;
                append_to_receipt.push(at.duration_since(t0));
                // A receipt can land before `commit` returns to us; count that as zero.
                publish_to_receipt.push(at.saturating_duration_since(t_pub.min(at)));
            }
        }
    }
    append_to_receipt.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "fan-out to {subs} subscribers, append (incl. fsync) -> receipt: p50 {:.0} us, p99 {:.0} us",
        us(pct(&append_to_receipt, 0.5)),
        us(pct(&append_to_receipt, 0.99))
    );
    // Durable -> receipt: time from the writer publishing to each subscriber holding the event,
    // measured from the commit acknowledgement (sent right after publishing).
    publish_to_receipt.sort();
    println!(
        "fan-out, publish -> receipt (upper bound): p50 {:.0} us, p99 {:.0} us",
        us(pct(&publish_to_receipt, 0.5)),
        us(pct(&publish_to_receipt, 0.99))
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let which = std::env::args().nth(1).unwrap_or_default();
    let base = tempfile::tempdir().expect("tempdir");
    rt.block_on(async {
        if which.is_empty() || which == "throughput" || which == "--bench" {
            throughput(&base.path().join("t")).await;
        }
        if which.is_empty() || which == "replay" || which == "--bench" {
            replay(&base.path().join("r")).await;
        }
        if which.is_empty() || which == "fanout" || which == "--bench" {
            fanout(&base.path().join("f")).await;
        }
    });
}
