//! Changing a work tree: commit, stage, unstage, discard, checkout, and the remotes. Paths
//! are passed to git literally, after `--`; git itself refuses any outside the repository.

use super::diff::literal;
use super::{exec, identity, run, run_env, untracked};
use agentmux_shared::types::{GitCommit, GitConflict, GitRemoteResult};
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::Path;

/// Remote operations may wait on a network; a slow one is cut here.
const REMOTE_CAP: usize = 1024 * 1024;

/// Refuses paths no client should send: absolute, or climbing out with `..`.
pub fn check_paths(paths: &[String]) -> Result<()> {
    for p in paths {
        let path = Path::new(p);
        if p.is_empty()
            || path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::invalid(format!(
                "path {p:?}: give a path inside the repository, relative to its top"
            )));
        }
    }
    Ok(())
}

fn with_paths<'a>(mut args: Vec<&'a str>, specs: &'a [String]) -> Vec<&'a str> {
    args.push("--");
    args.extend(specs.iter().map(String::as_str));
    args
}

fn specs(paths: &[String]) -> Vec<String> {
    paths.iter().map(|p| literal(p)).collect()
}

/// Commits every change (untracked files too), the given paths, or only what is staged.
pub async fn commit(
    dir: &Path,
    message: &str,
    paths: &[String],
    staged: bool,
) -> Result<GitCommit> {
    check_paths(paths)?;
    let specs = specs(paths);
    if !staged {
        let args = if paths.is_empty() {
            vec!["add", "-A"]
        } else {
            with_paths(vec!["add", "-A"], &specs)
        };
        run(dir, &args).await?;
    }
    let env = identity(dir).await;
    let mut args = vec!["commit", "--no-verify", "-q", "-m", message];
    if !staged && !paths.is_empty() {
        args = with_paths(args, &specs);
    }
    let out = exec(dir, &args, &env, REMOTE_CAP).await?;
    if !out.ok {
        let said = format!("{} {}", out.text(), out.stderr);
        if said.contains("nothing to commit")
            || said.contains("no changes added")
            || said.contains("nothing added")
        {
            return Err(Error::precondition("nothing to commit"));
        }
        return Err(Error::precondition(format!(
            "git commit failed: {}",
            said.trim()
        )));
    }
    super::head_commit(dir).await
}

pub async fn stage(dir: &Path, paths: &[String]) -> Result<()> {
    check_paths(paths)?;
    let specs = specs(paths);
    let args = if paths.is_empty() {
        vec!["add", "-A"]
    } else {
        with_paths(vec!["add", "-A"], &specs)
    };
    run(dir, &args).await.map(|_| ())
}

pub async fn unstage(dir: &Path, paths: &[String]) -> Result<()> {
    check_paths(paths)?;
    let all = [".".to_string()];
    let specs = if paths.is_empty() {
        all.to_vec()
    } else {
        specs(paths)
    };
    run(dir, &with_paths(vec!["restore", "--staged"], &specs))
        .await
        .map(|_| ())
}

/// Puts paths (every change when empty) back as `HEAD` has them; untracked ones are deleted.
/// Callers make sure `dir` is agentmux's own worktree.
pub async fn discard(dir: &Path, paths: &[String]) -> Result<()> {
    check_paths(paths)?;
    let mut new_files = Vec::new();
    for p in if paths.is_empty() {
        vec![String::new()]
    } else {
        paths.to_vec()
    } {
        new_files.extend(untracked(dir, &p).await?);
    }
    let tracked: Vec<String> = if paths.is_empty() {
        vec![".".into()]
    } else {
        paths
            .iter()
            .filter(|p| !new_files.contains(p))
            .map(|p| literal(p))
            .collect()
    };
    if !tracked.is_empty() {
        let args = with_paths(
            vec!["restore", "--source=HEAD", "--staged", "--worktree"],
            &tracked,
        );
        let out = exec(dir, &args, &[], REMOTE_CAP).await?;
        // A path only in the index or only new has nothing in HEAD to restore: not an error.
        if !out.ok && !out.stderr.contains("did not match any file") {
            return Err(super::failed(&args, &out.stderr));
        }
    }
    for f in new_files {
        let full = dir.join(&f);
        if let Err(e) = tokio::fs::remove_file(&full).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::internal(format!("cannot remove {f}: {e}")));
        }
    }
    Ok(())
}

pub async fn checkout(dir: &Path, target: &str, create: bool) -> Result<()> {
    super::check_name(dir, "branch or commit", target).await?;
    let args = if create {
        vec!["switch", "-c", target]
    } else if super::branch_exists(dir, target).await {
        vec!["switch", target]
    } else {
        vec!["switch", "--detach", target]
    };
    run(dir, &args).await.map(|_| ())
}

/// The remote a branch tracks, else `origin`.
async fn remote_of(dir: &Path, branch: &str) -> String {
    run(
        dir,
        &["config", "--get", &format!("branch.{branch}.remote")],
    )
    .await
    .map(|r| r.trim().to_string())
    .ok()
    .filter(|r| !r.is_empty())
    .unwrap_or_else(|| "origin".into())
}

/// A remote the repository has configured (a URL or anything else a client sends is refused).
async fn known_remote(dir: &Path, remote: &str) -> Result<()> {
    let all = run(dir, &["remote"]).await?;
    if all.lines().any(|r| r == remote) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "no remote named {remote:?} (the repository has: {})",
        all.lines().collect::<Vec<_>>().join(", ")
    )))
}

/// Refuses to start a pull over a merge or rebase already under way (aborting it after a
/// conflict would throw that work away).
async fn nothing_under_way(dir: &Path) -> Result<()> {
    for marker in [
        "MERGE_HEAD",
        "rebase-merge",
        "rebase-apply",
        "CHERRY_PICK_HEAD",
    ] {
        let p = run(dir, &["rev-parse", "--git-path", marker]).await?;
        let p = dir.join(p.trim());
        if p.exists() {
            return Err(Error::precondition(format!(
                "a merge or rebase is under way in {} ({marker}): finish or abort it first",
                dir.display()
            )));
        }
    }
    if super::status(dir).await?.files.iter().any(|f| f.conflicted) {
        return Err(Error::precondition(
            "the work tree has conflicted files: resolve them first",
        ));
    }
    Ok(())
}

pub async fn push(
    dir: &Path,
    remote: &str,
    branch: &str,
    set_upstream: bool,
    force: bool,
) -> Result<GitRemoteResult> {
    super::check_name(dir, "branch", branch).await?;
    let remote = match remote {
        "" => remote_of(dir, branch).await,
        r => r.to_string(),
    };
    known_remote(dir, &remote).await?;
    let mut args = vec!["push", "--porcelain"];
    if set_upstream {
        args.push("--set-upstream");
    }
    if force {
        args.push("--force-with-lease");
    }
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    args.extend(["--end-of-options", remote.as_str(), refspec.as_str()]);
    let out = exec(dir, &args, &[], REMOTE_CAP).await?;
    if !out.ok {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!("git push to {remote} failed: {}", out.stderr),
        ));
    }
    Ok(GitRemoteResult {
        ok: true,
        commit: super::commit_of(dir, &format!("refs/heads/{branch}")).await?,
        remote,
        branch: branch.into(),
        conflicts: Vec::new(),
        output: format!("{}\n{}", out.text().trim(), out.stderr)
            .trim()
            .to_string(),
    })
}

/// Fetches and integrates a remote branch into the branch checked out at `dir`; conflicts
/// are undone (the work tree is as it was) and come back in the result.
pub async fn pull(
    dir: &Path,
    remote: &str,
    branch: &str,
    current: &str,
    strategy: &str,
) -> Result<GitRemoteResult> {
    let how = match strategy {
        "" | "ff-only" => "--ff-only",
        "merge" => "--no-rebase",
        "rebase" => "--rebase",
        other => {
            return Err(Error::invalid(format!(
                "pull strategy {other:?}: use ff-only, merge or rebase"
            )));
        }
    };
    let remote = match remote {
        "" => remote_of(dir, current).await,
        r => r.to_string(),
    };
    known_remote(dir, &remote).await?;
    if !branch.is_empty() {
        super::check_name(dir, "branch", branch).await?;
    }
    nothing_under_way(dir).await?;
    let mut args = vec![
        "pull",
        "--no-edit",
        how,
        "--end-of-options",
        remote.as_str(),
    ];
    if !branch.is_empty() {
        args.push(branch);
    }
    let env = identity(dir).await;
    let out = exec(dir, &args, &env, REMOTE_CAP).await?;
    let said = format!("{}\n{}", out.text().trim(), out.stderr)
        .trim()
        .to_string();
    let mut result = GitRemoteResult {
        ok: out.ok,
        remote,
        branch: branch.into(),
        output: said.clone(),
        ..GitRemoteResult::default()
    };
    if !out.ok {
        let st = super::status(dir).await?;
        result.conflicts = st
            .files
            .iter()
            .filter(|f| f.conflicted)
            .map(|f| GitConflict {
                path: f.path.clone(),
                kind: "content".into(),
                message: String::new(),
            })
            .collect();
        if result.conflicts.is_empty() {
            return Err(Error::precondition(format!("git pull failed: {said}")));
        }
        let abort: &[&str] = if how == "--rebase" {
            &["rebase", "--abort"]
        } else {
            &["merge", "--abort"]
        };
        run_env(dir, abort, &env).await?;
    }
    result.commit = super::commit_of(dir, "HEAD").await.unwrap_or_default();
    Ok(result)
}
