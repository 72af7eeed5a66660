//! `workspace.changed`: what changes in sessions' worktrees, so clients refresh without
//! polling. Each directory git does not ignore gets its own non-recursive watch (inotify, via
//! `notify`), up to a budget per tree and in all: a tree past it is not watched at all and its
//! clients hear of git operations and the agent's own file events only. Changes are debounced
//! into one event per burst, filtered by git's ignore rules.

use super::Service;
use super::workspaces::READY;
use crate::git;
use crate::log::NewEvent;
use agentmux_shared::types::{EventPayload, Session};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Directories one tree may have watched, and all trees together (inotify watches are a
/// per-user resource the user's own tools need too).
const PER_TREE: usize = 4096;
const IN_ALL: usize = 32_768;
/// A burst ends after this long without a change, or at the latest after `LONGEST`.
const QUIET: Duration = Duration::from_millis(300);
const LONGEST: Duration = Duration::from_secs(2);
/// Paths named in one event.
const MOST_PATHS: usize = 200;

#[derive(Default)]
pub(super) struct Watches {
    live: Mutex<HashMap<String, CancellationToken>>,
    dirs: Arc<AtomicUsize>,
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        match self.live.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Service {
    /// Starts watching a session's worktree (once; only a ready one).
    pub(super) fn watch_workspace(&self, s: &Session) {
        let Some(w) = s.workspace.as_ref().filter(|w| w.state == READY) else {
            return;
        };
        let stop = {
            let mut live = self.shared.watches.lock();
            if live.contains_key(&s.id) {
                return;
            }
            let stop = self.shared.shutdown.child_token();
            live.insert(s.id.clone(), stop.clone());
            stop
        };
        let svc = self.clone();
        let (id, root) = (s.id.clone(), PathBuf::from(&w.path));
        self.shared.tasks.spawn(async move {
            watch(&svc, &id, &root, stop).await;
            svc.shared.watches.lock().remove(&id);
        });
    }

    pub(super) fn unwatch_workspace(&self, id: &str) {
        if let Some(stop) = self.shared.watches.lock().remove(id) {
            stop.cancel();
        }
    }

    /// Publishes `workspace.changed` for a session; `more`: changes not in `paths` were lost.
    pub(super) async fn workspace_changed(
        &self,
        session: &str,
        reason: &str,
        mut paths: Vec<String>,
        more: bool,
    ) {
        let truncated = more || paths.len() > MOST_PATHS;
        paths.truncate(MOST_PATHS);
        let event = NewEvent::new(
            session,
            EventPayload::WorkspaceChanged {
                reason: reason.into(),
                paths,
                truncated,
            },
        );
        if let Err(e) = self.commit(Vec::new(), vec![event]).await {
            tracing::warn!(session, error = %e.message, "cannot publish workspace.changed");
        }
    }
}

async fn watch(svc: &Service, id: &str, root: &Path, stop: CancellationToken) {
    let dirs = dirs_of(root, PER_TREE + 1).await;
    let budget = svc.shared.watches.dirs.clone();
    // Reserved before watching, so trees starting together cannot all pass the check.
    let reserved = dirs.len();
    let before = budget.fetch_add(reserved, Ordering::Relaxed);
    if dirs.len() > PER_TREE || before + reserved > IN_ALL {
        budget.fetch_sub(reserved, Ordering::Relaxed);
        tracing::info!(
            session = id,
            dirs = dirs.len(),
            "worktree too large to watch: clients hear of git operations only"
        );
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<PathBuf>(4096);
    let overflow = Arc::new(AtomicBool::new(false));
    let over = overflow.clone();
    let made = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else {
            over.store(true, Ordering::Relaxed);
            return;
        };
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        for p in ev.paths {
            if tx.try_send(p).is_err() {
                over.store(true, Ordering::Relaxed);
            }
        }
    });
    let mut watcher = match made {
        Ok(w) => w,
        Err(e) => {
            budget.fetch_sub(reserved, Ordering::Relaxed);
            tracing::warn!(session = id, error = %e, "cannot watch a worktree");
            return;
        }
    };
    let mut watched: HashSet<PathBuf> = HashSet::new();
    for d in dirs {
        if watcher.watch(&d, RecursiveMode::NonRecursive).is_ok() {
            watched.insert(d);
        }
    }
    budget.fetch_sub(reserved - watched.len(), Ordering::Relaxed);
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            p = rx.recv() => match p { Some(p) => p, None => break },
        };
        let mut burst = BTreeSet::from([first]);
        let until = tokio::time::Instant::now() + LONGEST;
        loop {
            let wait = QUIET.min(until.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(p)) if burst.len() < 10 * MOST_PATHS => {
                    burst.insert(p);
                }
                Ok(Some(_)) => overflow.store(true, Ordering::Relaxed),
                Ok(None) | Err(_) => break,
            }
        }
        let rel: Vec<String> = burst
            .iter()
            .filter_map(|p| p.strip_prefix(root).ok())
            .filter(|p| !p.starts_with(".git") && !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .collect();
        let ignored = git::ignored(root, &rel).await.unwrap_or_default();
        let changed: Vec<String> = rel.into_iter().filter(|p| !ignored.contains(p)).collect();
        // A directory that appeared is watched too (within the budget).
        for p in &changed {
            let full = root.join(p);
            if full.is_dir()
                && !watched.contains(&full)
                && watched.len() < PER_TREE
                && budget.load(Ordering::Relaxed) < IN_ALL
                && watcher.watch(&full, RecursiveMode::NonRecursive).is_ok()
            {
                watched.insert(full);
                budget.fetch_add(1, Ordering::Relaxed);
            }
        }
        let gone: Vec<PathBuf> = watched.iter().filter(|d| !d.exists()).cloned().collect();
        for d in gone {
            watched.remove(&d);
            budget.fetch_sub(1, Ordering::Relaxed);
        }
        let lost = overflow.swap(false, Ordering::Relaxed);
        if changed.is_empty() && !lost {
            continue;
        }
        svc.workspace_changed(id, "files", changed, lost).await;
    }
    budget.fetch_sub(watched.len(), Ordering::Relaxed);
}

/// The directories of a tree git does not ignore (`.git` and symlinks left out), at most
/// `most`, level by level: each level's names go to `git check-ignore` (git reads the ignore
/// files itself, not following links, within a deadline).
async fn dirs_of(root: &Path, most: usize) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut level = vec![root.to_path_buf()];
    while !level.is_empty() && out.len() <= most {
        let listed = level.clone();
        let children = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for d in listed {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    if is_dir && e.file_name() != ".git" {
                        found.push(e.path());
                    }
                }
            }
            found
        })
        .await
        .unwrap_or_default();
        let rel: Vec<String> = children
            .iter()
            .filter_map(|p| p.strip_prefix(root).ok())
            .map(|p| format!("{}/", p.display()))
            .collect();
        let ignored = git::ignored(root, &rel).await.unwrap_or_default();
        level = children
            .into_iter()
            .filter(|p| {
                p.strip_prefix(root)
                    .map(|r| !ignored.contains(&format!("{}/", r.display())))
                    .unwrap_or(false)
            })
            .collect();
        out.extend(level.iter().cloned());
    }
    out.truncate(most);
    out
}
