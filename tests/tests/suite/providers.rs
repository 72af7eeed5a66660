//! The provider registry and npm install jobs, end to end: the real daemon probing the pinned
//! CLIs, installing a locally packed npm tarball offline, and failing clearly without npm or a
//! registry, over REST, gRPC and the `agentmux` CLI.

use super::{ROUTES, cli_bin};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Item, Rest};
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The pinned CLIs and the versions `tests/cli/install.sh` installs.
const PINNED: &[(&str, &str)] = &[
    ("claude", "2.1.197"),
    ("codex", "0.169.0"),
    ("gemini", "0.61.0"),
    ("qwen", "0.15.10"),
    ("opencode", "1.18.33"),
];
/// Listing probes every CLI's `--version` once (in parallel): seconds on a loaded box.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(180);

/// `PATH` with node and npm (Debian: /usr/bin).
const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The `agentmux` CLI binary next to this test binary, built once (like `daemon_bin`).
fn agentmux_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("AGENTMUX_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in target/<profile>/deps")
            .to_path_buf();
        if std::env::var_os("AGENTMUX_TESTS_NO_BUILD").is_none() {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = std::process::Command::new(cargo);
            cmd.current_dir(workspace)
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "agentmux-tui",
                    "--bin",
                    "agentmux",
                ])
                .env(
                    "CARGO_TARGET_DIR",
                    profile_dir.parent().expect("target dir"),
                );
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build -p agentmux-tui");
            assert!(status.success(), "cargo build -p agentmux-tui failed");
        }
        let bin = profile_dir.join("agentmux");
        assert!(bin.exists(), "{} is missing", bin.display());
        bin
    })
    .clone()
}

/// Runs `agentmux --socket S ARGS…` to completion.
async fn agentmux(d: &Daemon, args: &[&str]) -> Output {
    let mut cmd = Command::new(agentmux_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(INSTALL_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("agentmux {args:?} did not finish in {INSTALL_TIMEOUT:?}"))
        .expect("run agentmux")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `GET path` with a longer bound than the usual request timeout.
async fn get_slow(rest: &Rest, path: &str) -> Value {
    let r = tokio::time::timeout(
        LIST_TIMEOUT,
        rest.try_request(reqwest::Method::GET, path, None),
    )
    .await
    .unwrap_or_else(|_| panic!("GET {path} took over {LIST_TIMEOUT:?}"))
    .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

fn provider<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["providers"]
        .as_array()
        .expect("providers array")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no provider {id} in {list}"))
}

/// A daemon whose own environment is `env` on top of an isolated HOME.
async fn daemon_with(home: &Path, path: &str, env: &[(&str, &str)], toml: &[&str]) -> Daemon {
    let mut o = DaemonOptions::default()
        .openai("api_key = \"sk-openai-secret-value\"")
        .env("PATH", path)
        .env("HOME", &home.display().to_string())
        .env(
            "XDG_CONFIG_HOME",
            &home.join(".config").display().to_string(),
        )
        .env(
            "XDG_DATA_HOME",
            &home.join(".local/share").display().to_string(),
        )
        .env("CODEX_HOME", &home.join(".codex").display().to_string())
        .env(
            "CLAUDE_CONFIG_DIR",
            &home.join(".claude").display().to_string(),
        )
        // Keys a developer's shell may carry would make "missing" untestable.
        .env("ANTHROPIC_API_KEY", "")
        .env("ANTHROPIC_AUTH_TOKEN", "")
        .env("CLAUDE_CODE_OAUTH_TOKEN", "")
        .env("GEMINI_API_KEY", "")
        .env("GOOGLE_API_KEY", "")
        .env("CODEX_API_KEY", "")
        // Installs never touch the developer's npm cache.
        .env(
            "npm_config_cache",
            &home.join(".npm-cache").display().to_string(),
        );
    for (k, v) in env {
        o = o.env(k, v);
    }
    for line in toml {
        o = o.toml(line);
    }
    Daemon::start(o).await
}

/// What `<bin> --version` prints, run the way a person would.
async fn version_output(bin: &Path, home: &Path) -> String {
    let out = tokio::time::timeout(
        LIST_TIMEOUT,
        Command::new(bin)
            .arg("--version")
            .env("HOME", home)
            .env("PATH", format!("{}:{SYSTEM_PATH}", cli_bin().display()))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("--version in time")
    .expect("run --version");
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn registry_finds_the_pinned_clis_their_versions_and_credentials() {
    let home = tempfile::tempdir().expect("home");
    // OpenCode's credentials: a provider in its own config file.
    let oc = home.path().join(".config/opencode");
    std::fs::create_dir_all(&oc).expect("opencode config dir");
    std::fs::write(
        oc.join("opencode.json"),
        r#"{"provider":{"fake":{"options":{"apiKey":"oc-secret-value"}}}}"#,
    )
    .expect("opencode.json");
    let path = format!("{}:{SYSTEM_PATH}", cli_bin().display());
    let d = daemon_with(
        home.path(),
        &path,
        &[("ANTHROPIC_API_KEY", "sk-ant-secret-value")],
        &[
            "[providers.compat.local]",
            "base_url = \"http://127.0.0.1:9/v1\"",
            "[providers.gemini]",
            "env = { GEMINI_API_KEY = \"gem-secret-value\" }",
        ],
    )
    .await;
    let rest = d.rest();
    let t0 = Instant::now();
    let list = get_slow(&rest, "/v1/providers").await;
    let first = t0.elapsed();
    let t1 = Instant::now();
    let again = get_slow(&rest, "/v1/providers").await;
    let cached = t1.elapsed();
    eprintln!("GET /v1/providers: {first:?} probing 5 CLIs, {cached:?} cached");
    assert_eq!(
        again, list,
        "a second listing (cached versions) says the same"
    );
    let raw = list.to_string();
    for secret in [
        "sk-ant-secret-value",
        "gem-secret-value",
        "oc-secret-value",
        "sk-openai-secret-value",
    ] {
        assert!(!raw.contains(secret), "a secret leaked into {raw}");
    }
    for (id, pinned) in PINNED {
        let p = provider(&list, id);
        assert_eq!(p["kind"], "cli", "{p}");
        assert_eq!(p["installed"], true, "{p}");
        assert_eq!(p["source"], "path", "{p}");
        let bin = cli_bin().join(id);
        assert_eq!(p["path"], bin.display().to_string(), "{p}");
        assert_eq!(p["version"], *pinned, "{p}");
        let printed = version_output(&bin, home.path()).await;
        assert!(
            printed.contains(pinned),
            "{id} --version printed {printed:?}, the registry says {pinned}"
        );
        assert_eq!(p["install_hint"], "", "{p}");
        assert!(
            p["npm_package"].as_str().is_some_and(|s| !s.is_empty()),
            "{p}"
        );
    }
    let creds = |id: &str| {
        let p = provider(&list, id);
        (
            p["credentials_status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            p["credentials"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(
        creds("claude"),
        ("found".into(), "ANTHROPIC_API_KEY (environment)".into())
    );
    assert_eq!(
        creds("gemini"),
        (
            "found".into(),
            "GEMINI_API_KEY (agentmux config env)".into()
        )
    );
    let (st, where_) = creds("opencode");
    assert_eq!(st, "found");
    assert_eq!(
        where_,
        format!("provider fake in {}", oc.join("opencode.json").display())
    );
    for id in ["codex", "qwen"] {
        let (st, how) = creds(id);
        assert_eq!(st, "missing", "{id}: {how}");
        assert!(how.contains("OPENAI_API_KEY"), "{id}: {how}");
    }
    // The HTTP provider the harness points at the fake server, and Claude's adapter health.
    let openai = provider(&list, "openai");
    assert_eq!(openai["kind"], "http");
    assert_eq!(openai["credentials_status"], "found");
    assert!(
        openai["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );
    let claude = provider(&list, "claude");
    assert_eq!(claude["registered"], true);
    assert_eq!(claude["available"], true);
    // One provider by id.
    let one = get_slow(&rest, "/v1/providers/codex").await;
    assert_eq!(&one, provider(&list, "codex"));

    // gRPC says the same.
    let g = d.grpc().await;
    let mut client = pb::provider_service_client::ProviderServiceClient::new(g.channel());
    let listed = tokio::time::timeout(
        LIST_TIMEOUT,
        client.list_providers(pb::ListProvidersRequest {}),
    )
    .await
    .expect("ListProviders in time")
    .expect("ListProviders")
    .into_inner()
    .providers;
    for (id, pinned) in PINNED {
        let p = listed
            .iter()
            .find(|p| p.id == *id)
            .unwrap_or_else(|| panic!("gRPC has no {id}"));
        let r = provider(&list, id);
        assert!(p.installed, "{p:?}");
        assert_eq!(p.version, *pinned);
        assert_eq!(Some(p.path.as_str()), r["path"].as_str());
        assert_eq!(
            Some(p.credentials_status.as_str()),
            r["credentials_status"].as_str()
        );
        assert_eq!(Some(p.credentials.as_str()), r["credentials"].as_str());
    }
    let status = client
        .get_provider(pb::GetProviderRequest { id: "nope".into() })
        .await
        .expect_err("unknown provider");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    // The CLI's JSON parses and agrees; its table names every provider.
    let out = agentmux(&d, &["providers", "ls", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "providers ls --json is not JSON ({e}): {}",
            text(&out.stdout)
        )
    });
    for (id, pinned) in PINNED {
        let p = cli
            .as_array()
            .and_then(|a| a.iter().find(|p| p["id"] == *id))
            .unwrap_or_else(|| panic!("no {id} in {cli}"));
        assert_eq!(p["version"], *pinned, "{p}");
        assert_eq!(p["installed"], true, "{p}");
    }
    let out = agentmux(&d, &["providers", "ls"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("ID "), "{table}");
    for (id, pinned) in PINNED {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} row in\n{table}"));
        assert!(row.contains(pinned) && row.contains("yes (path)"), "{row}");
    }
}

#[tokio::test]
async fn without_the_clis_or_npm_it_says_how_to_install_and_why_it_cannot() {
    let home = tempfile::tempdir().expect("home");
    let empty = home.path().join("empty-bin");
    std::fs::create_dir_all(&empty).expect("empty bin dir");
    // A PATH with neither the CLIs nor npm.
    let d = daemon_with(home.path(), &empty.display().to_string(), &[], &[]).await;
    let rest = d.rest();
    let list = get_slow(&rest, "/v1/providers").await;
    for (id, _) in PINNED {
        let p = provider(&list, id);
        assert_eq!(p["installed"], false, "{p}");
        assert_eq!(p["path"], "", "{p}");
        assert_eq!(p["version"], "", "{p}");
        assert_eq!(
            p["install_hint"],
            format!("agentmux providers install {id}"),
            "{p}"
        );
        assert_eq!(p["credentials_status"], "missing", "{p}");
    }
    assert_eq!(
        provider(&list, "claude")["npm_package"],
        "@anthropic-ai/claude-code"
    );
    assert_eq!(provider(&list, "claude")["available"], false);

    // Unknown ids are 404; an HTTP provider has nothing to install.
    rest.get("/v1/providers/nope")
        .await
        .assert_error(404, "not_found");
    rest.post("/v1/providers/nope/install", json!({}))
        .await
        .assert_error(404, "not_found");
    rest.get("/v1/providers/jobs/job_nope")
        .await
        .assert_error(404, "not_found");
    let r = rest.post("/v1/providers/openai/install", json!({})).await;
    r.assert_error(409, "failed_precondition");
    assert!(r.text().contains("HTTP provider"), "{}", r.text());
    rest.post(
        "/v1/providers/claude/install",
        json!({"version": "1 || rm"}),
    )
    .await
    .assert_error(400, "invalid_argument");

    // No npm: the job is created already failed, saying what to do.
    let started = Instant::now();
    let r = rest.post("/v1/providers/claude/install", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["provider"], "claude");
    assert_eq!(job["package"], "@anthropic-ai/claude-code");
    let err = job["error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with("npm not found on PATH") && err.contains("Node.js"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let id = job["id"].as_str().expect("job id").to_string();
    assert!(id.starts_with("job_"), "{id}");
    let stored = rest.get_ok(&format!("/v1/providers/jobs/{id}")).await;
    assert_eq!(stored, job);
    // The CLI exits 1 with the message.
    let out = agentmux(&d, &["providers", "install", "claude"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("npm not found on PATH"), "{stderr}");
    let jobs = rest.get_ok("/v1/providers/jobs").await;
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(2), "{jobs}");
}

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

#[test]
fn every_provider_route_is_listed() {
    for (method, path) in [
        ("GET", "/v1/providers"),
        ("GET", "/v1/providers/{id}"),
        ("POST", "/v1/providers/{id}/install"),
        ("GET", "/v1/providers/jobs"),
        ("GET", "/v1/providers/jobs/{id}"),
    ] {
        assert!(
            ROUTES.iter().any(|(m, p, _)| *m == method && *p == path),
            "{method} {path} missing from ROUTES"
        );
    }
}
