//! Workflow definitions over REST, gRPC (the CLI) and files in the config dir: the built-ins
//! listed and valid, a file winning over a built-in, a broken file listed with its error, and a
//! preview giving layers or every error with where it is.

use super::start;
use agentmux_tests::daemon::client_bin;
use serde_json::json;

#[tokio::test]
async fn workflows_are_listed_shown_and_previewed_with_every_error_located() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let dir = d.config_file.parent().unwrap().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mine.toml"),
        "description = \"two steps\"\n[[nodes]]\nid = \"a\"\nprompt = \"{{input}}\"\n\
         [[nodes]]\nid = \"b\"\nneeds = [\"a\"]\nprompt = \"check {{nodes.a.output}}\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("broken.toml"), "[[nodes]\n").unwrap();

    let all = rest.get_ok("/v1/workflows").await;
    let list = all["workflows"].as_array().unwrap();
    let find = |n: &str| {
        list.iter()
            .find(|w| w["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {all}"))
    };
    for builtin in ["implement-review", "best-of-n", "plan-fanout"] {
        assert_eq!(find(builtin)["source"], "builtin");
    }
    assert_eq!(find("mine")["nodes"], 2);
    assert!(
        find("broken")["error"]
            .as_str()
            .unwrap()
            .contains("not a workflow")
    );

    let ir = rest.get_ok("/v1/workflows/implement-review").await;
    assert_eq!(ir["nodes"].as_array().unwrap().len(), 5, "{ir}");
    assert_eq!(ir["nodes"][2]["loop"]["back_to"], "review");
    assert_eq!(rest.get("/v1/workflows/nope").await.status, 404);
    assert_eq!(rest.get("/v1/workflows/broken").await.status, 409);

    // The built-ins are valid against this daemon's providers.
    for name in ["implement-review", "best-of-n", "plan-fanout", "mine"] {
        let r = rest
            .post("/v1/workflows/preview", json!({"workflow": name}))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
    }
    let p = rest
        .post("/v1/workflows/preview", json!({"workflow": "best-of-n"}))
        .await
        .json();
    assert_eq!(p["layers"][0], json!(["a", "b", "c"]), "{p}");
    assert_eq!(p["layers"][1], json!(["judge"]));

    // An inline definition: every error, each with where it is.
    let r = rest
        .post(
            "/v1/workflows/preview",
            json!({"definition": {"name": "x", "nodes": [
                {"id": "a", "needs": ["b"], "prompt": "{{nodes.c.output}}", "provider": "nope"},
                {"id": "b", "needs": ["a"], "prompt": "go", "when": "nodes.a.json.ok =="}
            ]}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    for want in [
        "nodes[0].prompt",
        "nodes[0].provider",
        "nodes[1].when",
        "cycle",
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }

    // The CLI over gRPC: a file is checked as a definition.
    let file = d.work_dir().join("flow.toml");
    std::fs::write(
        &file,
        "[[nodes]]\nid = \"one\"\nprompt = \"{{input}}\"\n[[nodes]]\nid = \"two\"\nprompt = \"x\"\n\
         [[nodes]]\nid = \"join\"\nneeds = [\"one\", \"two\"]\nprompt = \"{{nodes.one.output}}\"\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["workflow", "preview"])
        .arg(&file)
        .current_dir(d.work_dir())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("1. one, two") && said.contains("2. join"),
        "{said}"
    );
    std::fs::write(
        &file,
        "[[nodes]]\nid = \"one\"\nneeds = [\"ghost\"]\nprompt = \"p\"\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["workflow", "preview"])
        .arg(&file)
        .current_dir(d.work_dir())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nodes[0].needs"));
}
