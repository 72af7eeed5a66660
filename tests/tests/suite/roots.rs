//! Sessions and terminals work only under the allowed roots, whoever asks.

use super::start;
use serde_json::json;

#[tokio::test]
async fn directories_outside_the_allowed_roots_are_refused() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    for dir in ["/", "/etc", "/usr/bin"] {
        let r = rest.post("/v1/sessions", json!({"cwd": dir})).await;
        r.assert_error(403, "permission_denied");
        assert!(r.text().contains("allowed_roots"), "{}", r.text());
        rest.post("/v1/terminals", json!({"command": "sh", "cwd": dir}))
            .await
            .assert_error(403, "permission_denied");
    }
    let work = tempfile::tempdir().unwrap();
    let r = rest.post("/v1/sessions", json!({"cwd": work.path()})).await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Configured roots replace the defaults; a link cannot lead out of them.
    let (_fake, d) = start(|o| o.daemon(&format!("allowed_roots = [{:?}]", work.path()))).await;
    let rest = d.rest();
    std::fs::create_dir(work.path().join("inside")).unwrap();
    let other = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(other.path(), work.path().join("out")).unwrap();
    let ok = rest
        .post("/v1/sessions", json!({"cwd": work.path().join("inside")}))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    for dir in [other.path().to_path_buf(), work.path().join("out")] {
        rest.post("/v1/sessions", json!({"cwd": dir}))
            .await
            .assert_error(403, "permission_denied");
    }
}
