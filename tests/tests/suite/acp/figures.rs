//! Figures for the closing note, not checks: send → first delta through the daemon (cold and
//! warm) against the CLI alone driven the same way.

use super::{Cli, Env, TURN_SECS, start, timed_turn};
use crate::suite::cli_bin;
use agentmux_tests::fake::{Match, Script};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The CLI alone, driven by hand the same way: spawn → `initialize` → `session/new` →
/// `session/prompt` → the first non-empty `agent_message_chunk`.
async fn cli_alone_first_delta(
    cli: Cli,
    e: &Env,
    model: &str,
    env: &[(String, String)],
) -> Duration {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut args: Vec<String> = match cli {
        Cli::Gemini => vec!["--acp".into()],
        Cli::Qwen => vec!["--acp".into(), "--auth-type".into(), "openai".into()],
        Cli::OpenCode => vec!["acp".into()],
    };
    if cli != Cli::OpenCode {
        args.extend(["-m".to_string(), model.to_string()]);
    }
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(cli_bin().join(cli.id()))
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(e.work.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).await.unwrap();
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1,
        "clientCapabilities": {"fs": {"readTextFile": true, "writeTextFile": true}, "terminal": false}}}))
    .await;
    let deadline = Duration::from_secs(TURN_SECS);
    loop {
        let line = tokio::time::timeout(deadline, lines.next_line())
            .await
            .expect("the CLI answers")
            .unwrap()
            .expect("the CLI stays up");
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["id"] == 1 && v["result"].is_object() {
            send(json!({"jsonrpc": "2.0", "id": 2, "method": "session/new",
                "params": {"cwd": e.work.path(), "mcpServers": []}}))
            .await;
        } else if v["id"] == 2 && v["result"].is_object() {
            send(json!({"jsonrpc": "2.0", "id": 3, "method": "session/prompt",
                "params": {"sessionId": v["result"]["sessionId"], "prompt": [{"type": "text", "text": "Say hello."}]}}))
            .await;
        } else if v["method"] == "session/update"
            && v["params"]["update"]["sessionUpdate"] == "agent_message_chunk"
            && v["params"]["update"]["content"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        {
            return t0.elapsed();
        } else if v["id"].is_number() && v["method"].is_string() {
            // Answer anything it asks, as a client must.
            send(json!({"jsonrpc": "2.0", "id": v["id"], "error": {"code": -32601, "message": "no"}}))
                .await;
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The figures for the closing note (run with `--ignored`): per CLI, send → first
/// `message.delta` at an SSE subscriber, cold (a new agent process) and warm, and the CLI
/// alone from spawn to its first delta; medians of `AGENTMUX_FIGURE_RUNS` (default 5) runs.
#[tokio::test]
#[ignore = "a measurement, not a check: run it explicitly"]
async fn first_delta_figures() {
    let runs: usize = std::env::var("AGENTMUX_FIGURE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for cli in [Cli::Gemini, Cli::Qwen, Cli::OpenCode] {
        let e = start(cli).await;
        let home = tempfile::tempdir().unwrap();
        let (model, env) = cli.setup(home.path(), &e.fake);
        let (mut cold, mut warm, mut alone) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let id = e.session().await;
            e.fake.push(Script::answer("One.").when(Match::has_tools()));
            cold.push(timed_turn(&e, &id, "Say hello.").await.0);
            e.fake.push(Script::answer("Two.").when(Match::has_tools()));
            warm.push(timed_turn(&e, &id, "Again.").await.0);
            e.rest.delete(&format!("/v1/sessions/{id}")).await;
            e.fake
                .push(Script::answer("Alone.").when(Match::has_tools()));
            alone.push(cli_alone_first_delta(cli, &e, &model, &env).await);
        }
        eprintln!(
            "FIGURE {}: send->first delta via agentmuxd cold {:?} warm {:?}; CLI alone spawn->first delta {:?} (medians of {runs}; cold {cold:?}; alone {alone:?})",
            cli.id(),
            median(cold.clone()),
            median(warm),
            median(alone.clone()),
        );
    }
}
