//! The first-delta figures (ignored by default): send → first `message.delta` at an SSE
//! subscriber through the daemon, cold and warm, and the CLI alone driven the same way.

use super::super::{cli_bin, send};
use super::harness::{Env, start};
use agentmux_shared::types::EventPayload;
use agentmux_tests::client::Item;
use agentmux_tests::fake::{Match, Script};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Send → first `message.delta` at an SSE subscriber.
async fn first_delta(e: &Env, id: &str, prompt: &str) -> Duration {
    e.fake.push(Script::answer("Hi.").when(Match::has_tools()));
    let mut sse = e
        .rest
        .sse(
            &format!("/v1/events?session={id}&after={}", e.d.last_seq().await),
            None,
        )
        .await;
    let t0 = Instant::now();
    send(&e.rest, id, prompt).await;
    let mut first = None;
    loop {
        let Some(Item::Event(ev)) = sse.next_item().await else {
            continue;
        };
        match ev.payload {
            EventPayload::MessageDelta { .. } => {
                first.get_or_insert_with(|| t0.elapsed());
            }
            EventPayload::TurnFinished(_) => break,
            _ => {}
        }
    }
    first.expect("a delta")
}

/// `codex app-server` alone, driven the same way: (spawn → first `item/agentMessage/delta`,
/// `turn/start` → that delta).
async fn cli_first_delta(e: &Env) -> (Duration, Duration) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    e.fake.push(Script::answer("Hi.").when(Match::has_tools()));
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(cli_bin().join("codex"))
        .arg("app-server")
        .current_dir(e.dirs.work())
        .envs(e.dirs.env())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pgid = child.id().unwrap() as i32;
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let work = e.dirs.work().display().to_string();
    let mut write = async |v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).await.unwrap();
    };
    write(json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "bench", "version": "0"}}})).await;
    write(json!({"method": "initialized"})).await;
    write(json!({"id": 2, "method": "thread/start", "params": {"cwd": work, "approvalPolicy": "untrusted", "sandbox": "workspace-write"}})).await;
    let mut turn_sent = t0;
    loop {
        let line = agentmux_tests::within("codex output", lines.next_line())
            .await
            .unwrap()
            .expect("codex ended early");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 2 {
            let thread = v["result"]["thread"]["id"].clone();
            turn_sent = Instant::now();
            write(json!({"id": 3, "method": "turn/start", "params": {"threadId": thread, "input": [{"type": "text", "text": "Say hi."}]}})).await;
        }
        if v["method"] == "item/agentMessage/delta" {
            let took = (t0.elapsed(), turn_sent.elapsed());
            // SAFETY: kill(2) on the process group this test just spawned.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait().await;
            return took;
        }
    }
}

/// The figures for the closing note: `cargo test -p agentmux-tests --test all
/// codex::figures -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: run it by name"]
async fn first_delta_figures() {
    const RUNS: usize = 7;
    let e = start().await;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..RUNS {
        let id = e.session("ask").await;
        cold.push(first_delta(&e, &id, &format!("Cold {i}.")).await);
        warm.push(first_delta(&e, &id, &format!("Warm {i}.")).await);
    }
    let mut alone = Vec::new();
    let mut alone_turn = Vec::new();
    for _ in 0..RUNS {
        let (spawn, turn) = cli_first_delta(&e).await;
        alone.push(spawn);
        alone_turn.push(turn);
    }
    eprintln!(
        "codex first delta, median of {RUNS}: via agentmuxd cold {:?}, warm {:?}; CLI alone \
         spawn -> delta {:?}, turn/start -> delta {:?}",
        median(cold.clone()),
        median(warm.clone()),
        median(alone.clone()),
        median(alone_turn.clone())
    );
    eprintln!("cold {cold:?}\nwarm {warm:?}\nalone {alone:?}\nalone turn {alone_turn:?}");
}
