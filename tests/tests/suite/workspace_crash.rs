//! `kill -9` while a worktree is being made and while a merge lands, at several moments: the
//! next start leaves no half-made worktree (it is made again, whole), no orphan, and a
//! repository whose branch either moved or did not, with a clean checkout.

use super::start;
use super::workspaces::git;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// A repository big enough that git takes a moment over it.
fn big_repo(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    for i in 0..files {
        let d = dir.path().join(format!("d{}", i / 100));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "big"]);
    dir
}

#[tokio::test]
async fn kill_9_while_a_worktree_is_made_leaves_it_whole_or_missing_never_half() {
    let (_fake, mut d) = start(|o| o).await;
    let repo = big_repo(4000);
    for (i, delay) in [0u64, 30, 80, 200].into_iter().enumerate() {
        let rest = d.rest();
        let body = json!({"title": format!("c{i}"), "cwd": repo.path(), "workspace": {"mode": "worktree"}});
        let req = tokio::spawn(async move {
            rest.try_request(reqwest::Method::POST, "/v1/sessions", Some(body))
                .await
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
        d.kill9().await;
        let _ = req.await;
        d.restart().await;
        let rest = d.rest();
        let listed = rest.get_ok("/v1/sessions").await;
        for s in listed["sessions"].as_array().unwrap() {
            let w = &s["workspace"];
            let path = Path::new(w["path"].as_str().unwrap());
            match w["state"].as_str().unwrap() {
                "ready" => assert_eq!(
                    git(path, &["status", "--porcelain"]),
                    "",
                    "a worktree marked ready is a whole checkout (delay {delay} ms): {}",
                    s["name"]
                ),
                "missing" => assert!(s["last_error"].as_str().unwrap().contains("missing")),
                other => panic!("state {other} after a restart: {s}"),
            }
        }
        let all = rest.get_ok("/v1/workspaces").await;
        assert!(
            all["workspaces"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["state"] != "orphan"),
            "no worktree nobody owns (delay {delay} ms): {all}"
        );
    }
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn kill_9_while_a_merge_lands_leaves_the_branch_moved_or_not_and_the_checkout_clean() {
    let (_fake, mut d) = start(|o| o).await;
    let repo = big_repo(3000);
    for (i, delay) in [0u64, 20, 60, 150].into_iter().enumerate() {
        let rest = d.rest();
        let (status, s) = super::workspaces::create(
            &rest,
            json!({"title": format!("m{i}"), "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
        )
        .await;
        assert_eq!(status, 201, "{s}");
        let id = s["id"].as_str().unwrap().to_string();
        let wt = Path::new(s["workspace"]["path"].as_str().unwrap()).to_path_buf();
        // Many files change, so bringing the checkout forward takes a while.
        for f in 0..1500 {
            let p = wt.join(format!("d{}/f{f}.txt", f / 100));
            std::fs::write(p, format!("{f} changed in round {i}\n")).unwrap();
        }
        git(&wt, &["add", "-A"]);
        git(&wt, &["commit", "-q", "-m", &format!("round {i}")]);
        let before = git(repo.path(), &["rev-parse", "main"]);
        let path = format!("/v1/sessions/{id}/git/merge");
        let req = tokio::spawn(async move {
            rest.try_request(
                reqwest::Method::POST,
                &path,
                Some(json!({"strategy": "squash"})),
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
        d.kill9().await;
        let _ = req.await;
        d.restart().await;
        // A git the daemon started may still be finishing its own work: it is given time.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while repo.path().join(".git/index.lock").exists() {
            assert!(std::time::Instant::now() < deadline, "index.lock stays");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after = git(repo.path(), &["rev-parse", "main"]);
        let moved = after != before;
        if moved {
            assert_eq!(
                git(repo.path(), &["log", "-1", "--format=%s", "main"]).trim(),
                format!("round {i}"),
                "a squash of one commit keeps its message"
            );
        }
        assert_eq!(
            git(repo.path(), &["status", "--porcelain"]),
            "",
            "the user's checkout is clean (delay {delay} ms, main moved: {moved})"
        );
        let s = d.rest().get_ok(&format!("/v1/sessions/{id}")).await;
        assert_eq!(s["workspace"]["state"], "ready", "{s}");
    }
}
