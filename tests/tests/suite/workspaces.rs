//! Sessions' own git worktrees against real repositories: made outside the user's checkout on
//! their own branch, never losing work on delete, and reconciled after a crash.

use super::start;
use agentmux_tests::client::Rest;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// `git -C dir args…` that must succeed; its stdout.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository with one commit and a `src/` directory.
pub(super) fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

pub(super) async fn create(rest: &Rest, body: Value) -> (u16, Value) {
    let r = rest.post("/v1/sessions", body).await;
    (r.status, r.json())
}

#[tokio::test]
async fn a_worktree_session_works_apart_and_its_work_is_never_lost_on_delete() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let real = repo.path().canonicalize().unwrap();
    let (status, s) = create(
        &rest,
        json!({"title": "wt", "cwd": repo.path().join("src"), "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let w = &s["workspace"];
    assert_eq!(w["state"], "ready", "{s}");
    assert_eq!(w["branch"], "agentmux/wt");
    assert_eq!(Path::new(w["repo"].as_str().unwrap()), real);
    let path = Path::new(w["path"].as_str().unwrap()).to_path_buf();
    assert!(
        path.starts_with(&d.data_dir),
        "outside the user's checkout: {}",
        path.display()
    );
    assert_eq!(
        Path::new(s["cwd"].as_str().unwrap()),
        path.join("src"),
        "same place inside"
    );
    assert_eq!(
        git(&path, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "agentmux/wt"
    );

    // Work in the worktree does not touch the user's checkout.
    std::fs::write(path.join("src/new.rs"), "// agent\n").unwrap();
    assert!(!repo.path().join("src/new.rs").exists());
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");

    // Uncommitted work: refused, saying what.
    let id = s["id"].as_str().unwrap();
    let r = rest.delete(&format!("/v1/sessions/{id}")).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("uncommitted") && r.text().contains("src/new.rs"),
        "{}",
        r.text()
    );
    // Committed on its branch only: still refused.
    git(&path, &["add", "."]);
    git(&path, &["commit", "-q", "-m", "agent work"]);
    let r = rest.delete(&format!("/v1/sessions/{id}")).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("on no other branch"), "{}", r.text());
    // Forced: the worktree goes, the branch and its commit stay.
    let r = rest.delete(&format!("/v1/sessions/{id}?force=true")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!path.exists());
    assert!(git(repo.path(), &["log", "--format=%s", "agentmux/wt"]).contains("agent work"));
    assert!(!git(repo.path(), &["worktree", "list"]).contains(&path.display().to_string()));

    // A clean one goes without force, and its branch with it when asked.
    let (_, s) = create(
        &rest,
        json!({"title": "clean", "cwd": repo.path(), "workspace": {"mode": "worktree", "branch": "try/clean"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let r = rest
        .delete(&format!("/v1/sessions/{id}?delete_branch=true"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!git(repo.path(), &["branch", "--list"]).contains("try/clean"));

    // Refusals: not a repository, a branch that exists, a base that names nothing.
    let plain = tempfile::tempdir().unwrap();
    let (status, e) = create(
        &rest,
        json!({"cwd": plain.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = create(
        &rest,
        json!({"cwd": repo.path(), "workspace": {"mode": "worktree", "branch": "agentmux/wt"}}),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    let (status, e) = create(
        &rest,
        json!({"cwd": repo.path(), "workspace": {"mode": "worktree", "base": "no-such-ref"}}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    // None of them left a session, a branch or a worktree behind.
    let listed = rest.get_ok("/v1/sessions").await;
    assert_eq!(
        listed["sessions"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
}

#[tokio::test]
async fn a_worktree_gone_while_the_daemon_was_down_is_marked_missing() {
    let (_fake, mut d) = start(|o| o).await;
    let repo = repo();
    let (status, s) = create(
        &d.rest(),
        json!({"title": "gone", "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let id = s["id"].as_str().unwrap().to_string();
    let path = s["workspace"]["path"].as_str().unwrap().to_string();
    d.kill9().await;
    std::fs::remove_dir_all(&path).unwrap();
    d.restart().await;
    let s = d.rest().get_ok(&format!("/v1/sessions/{id}")).await;
    assert_eq!(s["workspace"]["state"], "missing", "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("missing"), "{s}");
    // Deleting it cleans git's record too.
    let r = d.rest().delete(&format!("/v1/sessions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
}

/// Status of a session's worktree over REST and the CLI: branch, ahead of its base, and the
/// changed files with their letters (a rename found as one).
#[tokio::test]
async fn git_status_shows_the_sessions_branch_and_changes() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let (_, s) = create(
        &rest,
        json!({"title": "st", "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let path = Path::new(s["workspace"]["path"].as_str().unwrap()).to_path_buf();
    std::fs::write(path.join("src/extra.rs"), "// one\n").unwrap();
    git(&path, &["add", "."]);
    git(&path, &["commit", "-q", "-m", "extra"]);
    git(&path, &["mv", "src/main.rs", "src/lib.rs"]);
    std::fs::write(path.join("notes.txt"), "todo\n").unwrap();
    std::fs::write(path.join("src/extra.rs"), "// two\n").unwrap();

    let st = rest.get_ok(&format!("/v1/sessions/{id}/git/status")).await;
    assert_eq!(st["branch"], "agentmux/st", "{st}");
    assert_eq!(
        (st["ahead"].as_u64(), st["behind"].as_u64()),
        (Some(1), Some(0))
    );
    let files = st["files"].as_array().unwrap();
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p}: {st}"))
    };
    assert_eq!(find("src/lib.rs")["old_path"], "src/main.rs");
    assert_eq!(find("src/lib.rs")["staged"], "R");
    assert_eq!(find("src/extra.rs")["unstaged"], "M");
    assert_eq!(find("notes.txt")["untracked"], true);

    let out = tokio::process::Command::new(agentmux_tests::daemon::client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["git", "status", "st"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("on agentmux/st, 1 ahead and 0 behind its base"),
        "{text}"
    );
    assert!(text.contains("R  src/main.rs -> src/lib.rs"), "{text}");
    assert!(text.contains("?? notes.txt"), "{text}");

    // A session outside any repository says so.
    let plain = tempfile::tempdir().unwrap();
    let (_, s) = create(&rest, json!({"title": "plain", "cwd": plain.path()})).await;
    let r = rest
        .get(&format!(
            "/v1/sessions/{}/git/status",
            s["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("not in a git repository"), "{}", r.text());
}

/// `agentmux workspace ls`: each session's worktree with its state and size, and a directory
/// under the worktree root that no session names as an orphan.
#[tokio::test]
async fn workspace_ls_lists_worktrees_with_their_size_and_orphans() {
    let (_fake, d) = start(|o| o).await;
    let repo = repo();
    let (_, s) = create(
        &d.rest(),
        json!({"title": "ls", "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    let orphan = d.data_dir.join("worktrees/ses_leftover");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("big.bin"), vec![0u8; 300_000]).unwrap();
    let out = tokio::process::Command::new(agentmux_tests::daemon::client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["--json", "workspace", "ls"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let mine = all.iter().find(|w| w["session_id"] == s["id"]).unwrap();
    assert_eq!(mine["state"], "ready");
    assert_eq!(mine["branch"], "agentmux/ls");
    assert!(mine["size_bytes"].as_u64().unwrap() > 0, "{mine}");
    let left = all.iter().find(|w| w["state"] == "orphan").unwrap();
    assert_eq!(Path::new(left["path"].as_str().unwrap()), orphan);
    assert_eq!(left["size_bytes"], 300_000);
}

/// A fork of a worktree session gets its own worktree holding the parent's work as it stands
/// (commits, staged, unstaged and new files), the parent untouched; a terminal can start in a
/// session's worktree; a name reused after a delete that kept its branch gets a fresh branch.
#[tokio::test]
async fn a_fork_gets_its_own_worktree_from_the_parents_current_state() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    let (_, s) = create(
        &rest,
        json!({"title": "parent", "cwd": repo.path().join("src"), "workspace": {"mode": "worktree"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let wt = Path::new(s["workspace"]["path"].as_str().unwrap()).to_path_buf();
    std::fs::write(wt.join("committed.txt"), "c\n").unwrap();
    git(&wt, &["add", "."]);
    git(&wt, &["commit", "-q", "-m", "parent work"]);
    std::fs::write(wt.join("staged.txt"), "s\n").unwrap();
    git(&wt, &["add", "staged.txt"]);
    std::fs::write(wt.join("src/main.rs"), "fn main() { edited(); }\n").unwrap();
    std::fs::create_dir(wt.join("new")).unwrap();
    std::fs::write(wt.join("new/untracked.txt"), "u\n").unwrap();
    let parent_status = git(&wt, &["status", "--porcelain"]);

    let r = rest
        .post(&format!("/v1/sessions/{id}/fork"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let f = r.json();
    let fw = &f["workspace"];
    assert_eq!(fw["state"], "ready", "{f}");
    assert_eq!(fw["base"], s["workspace"]["base"]);
    assert_ne!(fw["path"], s["workspace"]["path"]);
    let fwt = Path::new(fw["path"].as_str().unwrap()).to_path_buf();
    assert_eq!(Path::new(f["cwd"].as_str().unwrap()), fwt.join("src"));
    assert_eq!(
        git(&fwt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        fw["branch"].as_str().unwrap()
    );
    assert_eq!(
        git(&fwt, &["log", "-1", "--format=%s"]).trim(),
        "parent work"
    );
    assert_eq!(
        std::fs::read_to_string(fwt.join("src/main.rs")).unwrap(),
        "fn main() { edited(); }\n"
    );
    assert!(fwt.join("new/untracked.txt").exists() && fwt.join("staged.txt").exists());
    assert_eq!(
        git(&fwt, &["status", "--porcelain"]),
        parent_status,
        "same state, staged too"
    );
    assert_eq!(
        git(&wt, &["status", "--porcelain"]),
        parent_status,
        "the parent untouched"
    );
    assert_eq!(git(&wt, &["stash", "list"]), "");

    // A terminal in the fork's worktree.
    let r = rest
        .post(
            "/v1/terminals",
            json!({"command": "sh", "args": ["-c", "pwd > where.txt"], "session": f["id"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !fwt.join("src/where.txt").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the terminal never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = rest
        .post(
            "/v1/terminals",
            json!({"command": "sh", "session": f["id"], "cwd": "/tmp"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // Deleted with its branch kept, then the name again: a branch of its own.
    let fid = f["id"].as_str().unwrap();
    let fname = f["name"].as_str().unwrap().to_string();
    let r = rest.delete(&format!("/v1/sessions/{fid}?force=true")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (status, again) = create(
        &rest,
        json!({"name": fname, "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(
        again["workspace"]["branch"],
        format!("{}-2", fw["branch"].as_str().unwrap())
    );
}

/// A session whose worktree went missing refuses new input and terminals, saying why.
#[tokio::test]
async fn a_session_whose_worktree_is_missing_says_so_instead_of_running() {
    let (_fake, mut d) = start(|o| o).await;
    let repo = repo();
    let (_, s) = create(
        &d.rest(),
        json!({"title": "lost", "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    d.kill9().await;
    std::fs::remove_dir_all(s["workspace"]["path"].as_str().unwrap()).unwrap();
    d.restart().await;
    let rest = d.rest();
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/messages"),
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("missing"), "{}", r.text());
    let r = rest
        .post("/v1/terminals", json!({"command": "sh", "session": id}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // Its committed work is still there to fork from.
    let r = rest
        .post(&format!("/v1/sessions/{id}/fork"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["workspace"]["state"], "ready");
}

/// `workspace.changed`: a file written in a session's worktree (not one git ignores, not in
/// a directory made after the watch started too) and a commit through the API are announced.
#[tokio::test]
async fn changes_in_a_worktree_are_announced_as_workspace_changed() {
    use agentmux_shared::types::EventPayload;
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    let repo = repo();
    std::fs::write(repo.path().join(".gitignore"), "target/\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "ignore"]);
    let (_, s) = create(
        &rest,
        json!({"title": "watched", "cwd": repo.path(), "workspace": {"mode": "worktree"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    let wt = Path::new(s["workspace"]["path"].as_str().unwrap()).to_path_buf();
    let head = d.last_seq().await;
    let mut sse = rest
        .sse(&format!("/v1/events?after={head}&session={id}"), None)
        .await;
    // Give the watcher its first walk.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    std::fs::create_dir_all(wt.join("target")).unwrap();
    std::fs::write(wt.join("target/build.o"), "x").unwrap();
    std::fs::write(wt.join("src/agent.rs"), "// new\n").unwrap();
    let mut seen: Vec<(String, Vec<String>)> = Vec::new();
    let mut next = async || loop {
        let e = sse.try_next_event().await.expect("the stream stays open");
        if let Some(e) = e
            && let EventPayload::WorkspaceChanged { reason, paths, .. } = e.payload
        {
            return (reason, paths);
        }
    };
    while !seen
        .iter()
        .any(|(_, p)| p.iter().any(|p| p == "src/agent.rs"))
    {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), next())
            .await
            .unwrap_or_else(|_| panic!("no workspace.changed for src/agent.rs: {seen:?}"));
        seen.push(got);
    }
    assert!(
        seen.iter()
            .all(|(r, p)| r == "files" && !p.iter().any(|p| p.starts_with("target"))),
        "ignored paths are left out: {seen:?}"
    );
    // A directory made now is watched too.
    std::fs::create_dir(wt.join("fresh")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    std::fs::write(wt.join("fresh/inner.txt"), "i\n").unwrap();
    loop {
        let (_, p) = tokio::time::timeout(std::time::Duration::from_secs(10), next())
            .await
            .expect("no workspace.changed for fresh/inner.txt");
        if p.iter().any(|p| p == "fresh/inner.txt") {
            break;
        }
    }
    // A commit through the API says so.
    let r = rest
        .post(
            &format!("/v1/sessions/{id}/git/commit"),
            json!({"message": "agent"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    loop {
        let (reason, _) = tokio::time::timeout(std::time::Duration::from_secs(10), next())
            .await
            .expect("no workspace.changed for the commit");
        if reason == "commit" {
            break;
        }
    }
}
