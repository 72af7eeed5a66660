//! Reviewing and landing a session's git work: status, diffs, history and branches read the
//! session's worktree (or, for a session without one, its directory's repository); commits,
//! merges and remotes change it. What deletes or rewrites files (discard, checkout, pull) runs
//! only in a worktree agentmux owns, never in the user's checkout.

use super::Service;
use crate::git;
use agentmux_shared::types::{
    GitBranches, GitCheckoutRequest, GitCommit, GitCommitRequest, GitDiff, GitDiffQuery, GitLog,
    GitMergeRequest, GitMergeResult, GitRemoteRequest, GitRemoteResult, GitStatus, Session,
    Workspace,
};
use agentmux_shared::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Hunk lines a diff returns unless asked otherwise, and at most.
const DIFF_LINES: usize = 10_000;
const DIFF_LINES_MAX: usize = 200_000;

/// Where a session's git work is.
struct Tree {
    dir: PathBuf,
    session: Session,
    /// Its own worktree (`None`: its directory, in the user's checkout).
    own: Option<Workspace>,
}

/// One lock per repository for what changes it, so two requests never race on its index or
/// refs; reading takes none.
#[derive(Default)]
pub(super) struct RepoLocks(Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>);

impl RepoLocks {
    fn of(&self, repo: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(repo.to_path_buf()).or_default().clone()
    }
}

impl Service {
    async fn tree(&self, session: &str) -> Result<Tree> {
        let s = self.get_session(session)?;
        super::workspaces::usable(&s)?;
        match s.workspace.clone() {
            Some(w) => Ok(Tree {
                dir: PathBuf::from(&w.path),
                session: s,
                own: Some(w),
            }),
            None => {
                // The repository's top: paths in status and diffs are relative to it, and so
                // must be the ones clients send back.
                let Some(dir) = git::toplevel(Path::new(&s.cwd)).await? else {
                    return Err(Error::precondition(format!(
                        "session {} works in {}, which is not in a git repository",
                        s.name, s.cwd
                    )));
                };
                Ok(Tree {
                    dir,
                    session: s,
                    own: None,
                })
            }
        }
    }

    /// The tree, if it is one agentmux owns and may change files in.
    async fn own_tree(&self, session: &str, what: &str) -> Result<(Tree, Workspace)> {
        let t = self.tree(session).await?;
        match t.own.clone() {
            Some(w) => Ok((t, w)),
            None => Err(Error::precondition(format!(
                "{what} changes files, so agentmux does it only in a session's own worktree; \
                 session {} works in your checkout at {} (use git there)",
                t.session.name, t.session.cwd
            ))),
        }
    }

    /// After a git operation: clients refresh what they show of the session's work.
    async fn changed(&self, t: &Tree, reason: &str, paths: &[String]) {
        self.workspace_changed(&t.session.id, reason, paths.to_vec(), false)
            .await;
    }

    fn repo_lock(&self, t: &Tree) -> Arc<tokio::sync::Mutex<()>> {
        let repo = t
            .own
            .as_ref()
            .map_or(t.dir.clone(), |w| PathBuf::from(&w.repo));
        self.shared.repo_locks.of(&repo)
    }

    /// Runs a change to its end even when the client goes away: a change cut off half-way
    /// (a merge that moved the branch but not its checkout) is worse than an unread answer.
    async fn to_the_end<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.shared
            .tasks
            .spawn(f)
            .await
            .map_err(|e| Error::internal(format!("a git change did not finish: {e}")))?
    }

    pub async fn git_commit(&self, session: &str, req: &GitCommitRequest) -> Result<GitCommit> {
        let (svc, session, req) = (self.clone(), session.to_string(), req.clone());
        self.to_the_end(async move { svc.commit_now(&session, &req).await })
            .await
    }

    pub async fn git_stage(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let (svc, session, paths) = (self.clone(), session.to_string(), paths.to_vec());
        self.to_the_end(async move { svc.stage_now(&session, &paths).await })
            .await
    }

    pub async fn git_unstage(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let (svc, session, paths) = (self.clone(), session.to_string(), paths.to_vec());
        self.to_the_end(async move { svc.unstage_now(&session, &paths).await })
            .await
    }

    pub async fn git_discard(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let (svc, session, paths) = (self.clone(), session.to_string(), paths.to_vec());
        self.to_the_end(async move { svc.discard_now(&session, &paths).await })
            .await
    }

    pub async fn git_checkout(&self, session: &str, req: &GitCheckoutRequest) -> Result<GitStatus> {
        let (svc, session, req) = (self.clone(), session.to_string(), req.clone());
        self.to_the_end(async move { svc.checkout_now(&session, &req).await })
            .await
    }

    pub async fn git_merge(&self, session: &str, req: &GitMergeRequest) -> Result<GitMergeResult> {
        let (svc, session, req) = (self.clone(), session.to_string(), req.clone());
        self.to_the_end(async move { svc.merge_now(&session, &req).await })
            .await
    }

    pub async fn git_push(&self, session: &str, req: &GitRemoteRequest) -> Result<GitRemoteResult> {
        let (svc, session, req) = (self.clone(), session.to_string(), req.clone());
        self.to_the_end(async move { svc.push_now(&session, &req).await })
            .await
    }

    pub async fn git_pull(&self, session: &str, req: &GitRemoteRequest) -> Result<GitRemoteResult> {
        let (svc, session, req) = (self.clone(), session.to_string(), req.clone());
        self.to_the_end(async move { svc.pull_now(&session, &req).await })
            .await
    }

    /// Where a session's work stands: its branch, ahead/behind its base (the base branch as it
    /// is now, when the base was one) and its upstream, and changed files.
    pub async fn git_status(&self, session: &str) -> Result<GitStatus> {
        let t = self.tree(session).await?;
        let mut st = git::status(&t.dir).await?;
        if let Some(w) = &t.own {
            st.base_commit = w.base_commit.clone();
            let against = if w.base != "HEAD" && git::branch_exists(&t.dir, &w.base).await {
                st.base_branch = w.base.clone();
                format!("refs/heads/{}", w.base)
            } else {
                w.base_commit.clone()
            };
            (st.ahead, st.behind) = git::ahead_behind(&t.dir, &against).await?;
        }
        Ok(st)
    }

    /// The session's changes, parsed into files and hunks (see `GitDiffQuery`).
    pub async fn git_diff(&self, session: &str, q: &GitDiffQuery) -> Result<GitDiff> {
        let t = self.tree(session).await?;
        if !q.path.is_empty() {
            git::check_paths(std::slice::from_ref(&q.path))?;
        }
        let head = || async { git::commit_of(&t.dir, "HEAD").await };
        let (against, revs, from, untracked) = match q.against.as_str() {
            "" | "base" => {
                let from = match &t.own {
                    Some(w) => w.base_commit.clone(),
                    None => head().await?,
                };
                ("base", vec![from.clone()], from, true)
            }
            "head" => {
                let from = head().await?;
                ("head", vec![from.clone()], from, true)
            }
            "staged" => ("staged", vec!["--cached".into()], head().await?, false),
            "unstaged" => ("unstaged", Vec::new(), String::new(), true),
            other => {
                return Err(Error::invalid(format!(
                    "diff against {other:?}: use base, head, staged or unstaged"
                )));
            }
        };
        let max_lines = match q.max_lines as usize {
            0 => DIFF_LINES,
            n => n.min(DIFF_LINES_MAX),
        };
        let spec = git::DiffSpec {
            revs,
            path: q.path.clone(),
            max_lines,
            raw: q.raw,
            untracked: untracked && !q.no_untracked,
        };
        let mut d = git::diff(&t.dir, &spec).await?;
        d.against = against.into();
        d.from_commit = from;
        Ok(d)
    }

    /// The session's commits since its base (or the latest ones, without a worktree).
    pub async fn git_log(&self, session: &str, limit: u32) -> Result<GitLog> {
        let t = self.tree(session).await?;
        let since = t
            .own
            .as_ref()
            .map(|w| w.base_commit.clone())
            .unwrap_or_default();
        let limit = match limit {
            0 => 100,
            n => (n as usize).min(10_000),
        };
        let (commits, truncated) = git::log(&t.dir, &since, limit).await?;
        Ok(GitLog {
            since,
            commits,
            truncated,
        })
    }

    pub async fn git_branches(&self, session: &str) -> Result<GitBranches> {
        let t = self.tree(session).await?;
        Ok(GitBranches {
            branches: git::branches(&t.dir).await?,
        })
    }

    async fn commit_now(&self, session: &str, req: &GitCommitRequest) -> Result<GitCommit> {
        if req.message.trim().is_empty() {
            return Err(Error::invalid("a commit needs a message"));
        }
        let t = self.tree(session).await?;
        let lock = self.repo_lock(&t);
        let commit = {
            let _held = lock.lock().await;
            git::commit(&t.dir, &req.message, &req.paths, req.staged).await?
        };
        self.changed(&t, "commit", &req.paths).await;
        Ok(commit)
    }

    async fn stage_now(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let t = self.tree(session).await?;
        {
            let lock = self.repo_lock(&t);
            let _held = lock.lock().await;
            git::stage(&t.dir, paths).await?;
        }
        self.changed(&t, "stage", paths).await;
        self.git_status(session).await
    }

    async fn unstage_now(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let t = self.tree(session).await?;
        {
            let lock = self.repo_lock(&t);
            let _held = lock.lock().await;
            git::unstage(&t.dir, paths).await?;
        }
        self.changed(&t, "unstage", paths).await;
        self.git_status(session).await
    }

    async fn discard_now(&self, session: &str, paths: &[String]) -> Result<GitStatus> {
        let (t, _) = self.own_tree(session, "discarding changes").await?;
        {
            let lock = self.repo_lock(&t);
            let _held = lock.lock().await;
            git::discard(&t.dir, paths).await?;
        }
        self.changed(&t, "discard", paths).await;
        self.git_status(session).await
    }

    async fn checkout_now(&self, session: &str, req: &GitCheckoutRequest) -> Result<GitStatus> {
        let (t, _) = self.own_tree(session, "checking out").await?;
        {
            let lock = self.repo_lock(&t);
            let _held = lock.lock().await;
            git::checkout(&t.dir, req.r#ref.trim(), req.create).await?;
        }
        self.changed(&t, "checkout", &[]).await;
        self.git_status(session).await
    }

    /// Lands the session's branch on a target (its base branch unless named); see `git::merge`.
    async fn merge_now(&self, session: &str, req: &GitMergeRequest) -> Result<GitMergeResult> {
        let (t, w) = self.own_tree(session, "merging").await.map_err(|_| {
            Error::precondition(format!(
                "session {session} has no worktree of its own: merge lands a session's branch"
            ))
        })?;
        let target = match req.target.trim() {
            "" if w.base != "HEAD" && git::branch_exists(&t.dir, &w.base).await => w.base.clone(),
            "" => {
                return Err(Error::invalid(format!(
                    "session {}'s base was {} ({}), not a branch: name the target",
                    t.session.name, w.base, w.base_commit
                )));
            }
            name => name.to_string(),
        };
        git::check_name(&t.dir, "target branch", &target).await?;
        if target == w.branch {
            return Err(Error::invalid(format!(
                "{target} is the session's own branch"
            )));
        }
        let lock = self.repo_lock(&t);
        let _held = lock.lock().await;
        let mut result = git::merge(&git::MergePlan {
            dir: &t.dir,
            branch: &w.branch,
            target: &target,
            strategy: req.strategy.trim(),
            message: &req.message,
        })
        .await?;
        drop(_held);
        if result.merged {
            self.changed(&t, "merge", &[]).await;
        }
        let left = git::uncommitted(&t.dir).await.unwrap_or_default();
        if !left.is_empty() {
            result.message.push_str(&format!(
                "; {} uncommitted change(s) in the worktree were not part of it",
                left.len()
            ));
        }
        Ok(result)
    }

    async fn push_now(&self, session: &str, req: &GitRemoteRequest) -> Result<GitRemoteResult> {
        let t = self.tree(session).await?;
        let branch = match (req.branch.trim(), &t.own) {
            ("", Some(w)) => w.branch.clone(),
            ("", None) => git::status(&t.dir).await?.branch,
            (b, _) => b.to_string(),
        };
        if branch.is_empty() {
            return Err(Error::invalid("HEAD is detached: name the branch to push"));
        }
        let lock = self.repo_lock(&t);
        let pushed = {
            let _held = lock.lock().await;
            git::push(
                &t.dir,
                req.remote.trim(),
                &branch,
                req.set_upstream,
                req.force,
            )
            .await?
        };
        self.changed(&t, "push", &[]).await;
        Ok(pushed)
    }

    async fn pull_now(&self, session: &str, req: &GitRemoteRequest) -> Result<GitRemoteResult> {
        let (t, _) = self.own_tree(session, "pulling").await?;
        let current = git::status(&t.dir).await?.branch;
        let lock = self.repo_lock(&t);
        let pulled = {
            let _held = lock.lock().await;
            git::pull(
                &t.dir,
                req.remote.trim(),
                req.branch.trim(),
                &current,
                req.strategy.trim(),
            )
            .await?
        };
        if pulled.ok {
            self.changed(&t, "pull", &[]).await;
        }
        Ok(pulled)
    }
}
