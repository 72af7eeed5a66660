//! The provider registry and npm install jobs, end to end: the real daemon probing the pinned
//! CLIs, installing a locally packed npm tarball offline, and failing clearly without npm or a
//! registry, over REST, gRPC and the `agentmux` CLI.
//! Here: the registry (found, missing, routes); `install` holds the npm install jobs, `harness`
//! the set-up.

mod harness;
mod install;

use super::{ROUTES, cli_bin};
use agentmux_proto::v1 as pb;
use harness::{
    LIST_TIMEOUT, PINNED, SYSTEM_PATH, agentmux, daemon_with, get_slow, provider, text,
    version_output,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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
