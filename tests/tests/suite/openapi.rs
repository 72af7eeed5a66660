//! `GET /v1/openapi.json` is an OpenAPI 3.1 document listing every route the suites use.

use super::{ROUTES, start};

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let (_fake, d) = start(|o| o).await;
    let r = d.rest().get("/v1/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    let doc = r.json();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi version {version:?}");
    assert!(doc["info"]["title"].is_string(), "info.title");
    assert!(doc["info"]["version"].is_string(), "info.version");
    let paths = doc["paths"].as_object().expect("paths object");
    let mut missing = Vec::new();
    for (method, path, _) in ROUTES {
        let op = &paths.get(*path).map(|p| &p[method.to_ascii_lowercase()]);
        if !op.is_some_and(|o| o.is_object()) {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}; it has {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // Components carry the shared schemas.
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    // The terminal WebSocket documents its frames, both ways.
    let ws = &paths["/v1/terminals/{id}/attach"]["get"]["x-websocket"];
    for side in ["server_text_frames", "client_text_frames"] {
        assert!(ws[side]["$ref"].is_string(), "{side}: {ws}");
    }
    for name in [
        "Session",
        "Message",
        "Event",
        "AttachFrame",
        "AttachControl",
    ] {
        assert!(
            schemas.keys().any(|k| k == name || k.ends_with(name)),
            "schema {name} missing: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
}

/// schemathesis's `st`: in `AGENTMUX_ST_BIN`, else installed by
/// `tests/cli/install-schemathesis.sh` (a cached virtualenv).
fn schemathesis() -> std::path::PathBuf {
    super::installed(
        "AGENTMUX_ST_BIN",
        "install-schemathesis.sh",
        "st",
        "this test needs schemathesis (python3 with venv and a reachable PyPI)",
    )
    .join("st")
}

/// Every check schemathesis has, over every route but the streams (SSE, WebSockets), finds no
/// request the document calls valid that the daemon refuses, no answer the document does not
/// describe, and no server error.
#[tokio::test]
async fn schemathesis_finds_no_disagreement_with_the_document() {
    let st = schemathesis();
    let (_fake, d) = start(|o| {
        let mut o = o
            .tcp()
            .daemon("rate_limit_per_sec = 1000000")
            .daemon("rate_limit_burst = 1000000");
        // The CLIs it may install for real would talk to models that are not there, and a
        // `send?wait=true` would wait past its timeout: here they fail at once instead.
        for cli in ["claude", "codex", "gemini", "qwen", "opencode"] {
            o = o
                .toml(&format!("[providers.{cli}]"))
                .toml(&format!("command = \"/nonexistent/{cli}\""));
        }
        o
    })
    .await;
    let (_, key) = d.create_key("schemathesis").await;
    let addr = d.tcp_addr.clone().unwrap();
    let work = d.data_dir.parent().unwrap_or(&d.data_dir).to_path_buf();
    // A preview's answer to a definition the schema allows but the check refuses (a cycle, an
    // unknown provider) is 400 by contract: the one place a schema-valid body gets one.
    std::fs::write(
        work.join("schemathesis.toml"),
        "[[operations]]\ninclude-path = \"/v1/workflows/preview\"\n\
         checks.positive_data_acceptance.expected-statuses = [\"2xx\", \"400\", \"401\", \"403\", \"404\", \"409\"]\n",
    )
    .expect("write schemathesis.toml");
    let out = tokio::process::Command::new(&st)
        .args(["run", &format!("http://{addr}/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all", "--max-examples", "25", "--seed", "1"])
        .args(["--request-timeout", "10", "--no-color"])
        .args(["--exclude-path-regex", "events|/ws|attach"])
        .env("SCHEMATHESIS_HOOKS", "")
        // Its crash cache goes beside the daemon's data, not into the checkout.
        .current_dir(&work)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(600), out)
        .await
        .expect("schemathesis finished within 10 minutes")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found disagreements:\n{text}"
    );
    assert!(text.contains("passed"), "{text}");
}
