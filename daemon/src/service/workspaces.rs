//! Sessions' own git worktrees: planned and recorded on the session before anything is made,
//! made with the git CLI outside the user's checkout, checked before a delete could lose work,
//! removed with their session (the branch stays unless asked), reconciled at start.

use super::Service;
use crate::git;
use agentmux_shared::types::{Session, Workspace, WorkspaceGcResult, WorkspaceRequest};
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
        // `HEAD` is recorded as the branch it was on, so the work can later land there.
        let base = match req.base.trim() {
            "" | "HEAD" => git::current_branch(&repo)
                .await
                .unwrap_or_else(|| "HEAD".to_string()),
            b => b.to_string(),
        };
        if base.starts_with('-') {
            return Err(Error::invalid(format!(
                "base {base:?} is not a branch or commit"
            )));
        }
        let base_commit = git::commit_of(&repo, &base).await?;
        let branch = match req.branch.trim() {
            "" => free_branch(&repo, name).await,
            b => {
                git::check_name(&repo, "branch", b).await?;
                b.to_string()
            }
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
                start_commit: base_commit.clone(),
                base_commit,
                state: CREATING.into(),
            },
            work_dir,
        )))
    }

    /// Every worktree agentmux owns: sessions' (with their state) and directories under the
    /// worktree root that no session names (`orphan`), each with its size on disk.
    pub async fn list_workspaces(&self) -> Result<Vec<agentmux_shared::types::WorkspaceInfo>> {
        use agentmux_shared::types::WorkspaceInfo;
        // The directories first, then the sessions: a session's record is written before its
        // worktree, so a directory seen here whose session is being made is known below.
        let root = self.worktree_root();
        let dirs = tokio::task::spawn_blocking(move || {
            let mut dirs = Vec::new();
            for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                // Only what agentmux would have made there: a configured root may hold more.
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("ses_") && e.path().is_dir() {
                    dirs.push((name, e.path()));
                }
            }
            dirs
        })
        .await
        .map_err(|e| Error::internal(format!("listing worktrees: {e}")))?;
        let sessions = self.store().sessions("", "", usize::MAX)?;
        // A directory named after any session is that session's, wherever its record points.
        let ids: std::collections::HashSet<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
        let found: Vec<PathBuf> = dirs
            .into_iter()
            .filter(|(name, _)| !ids.contains(name.as_str()))
            .map(|(_, p)| p)
            .collect();
        let mut out: Vec<WorkspaceInfo> = sessions
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
    pub(super) async fn make_workspace(&self, w: &Workspace, start: &str) -> Result<()> {
        let (repo, path) = (Path::new(&w.repo), Path::new(&w.path));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::internal(format!("cannot create {}: {e}", parent.display())))?;
        }
        // A branch that appeared since the plan is someone else's: never deleted below.
        let existed = git::branch_exists(repo, &w.branch).await;
        if let Err(e) = git::add_worktree(repo, path, &w.branch, start).await {
            let _ = git::remove_worktree(repo, path).await;
            if !existed && git::branch_exists(repo, &w.branch).await {
                let _ = git::delete_branch(repo, &w.branch).await;
            }
            return Err(e);
        }
        self.remeasure_worktrees();
        Ok(())
    }

    /// A fork's own worktree, planned (state `creating`): a new branch from where the parent's
    /// work stands (its worktree's HEAD, else its branch), the same base, the same place inside.
    /// Returns it, the fork's directory, the commit to start from, and the parent worktree whose
    /// uncommitted changes come along.
    pub(super) async fn plan_fork(
        &self,
        parent: &Session,
        id: &str,
        name: &str,
    ) -> Result<Option<(Workspace, String, String, Option<PathBuf>)>> {
        let Some(w) = &parent.workspace else {
            return Ok(None);
        };
        let repo = PathBuf::from(&w.repo);
        let from = PathBuf::from(&w.path);
        let live = w.state == READY && git::is_worktree(&from).await;
        let start = if live {
            git::commit_of(&from, "HEAD").await?
        } else {
            match git::commit_of(&repo, &format!("refs/heads/{}", w.branch)).await {
                Ok(c) => c,
                Err(_) => w.base_commit.clone(),
            }
        };
        let path = self.worktree_root().join(id);
        let inner = Path::new(&parent.cwd)
            .strip_prefix(&from)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let fork = Workspace {
            repo: w.repo.clone(),
            path: path.display().to_string(),
            branch: free_branch(&repo, name).await,
            base: w.base.clone(),
            base_commit: w.base_commit.clone(),
            start_commit: start.clone(),
            state: CREATING.into(),
        };
        let cwd = path.join(inner).display().to_string();
        Ok(Some((fork, cwd, start, live.then_some(from))))
    }

    /// Brings the uncommitted changes of worktree `from` (staged, unstaged and untracked) into
    /// the fresh worktree `to`; `from` is only read.
    pub(super) async fn copy_uncommitted(&self, from: &Path, to: &Path) -> Result<()> {
        // A stash commit made without touching `from`'s files, index or stash list.
        let stash = git::run(from, &["stash", "create"]).await?;
        let stash = stash.trim();
        if !stash.is_empty() {
            git::run(to, &["stash", "apply", "--index", stash]).await?;
        }
        let new_files = git::untracked(from, "").await?;
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        tokio::task::spawn_blocking(move || copy_files(&from, &to, &new_files))
            .await
            .map_err(|e| Error::internal(format!("copying new files: {e}")))?
    }

    /// Where a session works, for a terminal to start there: refused while its worktree is
    /// not ready (missing, or still being made).
    pub(super) fn session_dir(&self, session: &str) -> Result<String> {
        let s = self.get_session(session)?;
        usable(&s)?;
        Ok(s.cwd)
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
        let repo = Path::new(&w.repo);
        let mut commits = if git::branch_exists(repo, &w.branch).await {
            git::only_on(repo, &w.branch).await?
        } else {
            Vec::new()
        };
        // A HEAD moved off the branch (a checkout of a commit) can hold commits of its own.
        for c in git::only_at_head(path).await? {
            if !commits.contains(&c) {
                commits.push(c);
            }
        }
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
        self.remeasure_worktrees();
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
                match self.reconcile_workspace(s).await {
                    Some(fixed) => {
                        self.save_session(&fixed).await?;
                        self.watch_workspace(&fixed);
                    }
                    None => self.watch_workspace(s),
                }
            }
        }
    }

    /// At start: a worktree being made when the daemon stopped is finished or marked missing;
    /// a ready one whose directory is gone is marked missing. Returns the session to rewrite.
    async fn reconcile_workspace(&self, s: &Session) -> Option<Session> {
        let w = s.workspace.as_ref()?;
        let mut why = String::new();
        let state = if w.state == CREATING {
            // Stopped while git was making it: what is there may be half a checkout (which
            // would show as a diff deleting everything), so it is made again from the start.
            match self.remake_workspace(w).await {
                Ok(()) => READY,
                Err(e) => {
                    why = e.message;
                    MISSING
                }
            }
        } else {
            match (w.state.as_str(), git::is_worktree(Path::new(&w.path)).await) {
                (MISSING, true) => READY,
                (READY, false) => MISSING,
                _ => return None,
            }
        };
        let mut s = s.clone();
        if let Some(w) = s.workspace.as_mut() {
            if state == MISSING {
                tracing::warn!(session = %s.id, path = %w.path, why, "a session's worktree is missing");
                s.last_error = format!(
                    "its worktree {} is missing (removed, or never finished{}); its branch {} \
                     holds what was committed",
                    w.path,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    },
                    w.branch
                );
            } else {
                s.last_error.clear();
            }
            w.state = state.into();
        }
        Some(s)
    }

    /// Makes a worktree whose making was cut off again: whatever git left goes (the branch too,
    /// when nothing is on it that is not elsewhere), then it is made from its start commit.
    async fn remake_workspace(&self, w: &Workspace) -> Result<()> {
        let (repo, path) = (Path::new(&w.repo), Path::new(&w.path));
        let _ = git::remove_worktree(repo, path).await;
        if path.exists() {
            // Ours (under the worktree root, named by the session) and not a worktree any more.
            tokio::fs::remove_dir_all(path)
                .await
                .map_err(|e| Error::internal(format!("cannot clear {}: {e}", path.display())))?;
            // git's record of it goes with it.
            git::run(repo, &["worktree", "prune"]).await?;
        }
        if git::branch_exists(repo, &w.branch).await {
            if !git::only_on(repo, &w.branch).await?.is_empty() {
                return Err(Error::precondition(format!(
                    "branch {} has commits of its own: left as it is",
                    w.branch
                )));
            }
            git::delete_branch(repo, &w.branch).await?;
        }
        let start = if w.start_commit.is_empty() {
            &w.base_commit
        } else {
            &w.start_commit
        };
        self.make_workspace(w, start).await
    }
}

/// `agentmux/<name>`, or `agentmux/<name>-2`, … when a deleted session of that name left its
/// branch behind.
async fn free_branch(repo: &Path, name: &str) -> String {
    let first = format!("agentmux/{name}");
    let mut branch = first.clone();
    let mut n = 2;
    while n < 1000 && git::branch_exists(repo, &branch).await {
        branch = format!("{first}-{n}");
        n += 1;
    }
    branch
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none())
}

/// Copies files (symlinks as symlinks) from one tree to the same places in another.
fn copy_files(from: &Path, to: &Path, files: &[String]) -> Result<()> {
    for f in files {
        let (src, dst) = (from.join(f), to.join(f));
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::internal(format!("cannot create {}: {e}", parent.display())))?;
        }
        let meta = match src.symlink_metadata() {
            Ok(m) => m,
            // Gone since it was listed: nothing to bring.
            Err(_) => continue,
        };
        let done = if meta.file_type().is_symlink() {
            std::fs::read_link(&src).and_then(|target| std::os::unix::fs::symlink(target, &dst))
        } else {
            std::fs::copy(&src, &dst).map(|_| ())
        };
        done.map_err(|e| Error::internal(format!("cannot copy {f}: {e}")))?;
    }
    Ok(())
}

/// A session whose worktree is not there cannot run anything: says why instead.
pub(super) fn usable(s: &Session) -> Result<()> {
    match &s.workspace {
        Some(w) if w.state == CREATING => Err(Error::precondition(format!(
            "session {}'s worktree {} is being made: try again in a moment",
            s.name, w.path
        ))),
        Some(w) if w.state != READY => Err(Error::precondition(format!(
            "session {}'s worktree {} is {}: its branch {} holds what was committed; fork or \
             delete the session",
            s.name, w.path, w.state, w.branch
        ))),
        _ => Ok(()),
    }
}

/// The disk agentmux's worktrees take, measured in the background (walking them is slow).
#[derive(Default)]
pub(super) struct DiskUse {
    now: std::sync::Mutex<(u32, u64, i64)>,
    again: tokio::sync::Notify,
}

impl DiskUse {
    /// `(worktrees, bytes, measured at ms)`.
    pub(super) fn get(&self) -> (u32, u64, i64) {
        match self.now.lock() {
            Ok(n) => *n,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

impl Service {
    /// Measures now, then every ten minutes and soon after worktrees come or go.
    pub(super) fn watch_worktree_use(&self) {
        let svc = self.clone();
        self.shared.tasks.spawn(async move {
            let stop = svc.shared.shutdown.clone();
            loop {
                if let Ok(all) = svc.list_workspaces().await {
                    let n = u32::try_from(all.len()).unwrap_or(u32::MAX);
                    let bytes = all.iter().map(|w| w.size_bytes).sum();
                    if let Ok(mut now) = svc.shared.worktree_use.now.lock() {
                        *now = (n, bytes, agentmux_shared::ids::now_ms());
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
                    _ = svc.shared.worktree_use.again.notified() => {
                        // Several changes in a row are measured once.
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    pub(super) fn remeasure_worktrees(&self) {
        self.shared.worktree_use.again.notify_one();
    }

    /// Removes what no session needs: directories under the worktree root that no session
    /// names (a left-over worktree holding uncommitted changes only when forced; its branch
    /// always stays) and git's records of worktrees that are gone.
    pub async fn collect_workspaces(
        &self,
        dry_run: bool,
        force: bool,
    ) -> Result<WorkspaceGcResult> {
        let all = self.list_workspaces().await?;
        let mut out = WorkspaceGcResult {
            dry_run,
            ..WorkspaceGcResult::default()
        };
        for mut w in all.iter().filter(|w| w.state == "orphan").cloned() {
            let path = PathBuf::from(&w.path);
            let repo = git::common_repo(&path).await;
            // What would be lost; a directory git cannot read counts as holding work.
            let held = match &repo {
                Some(_) => match (
                    git::uncommitted(&path).await,
                    git::only_at_head(&path).await,
                ) {
                    (Ok(c), Ok(k)) if c.is_empty() && k.is_empty() => None,
                    (Ok(c), Ok(k)) => Some(format!(
                        "{} uncommitted change(s), {} commit(s) on no branch",
                        c.len(),
                        k.len()
                    )),
                    (Err(e), _) | (_, Err(e)) => Some(e.message),
                },
                None if is_empty_dir(&path) => None,
                None => Some("not a worktree git knows".into()),
            };
            if let Some(why) = held.filter(|_| !force) {
                w.state = format!("orphan: {why}; kept (force removes it)");
                out.kept.push(w);
                continue;
            }
            if !dry_run {
                let gone = match &repo {
                    Some(r) => git::remove_worktree(r, &path).await,
                    None => tokio::fs::remove_dir_all(&path)
                        .await
                        .map_err(|e| Error::internal(format!("cannot remove {}: {e}", w.path))),
                };
                if let Err(e) = gone {
                    w.state = format!("orphan: {}", e.message);
                    out.kept.push(w);
                    continue;
                }
            }
            out.freed_bytes += w.size_bytes;
            out.removed.push(w);
        }
        if !dry_run {
            let mut repos: Vec<&str> = Vec::new();
            let sessions = self.store().sessions("", "", usize::MAX)?;
            for w in sessions.iter().filter_map(|s| s.workspace.as_ref()) {
                if !repos.contains(&w.repo.as_str()) {
                    repos.push(&w.repo);
                    let _ = git::run(Path::new(&w.repo), &["worktree", "prune"]).await;
                }
            }
            self.remeasure_worktrees();
        }
        Ok(out)
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
