//! The git CLI, for sessions' worktrees. The CLI, not a library: it is what the user's
//! repository is made with, it handles every repository format and hook, and worktree
//! operations through it are fast. Every call has a deadline and never prompts.

use agentmux_shared::types::{GitFile, GitStatus};
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest any one git command may take (a worktree of a very large repository included).
const DEADLINE: Duration = Duration::from_secs(120);

mod change;
mod diff;
mod history;
mod merge;

pub use change::{check_paths, checkout, commit, discard, pull, push, stage, unstage};
pub use diff::{DiffSpec, diff};
pub use history::{branches, head_commit, log};
pub use merge::{MergePlan, merge};

/// `git -C dir` as every call runs it: never prompting, taking no optional lock (status must
/// not fight the agent's own git for the index), in the C locale (its words are parsed).
fn command(dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .kill_on_drop(true);
    cmd
}

/// What one git command did.
pub struct Output {
    pub ok: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// Stdout was cut at the cap (the command was stopped there).
    pub cut: bool,
}

impl Output {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `git -C dir args…` with extra `env`, reading at most `cap` bytes of its stdout; a
/// failing exit is not an error here (see `run`).
pub async fn exec(dir: &Path, args: &[&str], env: &[(&str, &str)], cap: usize) -> Result<Output> {
    exec_with(dir, args, env, cap, false).await
}

/// `exec`; with `dying`, git is killed if the daemon dies (what it makes is redone at start).
async fn exec_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cap: usize,
    dying: bool,
) -> Result<Output> {
    use tokio::io::AsyncReadExt;
    if let Some(bad) = args.iter().find(|a| a.contains('\0')) {
        return Err(Error::invalid(format!("{bad:?} holds a NUL character")));
    }
    let mut cmd = command(dir);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if dying {
        crate::os::process::die_with_daemon(&mut cmd);
    }
    let mut child = match cmd.spawn() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::precondition(
                "git is not installed (worktrees need the git command on PATH)",
            ));
        }
        Err(e) => return Err(Error::internal(format!("cannot run git: {e}"))),
        Ok(c) => c,
    };
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::internal("git's output pipes are missing"));
    };
    let work = async {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        // Past the cap git is stopped at once (it would block on a full pipe); stderr is read
        // to its end meanwhile, only its start kept, so git never blocks on it either.
        let read_out = async {
            let r = (&mut out).take(limit).read_to_end(&mut stdout).await;
            if stdout.len() > cap {
                let _ = child.start_kill();
            }
            r
        };
        let read_err = async {
            (&mut err).take(64 * 1024).read_to_end(&mut stderr).await?;
            tokio::io::copy(&mut err, &mut tokio::io::sink()).await
        };
        let (o, e) = tokio::join!(read_out, read_err);
        o.map(|_| ())
            .and(e.map(|_| ()))
            .map_err(|e| Error::internal(format!("reading git's output: {e}")))?;
        let cut = stdout.len() > cap;
        if cut {
            stdout.truncate(cap);
        }
        let status = child
            .wait()
            .await
            .map_err(|e| Error::internal(format!("waiting for git: {e}")))?;
        Ok::<_, Error>(Output {
            ok: status.success() && !cut,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
            cut,
        })
    };
    match tokio::time::timeout(DEADLINE, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::unavailable(format!(
            "git {} took over {} s",
            args.join(" "),
            DEADLINE.as_secs()
        ))),
    }
}

/// Most git output agentmux reads whole (listings, status): larger is refused, not kept.
const TEXT_CAP: usize = 64 * 1024 * 1024;

/// Runs `git -C dir args…`; its stdout, or an error with what git said.
pub async fn run(dir: &Path, args: &[&str]) -> Result<String> {
    run_env(dir, args, &[]).await
}

pub async fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let out = exec(dir, args, env, TEXT_CAP).await?;
    if out.cut {
        return Err(Error::unavailable(format!(
            "git {} said more than {} MB",
            args.join(" "),
            TEXT_CAP >> 20
        )));
    }
    if !out.ok {
        return Err(failed(args, &out.stderr));
    }
    Ok(out.text())
}

fn failed(args: &[&str], said: &str) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        format!("git {} failed: {said}", args.join(" ")),
    )
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

/// The main repository a worktree at `dir` belongs to; `None` when `dir` is no worktree.
pub async fn common_repo(dir: &Path) -> Option<PathBuf> {
    if !dir.join(".git").exists() {
        return None;
    }
    let common = run(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    )
    .await
    .ok()?;
    let common = PathBuf::from(common.trim());
    // A normal repository's is `<top>/.git`; a bare one's is itself.
    Some(match common.file_name() {
        Some(n) if n == ".git" => common.parent()?.to_path_buf(),
        _ => common,
    })
}

/// The branch checked out at `dir`; `None` when detached.
pub async fn current_branch(dir: &Path) -> Option<String> {
    run(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
        .await
        .ok()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
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
    // The checkout is a second step git runs as our own child: `worktree add` would run it as
    // its child, which a daemon that dies could not take along, leaving it writing files
    // into a worktree the next start makes again.
    let add = ["worktree", "add", "--no-checkout", "-b", branch, &p, commit];
    let out = exec_with(repo, &add, &[], TEXT_CAP, true).await?;
    if !out.ok {
        return Err(failed(&add, &out.stderr));
    }
    let checkout = ["reset", "--hard", "--quiet"];
    let out = exec_with(path, &checkout, &[], TEXT_CAP, true).await?;
    if !out.ok {
        return Err(failed(&checkout, &out.stderr));
    }
    Ok(())
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
    let own = format!("refs/heads/{branch}");
    // Patterns for --branches name branches without their refs/heads/ prefix.
    let exclude = format!("--exclude={branch}");
    let args = [
        "rev-list",
        "--max-count=20",
        "--format=%h %s",
        own.as_str(),
        "--not",
        exclude.as_str(),
        "--branches",
        "--remotes",
    ];
    let out = run(repo, &args).await?;
    Ok(out
        .lines()
        .filter(|l| !l.starts_with("commit "))
        .map(str::to_string)
        .collect())
}

/// Commits `HEAD` of the work tree at `dir` has that no branch or remote branch has (a
/// detached HEAD's own commits), newest first, at most 20, as `abbrev subject`.
pub async fn only_at_head(dir: &Path) -> Result<Vec<String>> {
    let args = [
        "rev-list",
        "--max-count=20",
        "--format=%h %s",
        "HEAD",
        "--not",
        "--branches",
        "--remotes",
    ];
    let out = run(dir, &args).await?;
    Ok(out
        .lines()
        .filter(|l| !l.starts_with("commit "))
        .map(str::to_string)
        .collect())
}

/// A branch or remote name a client gave is one git takes as a name: not an option, not a
/// refspec, not a revision expression (`git check-ref-format --branch`).
pub async fn check_name(dir: &Path, what: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.starts_with('-')
        || name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\+".contains(c))
        || name.contains("..")
        || name.contains("@{");
    if bad
        || run(dir, &["check-ref-format", "--branch", name])
            .await
            .is_err()
    {
        return Err(Error::invalid(format!(
            "{what} {name:?} is not a valid name"
        )));
    }
    Ok(())
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
pub async fn status(dir: &Path) -> Result<GitStatus> {
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
fn parse_status(out: &str) -> GitStatus {
    let mut st = GitStatus::default();
    let mut entries = out.split('\0').filter(|e| !e.is_empty());
    while let Some(e) = entries.next() {
        if let Some(b) = e.strip_prefix("## ") {
            let (head, track) = b.split_once(" [").unwrap_or((b, ""));
            let (name, upstream) = head.split_once("...").unwrap_or((head, ""));
            st.branch = if name.starts_with("HEAD (no branch)") {
                String::new()
            } else {
                name.trim_start_matches("No commits yet on ").to_string()
            };
            st.upstream = upstream.to_string();
            (st.upstream_ahead, st.upstream_behind) = history::track(track.trim_end_matches(']'));
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
        st.files.push(GitFile {
            path: path.to_string(),
            old_path,
            staged: letter(x),
            unstaged: letter(y),
            untracked: x == "?",
            conflicted: matches!((x, y), ("U", _) | (_, "U") | ("A", "A") | ("D", "D")),
        });
    }
    st
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

/// Files git does not track and does not ignore, under `path` (all when empty).
pub async fn untracked(dir: &Path, path: &str) -> Result<Vec<String>> {
    let spec = diff::literal(path);
    let mut args = vec![
        "-c",
        "core.quotePath=false",
        "ls-files",
        "--others",
        "--exclude-standard",
        "-z",
        "--",
    ];
    if !path.is_empty() {
        args.push(&spec);
    }
    let out = run(dir, &args).await?;
    Ok(out
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

/// Which of `paths` (relative to `dir`) git ignores.
pub async fn ignored(dir: &Path, paths: &[String]) -> Result<std::collections::HashSet<String>> {
    use tokio::io::AsyncWriteExt;
    if paths.is_empty() {
        return Ok(Default::default());
    }
    let mut child = command(dir)
        .args(["check-ignore", "--stdin", "-z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::internal(format!("cannot run git: {e}")))?;
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p.as_bytes());
        input.push(0);
    }
    let stdin = child.stdin.take();
    // Written while the answer is read: either side may fill its pipe first.
    let feed = async move {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input).await;
        }
    };
    let both = async { tokio::join!(feed, child.wait_with_output()).1 };
    let out = tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .map_err(|_| Error::unavailable("git check-ignore took over 10 s"))?
        .map_err(|e| Error::internal(format!("waiting for git: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

/// Who commits when the repository names nobody: agentmux, rather than a refusal.
pub async fn identity(dir: &Path) -> Vec<(&'static str, &'static str)> {
    let named = |key: &'static str| async move {
        run(dir, &["config", "--get", key])
            .await
            .is_ok_and(|v| !v.trim().is_empty())
    };
    let mut env = Vec::new();
    if !named("user.name").await {
        env.extend([
            ("GIT_AUTHOR_NAME", "agentmux"),
            ("GIT_COMMITTER_NAME", "agentmux"),
        ]);
    }
    if !named("user.email").await {
        env.extend([
            ("GIT_AUTHOR_EMAIL", "agentmux@localhost"),
            ("GIT_COMMITTER_EMAIL", "agentmux@localhost"),
        ]);
    }
    env
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
        let st = parse_status(out);
        let files = st.files;
        assert_eq!(st.branch, "agentmux/x");
        assert_eq!(
            (st.upstream.as_str(), st.upstream_ahead, st.upstream_behind),
            ("origin/main", 1, 0)
        );
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
