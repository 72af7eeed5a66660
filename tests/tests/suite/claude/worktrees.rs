//! Claude Code working in sessions' own worktrees: two sessions on one repository write the
//! same file at once without touching each other or the user's checkout; the first lands, the
//! second's merge reports the conflict and changes nothing; its work reaches a bare remote.

use super::super::workspaces::git;
use super::super::{send, wait_session};
use super::harness::start;
use agentmux_tests::fake::{Match, Recorded, Script, Step};
use serde_json::{Value, json};
use std::path::Path;

/// The model of the session told `word` writes `hello.txt` in `dir` with that word, then
/// answers; matched on the word so two sessions at once each get their own.
fn script(e: &super::harness::Env, word: &'static str, dir: &str) {
    let file = Path::new(dir).join("hello.txt").display().to_string();
    let asks = move |r: &Recorded| {
        !r.tools().is_empty() && r.body.to_string().contains(&format!("Write {word}"))
    };
    e.fake.push(
        Script::new(vec![Step::tool(
            "Write",
            json!({"file_path": file, "content": format!("{word}\n")}),
        )])
        .when(Match::new(move |r| asks(r) && r.tool_results().is_empty())),
    );
    e.fake.push(
        Script::answer("Written.")
            .when(Match::new(move |r| asks(r) && !r.tool_results().is_empty())),
    );
}

async fn post(rest: &agentmux_tests::client::Rest, path: &str, body: Value) -> Value {
    let r = rest.post(path, body).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    r.json()
}

#[tokio::test]
async fn two_claude_sessions_write_one_file_apart_and_the_second_merge_conflicts() {
    let e = start().await;
    let repo = e.work.path();
    git(repo, &["init", "-q"]);
    std::fs::write(repo.join("README"), "readme\n").unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "first"]);
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(
        repo,
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );

    let mut sessions = Vec::new();
    for word in ["ONE", "TWO"] {
        let r = e
            .rest
            .post(
                "/v1/sessions",
                json!({"title": word.to_lowercase(), "provider": "claude", "cwd": repo,
                       "approval_policy": "never-ask", "workspace": {"mode": "worktree"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let s = r.json();
        script(&e, word, s["cwd"].as_str().unwrap());
        sessions.push((word, s));
    }
    // Both at once.
    for (word, s) in &sessions {
        send(
            &e.rest,
            s["id"].as_str().unwrap(),
            &format!("Write {word} into hello.txt."),
        )
        .await;
    }
    for (_, s) in &sessions {
        wait_session(
            &e.rest,
            s["id"].as_str().unwrap(),
            90,
            "the turn to end",
            |s| s["busy"] == false && s["message_count"] == 2,
        )
        .await;
    }
    for (word, s) in &sessions {
        let wt = Path::new(s["workspace"]["path"].as_str().unwrap());
        assert_eq!(
            std::fs::read_to_string(wt.join("hello.txt")).unwrap(),
            format!("{word}\n")
        );
        let id = s["id"].as_str().unwrap();
        let st = e
            .rest
            .get_ok(&format!("/v1/sessions/{id}/git/status"))
            .await;
        assert_eq!(st["files"][0]["path"], "hello.txt", "{st}");
        assert_eq!(st["files"][0]["untracked"], true, "{st}");
        let d = e.rest.get_ok(&format!("/v1/sessions/{id}/git/diff")).await;
        let lines = &d["files"][0]["hunks"][0]["lines"];
        assert_eq!(lines[0]["text"], *word, "{d}");
        post(
            &e.rest,
            &format!("/v1/sessions/{id}/git/commit"),
            json!({"message": format!("write {word}")}),
        )
        .await;
    }
    assert!(
        !repo.join("hello.txt").exists(),
        "the user's checkout is untouched"
    );

    let one = sessions[0].1["id"].as_str().unwrap();
    let m = post(
        &e.rest,
        &format!("/v1/sessions/{one}/git/merge"),
        json!({"strategy": "squash"}),
    )
    .await;
    assert_eq!(m["merged"], true, "{m}");
    assert_eq!(
        git(repo, &["log", "-1", "--format=%s", "main"]).trim(),
        "write ONE",
        "a squash of one commit keeps its message"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("hello.txt")).unwrap(),
        "ONE\n"
    );
    let before = git(repo, &["rev-parse", "main"]);
    let two = sessions[1].1["id"].as_str().unwrap();
    let m = post(&e.rest, &format!("/v1/sessions/{two}/git/merge"), json!({})).await;
    assert_eq!(m["merged"], false, "{m}");
    assert_eq!(m["conflicts"][0]["path"], "hello.txt", "{m}");
    assert_eq!(m["conflicts"][0]["kind"], "add/add", "{m}");
    assert_eq!(git(repo, &["rev-parse", "main"]), before);
    assert_eq!(git(repo, &["status", "--porcelain"]), "");

    let p = post(&e.rest, &format!("/v1/sessions/{two}/git/push"), json!({})).await;
    assert_eq!(p["ok"], true, "{p}");
    assert!(git(remote.path(), &["branch", "--list"]).contains("agentmux/two"));
}
