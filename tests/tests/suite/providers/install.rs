//! Provider install jobs, end to end: a locally packed npm tarball installed offline with its
//! progress streamed, an unreachable registry, one job per provider, and `kill -9` mid-install.

use super::harness::{
    INSTALL_TIMEOUT, LIST_TIMEOUT, SYSTEM_PATH, agentmux, daemon_with, get_slow, text,
};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Item, Rest};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// Packs a tiny npm package with a `bin` named `bin` into `dir`; returns the tarball.
async fn pack(dir: &Path, name: &str, bin: &str, version: &str, install_script: &str) -> PathBuf {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(&src).expect("package dir");
    let manifest = json!({
        "name": name,
        "version": version,
        "bin": { bin: "cli.js" },
        "scripts": { "install": install_script },
    });
    std::fs::write(src.join("package.json"), manifest.to_string()).expect("package.json");
    let cli = src.join("cli.js");
    std::fs::write(
        &cli,
        format!("#!/usr/bin/env node\nconsole.log(\"{bin} {version}\");\n"),
    )
    .expect("cli.js");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = tokio::time::timeout(
        LIST_TIMEOUT,
        Command::new("npm")
            .args(["pack", "--pack-destination"])
            .arg(dir)
            .current_dir(&src)
            .env("npm_config_cache", dir.join(".npm-cache"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("npm pack in time")
    .expect("npm pack (is npm installed?)");
    assert!(out.status.success(), "npm pack: {}", text(&out.stderr));
    let tgz = dir.join(format!("{name}-{version}.tgz"));
    assert!(tgz.is_file(), "npm pack made no {}", tgz.display());
    tgz
}

/// Polls a job until `pred` holds.
async fn wait_job(rest: &Rest, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    loop {
        let j = rest.get_ok(&format!("/v1/providers/jobs/{id}")).await;
        if pred(&j) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job {id}: timed out waiting for {what}; last: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_final(j: &Value) -> bool {
    matches!(
        j["state"].as_str(),
        Some("succeeded" | "failed" | "interrupted")
    )
}

#[tokio::test]
async fn install_from_a_local_tarball_streams_progress_and_registers_the_cli() {
    let home = tempfile::tempdir().expect("home");
    let tgz = pack(
        home.path(),
        "agentmux-tiny",
        "tiny",
        "1.2.3",
        "echo tiny install step 1 && echo tiny install step 2",
    )
    .await;
    let d = daemon_with(
        home.path(),
        SYSTEM_PATH,
        &[],
        &[
            "[providers.acp.tiny]",
            "command = \"tiny\"",
            &format!("npm_package = {:?}", tgz.display().to_string()),
        ],
    )
    .await;
    let rest = d.rest();
    let before = get_slow(&rest, "/v1/providers/tiny").await;
    assert_eq!(before["installed"], false, "{before}");
    assert_eq!(before["install_hint"], "agentmux providers install tiny");

    let head = d.last_seq().await;
    let mut sse = rest.sse(&format!("/v1/events?after={head}"), None).await;
    let installing = Instant::now();
    let r = rest.post("/v1/providers/tiny/install", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    let id = job["id"].as_str().expect("job id").to_string();
    assert_eq!(job["state"], "queued", "{job}");
    assert_eq!(job["package"], tgz.display().to_string());
    // Follow the job's events to its end: states only move forward, lines come in order.
    let rank = |s: &str| match s {
        "queued" => 0,
        "running" => 1,
        _ => 2,
    };
    let mut states: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut last_seq = head;
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    let last = loop {
        assert!(
            Instant::now() < deadline,
            "install events did not end; states {states:?}"
        );
        let Some(item) = sse.next_item().await else {
            panic!("event stream ended; states {states:?}")
        };
        let Item::Event(e) = item else { continue };
        assert!(e.seq > last_seq, "seq went from {last_seq} to {}", e.seq);
        last_seq = e.seq;
        let v = serde_json::to_value(&e).expect("event JSON");
        if v["type"] != "provider.install" || v["data"]["job"]["id"] != id.as_str() {
            continue;
        }
        let state = v["data"]["job"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(prev) = states.last() {
            assert!(
                rank(prev.as_str()) <= rank(&state),
                "state went {prev} -> {state}"
            );
        }
        states.push(state);
        for l in v["data"]["lines"].as_array().into_iter().flatten() {
            lines.push(l.as_str().unwrap_or_default().to_string());
        }
        if is_final(&v["data"]["job"]) {
            break v["data"]["job"].clone();
        }
    };
    eprintln!(
        "tarball install: {:?} from request to the final event",
        installing.elapsed()
    );
    assert_eq!(states.first().map(String::as_str), Some("queued"));
    assert!(states.iter().any(|s| s == "running"), "{states:?}");
    assert_eq!(last["state"], "succeeded", "{last}");
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l == needle)
            .unwrap_or_else(|| panic!("no line {needle:?} in {lines:?}"))
    };
    assert!(
        pos("tiny install step 1") < pos("tiny install step 2"),
        "{lines:?}"
    );
    let managed = d.data_dir.join("clis/bin/tiny");
    assert_eq!(last["path"], managed.display().to_string());
    assert_eq!(last["version"], "1.2.3");
    assert_eq!(last["exit_code"], 0);
    assert!(
        last["output_lines"].as_u64().is_some_and(|n| n >= 2),
        "{last}"
    );
    assert!(managed.is_file(), "{} is missing", managed.display());
    let ran = Command::new(&managed)
        .env("PATH", SYSTEM_PATH)
        .output()
        .await
        .expect("run the installed bin");
    assert_eq!(text(&ran.stdout).trim(), "tiny 1.2.3");
    // The record persisted is the last event's job.
    assert_eq!(rest.get_ok(&format!("/v1/providers/jobs/{id}")).await, last);
    // The registry now finds it in the managed prefix.
    let after = get_slow(&rest, "/v1/providers/tiny").await;
    assert_eq!(after["installed"], true, "{after}");
    assert_eq!(after["source"], "managed", "{after}");
    assert_eq!(after["path"], managed.display().to_string());
    assert_eq!(after["version"], "1.2.3");

    // The CLI installs it again, following the job, and reports it as JSON.
    let out = agentmux(&d, &["providers", "install", "tiny", "--json"]).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let job: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("install --json is not JSON ({e}): {}", text(&out.stdout)));
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_ne!(job["id"], id.as_str());
    assert!(
        stderr.contains("tiny install step 2"),
        "progress on stderr: {stderr}"
    );
    let out = agentmux(&d, &["providers", "install", "tiny"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tiny install step 1"), "{stdout}");
    assert!(
        stdout.contains(&format!("installed tiny 1.2.3 at {}", managed.display())),
        "{stdout}"
    );
    let out = agentmux(&d, &["providers", "jobs", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jobs: Value = serde_json::from_slice(&out.stdout).expect("jobs JSON");
    let states: Vec<&str> = jobs
        .as_array()
        .expect("jobs array")
        .iter()
        .map(|j| j["state"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(states, ["succeeded", "succeeded", "succeeded"]);
}

#[tokio::test]
async fn an_unreachable_registry_fails_the_install_fast_with_npms_reason() {
    let home = tempfile::tempdir().expect("home");
    let d = daemon_with(
        home.path(),
        SYSTEM_PATH,
        &[
            ("npm_config_registry", "http://127.0.0.1:9/"),
            ("npm_config_fetch_retries", "0"),
            ("npm_config_fetch_timeout", "5000"),
        ],
        &[],
    )
    .await;
    let rest = d.rest();
    let started = Instant::now();
    let r = rest
        .post("/v1/providers/codex/install", json!({"version": "0.169.0"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().expect("job id").to_string();
    let job = wait_job(&rest, &id, "the end", is_final).await;
    let took = started.elapsed();
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["package"], "@openai/codex@0.169.0");
    let err = job["error"].as_str().unwrap_or_default();
    assert!(err.contains("cannot reach the npm registry"), "{err}");
    assert!(err.contains("ECONNREFUSED"), "npm's own words: {err}");
    assert_ne!(job["exit_code"], 0);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(!d.data_dir.join("clis/bin/codex").exists());
    // The CLI: exit 1 and the same reason.
    let out = agentmux(&d, &["providers", "install", "codex"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot reach the npm registry") && stderr.contains("ECONNREFUSED"),
        "{stderr}"
    );
    eprintln!("registry-unreachable install failed in {took:?}");
}

#[tokio::test]
async fn one_install_per_provider_and_kill9_leaves_it_interrupted() {
    let home = tempfile::tempdir().expect("home");
    let tgz = pack(
        home.path(),
        "agentmux-slow",
        "slow",
        "0.1.0",
        "echo slow install sleeping && sleep 300",
    )
    .await;
    let mut d = daemon_with(
        home.path(),
        SYSTEM_PATH,
        &[],
        &[
            "[providers.acp.slow]",
            "command = \"slow\"",
            &format!("npm_package = {:?}", tgz.display().to_string()),
        ],
    )
    .await;
    let rest = d.rest();
    let r = rest.post("/v1/providers/slow/install", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().expect("job id").to_string();
    // Mid-install: npm is running the install script.
    let running = wait_job(&rest, &id, "the install script to run", |j| {
        j["state"] == "running"
            && j["output_tail"]
                .as_array()
                .is_some_and(|t| t.iter().any(|l| l == "slow install sleeping"))
    })
    .await;
    let pid = running["pid"].as_u64().expect("pid") as u32;
    assert!(pid > 0, "{running}");
    // A second install of the same provider while it runs: 409.
    let r = rest.post("/v1/providers/slow/install", json!({})).await;
    r.assert_error(409, "already_exists");
    assert!(
        r.text().contains(&id),
        "names the running job: {}",
        r.text()
    );
    let g = d.grpc().await;
    let mut client = pb::provider_service_client::ProviderServiceClient::new(g.channel());
    let status = client
        .install_provider(pb::InstallProviderRequest {
            id: "slow".into(),
            version: String::new(),
        })
        .await
        .expect_err("second install over gRPC");
    assert_eq!(status.code(), tonic::Code::AlreadyExists, "{status:?}");

    d.kill9().await;
    d.restart().await;
    let rest = d.rest();
    let job = rest.get_ok(&format!("/v1/providers/jobs/{id}")).await;
    assert_eq!(job["state"], "interrupted", "{job}");
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("daemon stopped")),
        "{job}"
    );
    assert!(
        job["finished_at_ms"].as_i64().is_some_and(|t| t > 0),
        "{job}"
    );
    // The npm the dead daemon left behind was stopped at start.
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while proc_dir.exists() && !is_zombie(&proc_dir) {
        assert!(
            Instant::now() < deadline,
            "npm {pid} still runs after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The interruption is an event too.
    let mut sse = rest.sse("/v1/events?after=0", None).await;
    loop {
        let Some(item) = sse.next_item().await else {
            panic!("no provider.install event saying {id} was interrupted")
        };
        let Item::Event(e) = item else { continue };
        let v = serde_json::to_value(&e).expect("event JSON");
        if v["type"] == "provider.install"
            && v["data"]["job"]["id"] == id.as_str()
            && v["data"]["job"]["state"] == "interrupted"
        {
            break;
        }
    }
}

fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
