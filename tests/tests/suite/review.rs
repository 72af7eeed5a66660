//! Reviewing and landing a session's work against real repositories: diffs parsed into files
//! and hunks, commits, merges by each strategy (conflicts structured, nothing half-applied),
//! a local bare remote, discard confined to agentmux's own worktrees, and gc.

use super::start;
use super::workspaces::{create, git, repo};
use agentmux_tests::client::Rest;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A worktree session on `repo`; its id and worktree.
async fn session(rest: &Rest, repo: &Path, title: &str) -> (String, PathBuf) {
    let (status, s) = create(
        rest,
        json!({"title": title, "cwd": repo, "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(
        s["workspace"]["base"], "main",
        "HEAD is recorded as its branch: {s}"
    );
    (
        s["id"].as_str().unwrap().to_string(),
        PathBuf::from(s["workspace"]["path"].as_str().unwrap()),
    )
}

async fn post(rest: &Rest, path: &str, body: Value) -> Value {
    let r = rest.post(path, body).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    r.json()
}

fn file<'a>(d: &'a Value, path: &str) -> &'a Value {
    d["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {d}"))
}

#[tokio::test]
async fn diffs_are_parsed_into_files_and_hunks_and_capped() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    std::fs::write(repo.path().join("old.txt"), "keep me\n").unwrap();
    std::fs::write(repo.path().join("logo.bin"), [0u8, 1, 2, 3]).unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "more"]);
    let (id, wt) = session(&rest, repo.path(), "diff").await;

    std::fs::write(wt.join("src/main.rs"), "fn main() {\n    run();\n}\n").unwrap();
    git(&wt, &["mv", "old.txt", "renamed.txt"]);
    std::fs::write(wt.join("logo.bin"), [0u8, 9, 9, 9]).unwrap();
    std::fs::write(wt.join("new.txt"), "a\nb\n").unwrap();
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(wt.join("big.txt"), &big).unwrap();

    let base = format!("/v1/sessions/{id}/git/diff");
    let dj = rest.get_ok(&base).await;
    assert_eq!(dj["against"], "base");
    assert_eq!(
        dj["truncated"], true,
        "20,000 new lines pass the default cap"
    );
    let main = file(&dj, "src/main.rs");
    assert_eq!(main["status"], "modified");
    assert_eq!(
        (main["added"].as_u64(), main["removed"].as_u64()),
        (Some(3), Some(1))
    );
    let lines = &main["hunks"][0]["lines"];
    assert_eq!(lines[0]["kind"], "removed");
    assert_eq!(lines[0]["text"], "fn main() {}");
    assert_eq!(lines[0]["old_line"], 1);
    assert_eq!(file(&dj, "renamed.txt")["old_path"], "old.txt");
    assert_eq!(file(&dj, "renamed.txt")["status"], "renamed");
    assert_eq!(file(&dj, "logo.bin")["binary"], true);
    let new = file(&dj, "new.txt");
    assert_eq!(
        (new["untracked"].as_bool(), new["added"].as_u64()),
        (Some(true), Some(2))
    );
    let bigf = file(&dj, "big.txt");
    assert_eq!(bigf["added"], 20_000, "counts stay whole past the cap");
    assert_eq!(bigf["truncated"], true);
    let shown: usize = dj["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["hunks"].as_array().unwrap())
        .map(|h| h["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(shown, 10_000, "the default cap");

    // One path, with git's own text; and a higher cap shows it whole.
    let one = rest
        .get_ok(&format!("{base}?path=src/main.rs&raw=true"))
        .await;
    assert_eq!(one["files"].as_array().unwrap().len(), 1, "{one}");
    assert!(
        one["raw"].as_str().unwrap().contains("+    run();"),
        "{one}"
    );
    let whole = rest
        .get_ok(&format!("{base}?path=big.txt&max_lines=30000"))
        .await;
    assert_eq!(whole["truncated"], false);
    // Staged: only what was added to the index (the rename).
    let staged = rest.get_ok(&format!("{base}?against=staged")).await;
    let paths: Vec<&str> = staged["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["renamed.txt"], "{staged}");
    // Escapes and nonsense are refused.
    for bad in ["path=../x", "path=/etc/passwd", "against=sideways"] {
        let r = rest.get(&format!("{base}?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[tokio::test]
async fn commit_then_merge_squash_and_rebase_land_on_the_base_and_push_reaches_the_remote() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(
        repo.path(),
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );

    // merge: the user's clean checkout of main is brought forward with it.
    let (a, wt) = session(&rest, repo.path(), "a").await;
    std::fs::write(wt.join("a.txt"), "from a\n").unwrap();
    let c = post(
        &rest,
        &format!("/v1/sessions/{a}/git/commit"),
        json!({"message": "add a"}),
    )
    .await;
    assert_eq!(c["subject"], "add a");
    let log = rest.get_ok(&format!("/v1/sessions/{a}/git/log")).await;
    assert_eq!(log["commits"].as_array().unwrap().len(), 1, "{log}");
    let st = rest.get_ok(&format!("/v1/sessions/{a}/git/status")).await;
    assert_eq!(
        (st["ahead"].as_u64(), st["base_branch"].as_str()),
        (Some(1), Some("main"))
    );
    let m = post(&rest, &format!("/v1/sessions/{a}/git/merge"), json!({})).await;
    assert_eq!(m["merged"], true, "{m}");
    assert_eq!(m["target"], "main");
    assert_eq!(
        Path::new(m["updated_worktree"].as_str().unwrap()),
        repo.path().canonicalize().unwrap()
    );
    assert_eq!(
        git(repo.path(), &["rev-list", "--parents", "-1", "main"])
            .split_whitespace()
            .count(),
        3,
        "a merge commit"
    );
    assert!(repo.path().join("a.txt").exists());
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    // Again: nothing more to land.
    let again = post(&rest, &format!("/v1/sessions/{a}/git/merge"), json!({})).await;
    assert_eq!(
        (again["merged"].as_bool(), again["up_to_date"].as_bool()),
        (Some(false), Some(true))
    );

    // squash onto a branch checked out nowhere: the ref moves, one commit.
    git(repo.path(), &["branch", "release", "main"]);
    let (b, wt) = session(&rest, repo.path(), "b").await;
    std::fs::write(wt.join("b1.txt"), "1\n").unwrap();
    post(
        &rest,
        &format!("/v1/sessions/{b}/git/commit"),
        json!({"message": "b1"}),
    )
    .await;
    std::fs::write(wt.join("b2.txt"), "2\n").unwrap();
    post(
        &rest,
        &format!("/v1/sessions/{b}/git/commit"),
        json!({"message": "b2"}),
    )
    .await;
    let before = git(repo.path(), &["rev-parse", "release"]);
    let m = post(
        &rest,
        &format!("/v1/sessions/{b}/git/merge"),
        json!({"target": "release", "strategy": "squash", "message": "b, squashed"}),
    )
    .await;
    assert_eq!(
        (m["merged"].as_bool(), m["updated_worktree"].as_str()),
        (Some(true), None)
    );
    assert_eq!(
        git(
            repo.path(),
            &["log", "--format=%s", &format!("{}..release", before.trim())]
        )
        .trim(),
        "b, squashed"
    );
    assert!(git(repo.path(), &["ls-tree", "--name-only", "release"]).contains("b2.txt"));

    // rebase: the commits replayed one by one, authors kept.
    let (r, wt) = session(&rest, repo.path(), "r").await;
    std::fs::write(wt.join("r.txt"), "r\n").unwrap();
    git(&wt, &["add", "."]);
    git(
        &wt,
        &["-c", "user.name=Rita", "commit", "-q", "-m", "r work"],
    );
    std::fs::write(repo.path().join("main-moved.txt"), "m\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "main moved"]);
    let m = post(
        &rest,
        &format!("/v1/sessions/{r}/git/merge"),
        json!({"strategy": "rebase"}),
    )
    .await;
    assert_eq!(m["merged"], true, "{m}");
    assert_eq!(
        git(repo.path(), &["log", "-2", "--format=%an %s", "main"]),
        "Rita r work\nt main moved\n"
    );
    assert!(
        repo.path().join("r.txt").exists(),
        "the checkout came along"
    );

    // push: the session's branch reaches the bare remote, tracked.
    let p = post(
        &rest,
        &format!("/v1/sessions/{r}/git/push"),
        json!({"set_upstream": true}),
    )
    .await;
    assert_eq!(p["ok"], true, "{p}");
    assert!(git(remote.path(), &["branch", "--list"]).contains("agentmux/r"));
    let st = rest.get_ok(&format!("/v1/sessions/{r}/git/status")).await;
    assert_eq!(st["upstream"], "origin/agentmux/r", "{st}");
    let br = rest.get_ok(&format!("/v1/sessions/{r}/git/branches")).await;
    let mine = br["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["current"] == true)
        .unwrap();
    assert_eq!(mine["name"], "agentmux/r", "{br}");
    // pull: a commit pushed from elsewhere comes into the worktree.
    let other = tempfile::tempdir().unwrap();
    git(
        other.path(),
        &[
            "clone",
            "-q",
            "-b",
            "agentmux/r",
            remote.path().to_str().unwrap(),
            ".",
        ],
    );
    std::fs::write(other.path().join("upstream.txt"), "u\n").unwrap();
    git(other.path(), &["add", "."]);
    git(other.path(), &["commit", "-q", "-m", "from elsewhere"]);
    git(other.path(), &["push", "-q"]);
    let p = post(&rest, &format!("/v1/sessions/{r}/git/pull"), json!({})).await;
    assert_eq!(p["ok"], true, "{p}");
    assert!(wt.join("upstream.txt").exists());
}

#[tokio::test]
async fn two_sessions_on_one_file_the_second_merge_reports_the_conflict_and_changes_nothing() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let (a, wa) = session(&rest, repo.path(), "one").await;
    let (b, wb) = session(&rest, repo.path(), "two").await;
    // In parallel, each in its own worktree.
    std::fs::write(wa.join("src/main.rs"), "fn main() { one(); }\n").unwrap();
    std::fs::write(wb.join("src/main.rs"), "fn main() { two(); }\n").unwrap();
    std::fs::write(wb.join("only-two.txt"), "2\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(repo.path().join("src/main.rs")).unwrap(),
        "fn main() {}\n",
        "the user's checkout is untouched"
    );
    for s in [&a, &b] {
        post(
            &rest,
            &format!("/v1/sessions/{s}/git/commit"),
            json!({"message": s}),
        )
        .await;
    }
    let m = post(&rest, &format!("/v1/sessions/{a}/git/merge"), json!({})).await;
    assert_eq!(m["merged"], true, "{m}");
    let main_before = git(repo.path(), &["rev-parse", "main"]);
    for strategy in ["merge", "squash", "rebase"] {
        let m = post(
            &rest,
            &format!("/v1/sessions/{b}/git/merge"),
            json!({"strategy": strategy}),
        )
        .await;
        assert_eq!(m["merged"], false, "{strategy}: {m}");
        let c = m["conflicts"].as_array().unwrap();
        assert_eq!(c.len(), 1, "{m}");
        assert_eq!(c[0]["path"], "src/main.rs");
        assert_eq!(c[0]["kind"], "content");
        assert_eq!(
            git(repo.path(), &["rev-parse", "main"]),
            main_before,
            "{strategy}"
        );
        assert_eq!(
            git(repo.path(), &["status", "--porcelain"]),
            "",
            "{strategy}"
        );
        assert!(!repo.path().join(".git/MERGE_HEAD").exists());
        assert!(!repo.path().join("only-two.txt").exists());
    }
    // The CLI says so and exits 4.
    let out = tokio::process::Command::new(agentmux_tests::daemon::client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["git", "merge", "two"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("CONFLICT (content) src/main.rs"), "{text}");
}

#[tokio::test]
async fn a_dirty_checkout_of_the_target_is_never_clobbered() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let (a, wt) = session(&rest, repo.path(), "dirty").await;
    std::fs::write(wt.join("src/main.rs"), "fn main() { agent(); }\n").unwrap();
    post(
        &rest,
        &format!("/v1/sessions/{a}/git/commit"),
        json!({"message": "agent"}),
    )
    .await;
    std::fs::write(repo.path().join("src/main.rs"), "fn main() { mine(); }\n").unwrap();
    let before = git(repo.path(), &["rev-parse", "main"]);
    let r = rest
        .post(&format!("/v1/sessions/{a}/git/merge"), json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("uncommitted changes"), "{}", r.text());
    assert_eq!(git(repo.path(), &["rev-parse", "main"]), before);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("src/main.rs")).unwrap(),
        "fn main() { mine(); }\n"
    );
}

#[tokio::test]
async fn stage_unstage_discard_and_gc_change_only_agentmuxs_own_worktrees() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let (id, wt) = session(&rest, repo.path(), "edit").await;
    std::fs::write(wt.join("src/main.rs"), "changed\n").unwrap();
    std::fs::write(wt.join("scratch.txt"), "x\n").unwrap();
    let st = post(
        &rest,
        &format!("/v1/sessions/{id}/git/stage"),
        json!({"paths": ["src/main.rs"]}),
    )
    .await;
    assert_eq!(file(&st, "src/main.rs")["staged"], "M", "{st}");
    let st = post(
        &rest,
        &format!("/v1/sessions/{id}/git/unstage"),
        json!({"paths": ["src/main.rs"]}),
    )
    .await;
    assert_eq!(file(&st, "src/main.rs")["unstaged"], "M", "{st}");
    let st = post(
        &rest,
        &format!("/v1/sessions/{id}/git/discard"),
        json!({"paths": ["src/main.rs", "scratch.txt"]}),
    )
    .await;
    assert_eq!(st["files"], json!([]), "{st}");
    assert!(!wt.join("scratch.txt").exists());
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/git/discard"),
            json!({"paths": ["../../etc"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // In the user's checkout, discard is refused and nothing is touched.
    let (_, plain) = create(&rest, json!({"title": "mine", "cwd": repo.path()})).await;
    std::fs::write(repo.path().join("src/main.rs"), "my edit\n").unwrap();
    let r = rest
        .post(
            &format!("/v1/sessions/{}/git/discard", plain["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("own worktree"), "{}", r.text());
    assert_eq!(
        std::fs::read_to_string(repo.path().join("src/main.rs")).unwrap(),
        "my edit\n"
    );

    // gc: a left-over worktree goes (its branch stays); one with work only when forced.
    let root = d.data_dir.join("worktrees");
    for (name, dirty) in [("ses_left1", false), ("ses_left2", true)] {
        let p = root.join(name);
        git(
            repo.path(),
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("left/{name}"),
                p.to_str().unwrap(),
            ],
        );
        if dirty {
            std::fs::write(p.join("wip.txt"), "wip\n").unwrap();
        }
    }
    let dry = post(&rest, "/v1/workspaces/gc", json!({"dry_run": true})).await;
    assert_eq!(dry["removed"].as_array().unwrap().len(), 1, "{dry}");
    assert!(root.join("ses_left1").exists(), "a dry run removes nothing");
    let done = post(&rest, "/v1/workspaces/gc", json!({})).await;
    assert_eq!(
        done["removed"][0]["path"],
        root.join("ses_left1").display().to_string()
    );
    assert!(
        done["kept"][0]["state"]
            .as_str()
            .unwrap()
            .contains("uncommitted"),
        "{done}"
    );
    assert!(!root.join("ses_left1").exists() && root.join("ses_left2").exists());
    assert!(git(repo.path(), &["branch", "--list"]).contains("left/ses_left1"));
    let forced = post(&rest, "/v1/workspaces/gc", json!({"force": true})).await;
    assert_eq!(forced["removed"].as_array().unwrap().len(), 1, "{forced}");
    assert!(wt.exists(), "a session's own worktree is never collected");
    // The disk they take is in info (measured in the background).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let i = rest.get_ok("/v1/info").await;
        if i["worktrees"] == 1 && i["worktrees_bytes"].as_u64() > Some(0) {
            assert!(i["worktrees_measured_at_ms"].as_i64() > Some(0));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worktrees never measured: {i}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Names a client sends reach git only as names: an option, a refspec or a URL is refused
/// before git runs, and nothing happens.
#[tokio::test]
async fn remotes_and_branches_from_clients_are_names_never_options_or_refspecs() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(
        repo.path(),
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );
    git(repo.path(), &["branch", "keep"]);
    let (id, _) = session(&rest, repo.path(), "names").await;
    let marker = d.data_dir.join("pwned");
    let upload = format!("--upload-pack=touch {};", marker.display());
    for (route, body) in [
        ("pull", json!({"remote": upload, "branch": "."})),
        ("pull", json!({"branch": "+main:keep"})),
        ("pull", json!({"remote": remote.path()})),
        ("push", json!({"remote": "--receive-pack=x"})),
        ("push", json!({"branch": "main:refs/heads/x"})),
        ("merge", json!({"target": "-x"})),
        ("checkout", json!({"ref": "--orphan=x"})),
    ] {
        let r = rest
            .post(&format!("/v1/sessions/{id}/git/{route}"), body.clone())
            .await;
        assert_eq!(r.status, 400, "{route} {body}: {}", r.text());
    }
    assert!(!marker.exists(), "no command ran");
    assert_eq!(
        git(repo.path(), &["rev-parse", "keep"]),
        git(repo.path(), &["rev-parse", "main"]),
        "no branch moved"
    );
}
