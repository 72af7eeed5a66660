//! Sessions' own git worktrees: planned and recorded on the session before anything is made,
//! made with the git CLI outside the user's checkout, checked before a delete could lose work,
//! removed with their session (the branch stays unless asked), reconciled at start.

use super::Service;
use crate::git;
use agentmux_shared::types::{Session, Workspace, WorkspaceRequest};
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

pub(super) const CREATING: &str = "creating";
pub(super) const READY: &str = "ready";
pub(super) const MISSING: &str = "missing";

impl Service {
    fn worktree_root(&self) -> PathBuf {
        match self.config().sessions.worktree_root.trim() {
            "" => self.shared.paths.data_dir.join("worktrees"),
            root => PathBuf::from(root),
        }
    }

    /// What a new session `id` in `cwd` gets: `None` to work in `cwd` as given, else its
    /// worktree (state `creating`) and the directory in it that corresponds to `cwd`.
    pub(super) async fn plan_workspace(
        &self,
        id: &str,
        name: &str,
        cwd: &str,
        req: &WorkspaceRequest,
    ) -> Result<Option<(Workspace, String)>> {
        let mode = match req.mode.trim() {
            "" => self.config().sessions.workspace.clone(),
            m => m.to_string(),
        };
        match mode.as_str() {
            "" | "none" => return Ok(None),
            "worktree" => {}
            other => {
                return Err(Error::invalid(format!(
                    "workspace mode {other:?}: use worktree or none"
                )));
            }
        }
        let dir = Path::new(cwd);
        let Some(repo) = git::toplevel(dir).await? else {
            return Err(Error::invalid(format!(
                "{cwd} is not in a git repository: a worktree needs one (or use mode none)"
            )));
        };
        let base = match req.base.trim() {
            "" => "HEAD".to_string(),
            b => b.to_string(),
        };
        let base_commit = git::commit_of(&repo, &base).await?;
        let branch = match req.branch.trim() {
            "" => format!("agentmux/{name}"),
            b => b.to_string(),
        };
        if git::branch_exists(&repo, &branch).await {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("branch {branch} exists already in {}", repo.display()),
            ));
        }
        let path = self.worktree_root().join(id);
        // The session works where it was asked to, inside its own copy of the repository.
        let inner = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.strip_prefix(&repo).ok().map(Path::to_path_buf))
            .unwrap_or_default();
        let work_dir = path.join(inner).display().to_string();
        Ok(Some((
            Workspace {
                repo: repo.display().to_string(),
                path: path.display().to_string(),
                branch,
                base,
                base_commit,
                state: CREATING.into(),
            },
            work_dir,
        )))
    }

    /// Where a session's work stands: its branch, ahead/behind its base, and changed files
    /// (its worktree's, else its directory's repository).
    pub async fn git_status(&self, session: &str) -> Result<agentmux_shared::types::GitStatus> {
        let s = self.get_session(session)?;
        let (dir, base) = match &s.workspace {
            Some(w) if w.state == READY => (PathBuf::from(&w.path), w.base_commit.clone()),
            Some(w) => {
                return Err(Error::precondition(format!(
                    "session {}'s worktree is {}",
                    s.name, w.state
                )));
            }
            None => (PathBuf::from(&s.cwd), String::new()),
        };
        if git::toplevel(&dir).await?.is_none() {
            return Err(Error::precondition(format!(
                "session {} works in {}, which is not in a git repository",
                s.name, s.cwd
            )));
        }
        let (branch, files) = git::status(&dir).await?;
        let (ahead, behind) = if base.is_empty() {
            (0, 0)
        } else {
            git::ahead_behind(&dir, &base).await?
        };
        Ok(agentmux_shared::types::GitStatus {
            branch,
            base_commit: base,
            ahead,
            behind,
            files,
        })
    }

    /// Every worktree agentmux owns: sessions' (with their state) and directories under the
    /// worktree root that no session names (`orphan`), each with its size on disk.
    pub async fn list_workspaces(&self) -> Result<Vec<agentmux_shared::types::WorkspaceInfo>> {
        use agentmux_shared::types::WorkspaceInfo;
        let mut out: Vec<WorkspaceInfo> = self
            .store()
            .sessions("", "", usize::MAX)?
            .into_iter()
            .filter_map(|s| {
                let w = s.workspace?;
                Some(WorkspaceInfo {
                    path: w.path,
                    session_id: s.id,
                    session_name: s.name,
                    branch: w.branch,
                    state: w.state,
                    size_bytes: 0,
                })
            })
            .collect();
        let root = self.worktree_root();
        let known: Vec<PathBuf> = out.iter().map(|w| PathBuf::from(&w.path)).collect();
        let found = tokio::task::spawn_blocking(move || {
            let mut orphans = Vec::new();
            for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                if e.path().is_dir() && !known.contains(&e.path()) {
                    orphans.push(e.path());
                }
            }
            orphans
        })
        .await
        .map_err(|e| Error::internal(format!("listing worktrees: {e}")))?;
        out.extend(found.into_iter().map(|p| WorkspaceInfo {
            path: p.display().to_string(),
            state: "orphan".into(),
            ..WorkspaceInfo::default()
        }));
        let paths: Vec<PathBuf> = out.iter().map(|w| PathBuf::from(&w.path)).collect();
        let sizes = tokio::task::spawn_blocking(move || {
            paths.iter().map(|p| disk_use(p)).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Error::internal(format!("measuring worktrees: {e}")))?;
        for (w, size) in out.iter_mut().zip(sizes) {
            w.size_bytes = size;
        }
        Ok(out)
    }

    /// Makes a planned worktree; on failure nothing of it is left behind.
    pub(super) async fn make_workspace(&self, w: &Workspace) -> Result<()> {
        let (repo, path) = (Path::new(&w.repo), Path::new(&w.path));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::internal(format!("cannot create {}: {e}", parent.display())))?;
        }
        if let Err(e) = git::add_worktree(repo, path, &w.branch, &w.base_commit).await {
            let _ = git::remove_worktree(repo, path).await;
            if git::branch_exists(repo, &w.branch).await {
                let _ = git::delete_branch(repo, &w.branch).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Refuses to delete a session whose worktree holds work found nowhere else, saying what.
    pub(super) async fn check_workspace_loss(&self, s: &Session) -> Result<()> {
        let Some(w) = s.workspace.as_ref().filter(|w| w.state == READY) else {
            return Ok(());
        };
        let path = Path::new(&w.path);
        if !path.exists() {
            return Ok(());
        }
        let changes = git::uncommitted(path).await?;
        let commits = git::only_on(Path::new(&w.repo), &w.branch).await?;
        if changes.is_empty() && commits.is_empty() {
            return Ok(());
        }
        let mut lost = Vec::new();
        if !changes.is_empty() {
            let files: Vec<&str> = changes
                .iter()
                .take(5)
                .map(|l| l.get(3..).unwrap_or(l))
                .collect();
            lost.push(format!(
                "{} uncommitted change(s) ({}{})",
                changes.len(),
                files.join(", "),
                if changes.len() > 5 { ", …" } else { "" }
            ));
        }
        if !commits.is_empty() {
            lost.push(format!(
                "{} commit(s) on no other branch than {} ({})",
                commits.len(),
                w.branch,
                commits.first().map(String::as_str).unwrap_or("")
            ));
        }
        Err(Error::precondition(format!(
            "session {}'s worktree {} has {}: delete with force to remove it anyway (commits stay \
             on branch {} unless its deletion is asked for too)",
            s.name,
            w.path,
            lost.join(" and "),
            w.branch
        )))
    }

    /// After its session is gone: the worktree goes, and the branch when asked.
    pub(super) async fn remove_workspace(&self, w: &Workspace, delete_branch: bool) {
        let (repo, path) = (Path::new(&w.repo), Path::new(&w.path));
        if let Err(e) = git::remove_worktree(repo, path).await {
            tracing::warn!(path = %w.path, error = %e.message, "cannot remove a session's worktree");
        }
        if delete_branch
            && git::branch_exists(repo, &w.branch).await
            && let Err(e) = git::delete_branch(repo, &w.branch).await
        {
            tracing::warn!(branch = %w.branch, error = %e.message, "cannot delete a session's branch");
        }
    }

    /// At start, every session with a worktree: see `reconcile_workspace`.
    pub(super) async fn reconcile_workspaces(&self) -> Result<()> {
        let mut after = String::new();
        loop {
            let page = self.store().sessions("", &after, 512)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.id.clone();
            for s in page.iter().filter(|s| s.workspace.is_some()) {
                if let Some(fixed) = self.reconcile_workspace(s).await {
                    self.save_session(&fixed).await?;
                }
            }
        }
    }

    /// At start: a worktree being made when the daemon stopped is finished or marked missing;
    /// a ready one whose directory is gone is marked missing. Returns the session to rewrite.
    async fn reconcile_workspace(&self, s: &Session) -> Option<Session> {
        let w = s.workspace.as_ref()?;
        let present = git::is_worktree(Path::new(&w.path)).await;
        let state = match (w.state.as_str(), present) {
            (CREATING, true) | (MISSING, true) => READY,
            (CREATING, false) | (READY, false) => MISSING,
            _ => return None,
        };
        let mut s = s.clone();
        if let Some(w) = s.workspace.as_mut() {
            if state == MISSING {
                tracing::warn!(session = %s.id, path = %w.path, "a session's worktree is missing");
                s.last_error = format!(
                    "its worktree {} is missing (removed, or never finished); its branch {} \
                     holds what was committed",
                    w.path, w.branch
                );
            }
            w.state = state.into();
        }
        Some(s)
    }
}

/// Bytes the files under `dir` take (symlinks not followed; unreadable parts count as 0).
fn disk_use(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}
