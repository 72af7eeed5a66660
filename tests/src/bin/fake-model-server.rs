//! The scripted fake model server as a process, for recording real CLIs (tests/cli/record.py).
//!
//! `fake-model-server [--addr 127.0.0.1:0] [--scripts FILE.json] [--log FILE.jsonl]`
//!
//! Prints `http://ADDR` on the first stdout line, then serves until stdin closes. FILE.json is a list
//! of scripts, taken in order by the model requests they match:
//! `[{"when": {"has_tools": true} | {"offers_tool": "Write"} | {"body_contains": "…"},
//!    "steps": [{"text": "…"}, {"reasoning": "…"}, {"tool": "Write", "input": {…}},
//!              {"custom_tool": "apply_patch", "input": "*** Begin Patch…"},
//!              {"error": 529, "message": "…"}, {"hang": true}, {"abort": true}, {"sleep_ms": 100}]}]`
//! (`sleep_ms` delays the next step). Unmatched requests get the echo script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agentmux_tests::fake::{FakeModel, Match, Script, Step};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

fn script(v: &Value) -> Result<Script, String> {
    let mut steps = Vec::new();
    let mut delay = Duration::ZERO;
    for s in v["steps"].as_array().ok_or("a script needs steps")? {
        if let Some(ms) = s["sleep_ms"].as_u64() {
            delay += Duration::from_millis(ms);
            continue;
        }
        let d = std::mem::take(&mut delay);
        let step = if let Some(t) = s["text"].as_str() {
            Step::Text {
                text: t.into(),
                delay: d,
            }
        } else if let Some(t) = s["reasoning"].as_str() {
            Step::Reasoning {
                text: t.into(),
                delay: d,
            }
        } else if let Some(name) = s["tool"].as_str() {
            Step::Tool {
                name: name.into(),
                input: s["input"].clone(),
                delay: d,
            }
        } else if let Some(name) = s["custom_tool"].as_str() {
            let input = s["input"]
                .as_str()
                .ok_or("custom_tool input must be text")?;
            Step::CustomTool {
                name: name.into(),
                input: input.into(),
                delay: d,
            }
        } else if let Some(status) = s["error"].as_u64() {
            Step::ApiError {
                status: u16::try_from(status).map_err(|e| e.to_string())?,
                message: s["message"].as_str().unwrap_or("fake error").into(),
            }
        } else if s["hang"] == true {
            Step::Hang
        } else if s["abort"] == true {
            Step::Abort
        } else {
            return Err(format!("unknown step {s}"));
        };
        steps.push(step);
    }
    let mut script = Script::new(steps);
    let w = &v["when"];
    if w["has_tools"] == true {
        script = script.when(Match::has_tools());
    } else if let Some(t) = w["offers_tool"].as_str() {
        script = script.when(Match::offers_tool(t));
    } else if let Some(t) = w["body_contains"].as_str() {
        script = script.when(Match::body_contains(t));
    }
    Ok(script)
}

#[tokio::main]
async fn main() {
    let mut addr = "127.0.0.1:0".to_string();
    let mut scripts = None;
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().expect("--addr ADDR"),
            "--scripts" => scripts = Some(args.next().expect("--scripts FILE")),
            "--log" => log = Some(args.next().expect("--log FILE")),
            _ => {
                eprintln!(
                    "usage: fake-model-server [--addr A] [--scripts FILE.json] [--log FILE.jsonl]"
                );
                std::process::exit(2);
            }
        }
    }
    let fake = FakeModel::start_on(&addr).await;
    if let Some(path) = log {
        fake.log_requests_to(std::path::Path::new(&path))
            .expect("open log");
    }
    if let Some(path) = scripts {
        let text = std::fs::read_to_string(&path).expect("read scripts");
        let list: Value = serde_json::from_str(&text).expect("scripts JSON");
        for v in list.as_array().expect("a list of scripts") {
            match script(v) {
                Ok(s) => fake.push(s),
                Err(e) => {
                    eprintln!("fake-model-server: {path}: {e}");
                    std::process::exit(2);
                }
            }
        }
    }
    println!("http://{}", fake.addr());
    // Serve until stdin closes (the recorder ends us by closing it, or by a signal).
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    })
    .await;
}
