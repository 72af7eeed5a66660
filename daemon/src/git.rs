//! The git CLI, for sessions' worktrees. The CLI, not a library: it is what the user's
//! repository is made with, it handles every repository format and hook, and worktree
//! operations through it are fast. Every call has a deadline and never prompts.

use agentmux_shared::types::GitFile;
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest any one git command may take (a worktree of a very large repository included).
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `git -C dir args…`; its stdout, or an error with what git said.
pub async fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(DEADLINE, cmd.output()).await {
        Err(_) => {
            return Err(Error::unavailable(format!(
                "git {} took over {} s",
                args.join(" "),
                DEADLINE.as_secs()
            )));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::precondition(
                "git is not installed (worktrees need the git command on PATH)",
            ));
        }
        Ok(Err(e)) => return Err(Error::internal(format!("cannot run git: {e}"))),
        Ok(Ok(o)) => o,
    };
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!("git {} failed: {said}", args.join(" ")),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The top directory of the repository `dir` is in; `None` when it is in none.
pub async fn toplevel(dir: &Path) -> Result<Option<PathBuf>> {
    match run(dir, &["rev-parse", "--show-toplevel"]).await {
        Ok(out) => Ok(Some(PathBuf::from(out.trim()))),
        Err(e) if e.kind == ErrorKind::FailedPrecondition && e.message.contains("not a git") => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The commit `rev` names.
pub async fn commit_of(repo: &Path, rev: &str) -> Result<String> {
    let out = run(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .await
    .map_err(|_| Error::invalid(format!("{rev:?} names no commit in {}", repo.display())))?;
    Ok(out.trim().to_string())
}

pub async fn branch_exists(repo: &Path, branch: &str) -> bool {
    run(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )
    .await
    .is_ok()
}

/// Makes `path` a worktree on a new `branch` starting at `commit`.
pub async fn add_worktree(repo: &Path, path: &Path, branch: &str, commit: &str) -> Result<()> {
    let p = path.display().to_string();
    run(repo, &["worktree", "add", "-b", branch, &p, commit])
        .await
        .map(|_| ())
}

/// Whether `path` is a worktree git knows.
pub async fn is_worktree(path: &Path) -> bool {
    path.join(".git").exists() && run(path, &["rev-parse", "--git-dir"]).await.is_ok()
}

/// Changes not committed in a worktree, one `git status --porcelain` line each.
pub async fn uncommitted(path: &Path) -> Result<Vec<String>> {
    let out = run(path, &["status", "--porcelain", "--untracked-files=all"]).await?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Commits on `branch` that no other branch or remote branch has (what deleting it would lose),
/// newest first, at most 20, as `abbrev subject`.
pub async fn only_on(repo: &Path, branch: &str) -> Result<Vec<String>> {
    let refs = run(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads",
            "refs/remotes",
        ],
    )
    .await?;
    let own = format!("refs/heads/{branch}");
    let mut args = vec![
        "rev-list",
        "--max-count=20",
        "--format=%h %s",
        branch,
        "--not",
    ];
    args.extend(refs.lines().filter(|r| *r != own));
    let out = run(repo, &args).await?;
    Ok(out
        .lines()
        .filter(|l| !l.starts_with("commit "))
        .map(str::to_string)
        .collect())
}

/// Removes a worktree (its files go; the repository keeps its commits) and prunes git's record.
pub async fn remove_worktree(repo: &Path, path: &Path) -> Result<()> {
    let p = path.display().to_string();
    let removed = run(repo, &["worktree", "remove", "--force", &p]).await;
    // A directory already gone leaves only git's record, which prune clears.
    let _ = run(repo, &["worktree", "prune"]).await;
    match removed {
        Err(_) if !path.exists() => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The checked-out branch and the changed files of the work tree at `dir` (renames found).
pub async fn status(dir: &Path) -> Result<(String, Vec<GitFile>)> {
    let out = run(
        dir,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--branch",
            "--untracked-files=all",
            "--find-renames",
        ],
    )
    .await?;
    Ok(parse_status(&out))
}

/// `git status --porcelain=v1 -z --branch`: a `## branch...` entry, then `XY path` entries,
/// a rename's old path as the entry after it.
fn parse_status(out: &str) -> (String, Vec<GitFile>) {
    let mut branch = String::new();
    let mut files = Vec::new();
    let mut entries = out.split('\0').filter(|e| !e.is_empty());
    while let Some(e) = entries.next() {
        if let Some(b) = e.strip_prefix("## ") {
            let name = b.split("...").next().unwrap_or("");
            branch = if name.starts_with("HEAD (no branch)") {
                String::new()
            } else {
                name.trim_start_matches("No commits yet on ").to_string()
            };
            continue;
        }
        let (Some(x), Some(y), Some(path)) = (e.get(0..1), e.get(1..2), e.get(3..)) else {
            continue;
        };
        let old_path = if matches!(x, "R" | "C") {
            entries.next().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let letter = |l: &str| {
            if l == " " || l == "?" {
                String::new()
            } else {
                l.to_string()
            }
        };
        files.push(GitFile {
            path: path.to_string(),
            old_path,
            staged: letter(x),
            unstaged: letter(y),
            untracked: x == "?",
            conflicted: matches!((x, y), ("U", _) | (_, "U") | ("A", "A") | ("D", "D")),
        });
    }
    (branch, files)
}

/// Commits `(ahead, behind)` of `HEAD` against `base`.
pub async fn ahead_behind(dir: &Path, base: &str) -> Result<(u32, u32)> {
    let out = run(
        dir,
        &[
            "rev-list",
            "--left-right",
            "--count",
            &format!("{base}...HEAD"),
        ],
    )
    .await?;
    let mut n = out
        .split_whitespace()
        .map(|v| v.parse::<u32>().unwrap_or(0));
    let behind = n.next().unwrap_or(0);
    let ahead = n.next().unwrap_or(0);
    Ok((ahead, behind))
}

pub async fn delete_branch(repo: &Path, branch: &str) -> Result<()> {
    run(repo, &["branch", "-D", branch]).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_entries_renames_and_conflicts() {
        let out = "## agentmux/x...origin/main [ahead 1]\0 M src/a.rs\0R  new.rs\0old.rs\0?? notes.txt\0UU both.rs\0";
        let (branch, files) = parse_status(out);
        assert_eq!(branch, "agentmux/x");
        let f = |p: &str| files.iter().find(|f| f.path == p).unwrap().clone();
        assert_eq!(
            (
                f("src/a.rs").staged.as_str(),
                f("src/a.rs").unstaged.as_str()
            ),
            ("", "M")
        );
        assert_eq!(f("new.rs").old_path, "old.rs");
        assert!(f("notes.txt").untracked && f("notes.txt").staged.is_empty());
        assert!(f("both.rs").conflicted);
        assert_eq!(files.len(), 4);
    }
}
