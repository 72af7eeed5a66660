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
