//! Sessions' git work in the TUI: status fetched for worktree sessions (the list's ahead and
//! behind), the review view's status and diff kept fresh on `workspace.changed`, and its
//! changes' results. One call per kind in flight per session; what changes meanwhile is asked
//! again when it answers.

use super::{Action, App, Reply};
use crate::git_state::GitView;
use agentmux_shared::Error;

/// Sessions whose status is fetched on their own (more only when reviewed).
const TRACKED: usize = 64;

impl App {
    /// Status for the worktree sessions not known yet (after the list loads).
    pub(super) fn track_git(&mut self, out: &mut Vec<Action>) {
        let ids: Vec<String> = self
            .state
            .sessions
            .iter()
            .filter(|s| s.workspace.as_ref().is_some_and(|w| w.state == "ready"))
            .take(TRACKED)
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            if !self.state.git.contains_key(&id) {
                self.refresh_status(&id, out);
            }
        }
    }

    pub(super) fn workspace_changed(&mut self, session: &str, out: &mut Vec<Action>) {
        let reviewing = self.state.git.get(session).is_some_and(|g| g.reviewing);
        let tracked = self.state.git.contains_key(session);
        if tracked || reviewing {
            self.refresh_status(session, out);
        }
        if reviewing {
            self.refresh_diff(session, out);
        }
    }

    /// Opens (or keeps fresh) the review of a session: status and diff.
    pub(super) fn start_review(&mut self, session: &str, out: &mut Vec<Action>) {
        self.state
            .git
            .entry(session.to_string())
            .or_default()
            .reviewing = true;
        self.refresh_status(session, out);
        self.refresh_diff(session, out);
    }

    pub(super) fn end_review(&mut self, session: &str) {
        if let Some(g) = self.state.git.get_mut(session) {
            g.reviewing = false;
            g.diff = None;
            g.loading_files.clear();
        }
    }

    fn refresh_status(&mut self, session: &str, out: &mut Vec<Action>) {
        let g = self.state.git.entry(session.to_string()).or_default();
        if g.status_loading {
            g.status_stale = true;
            return;
        }
        g.status_loading = true;
        out.push(Action::GitStatus {
            session: session.to_string(),
        });
    }

    fn refresh_diff(&mut self, session: &str, out: &mut Vec<Action>) {
        let g = self.state.git.entry(session.to_string()).or_default();
        if g.diff_loading {
            g.diff_stale = true;
            return;
        }
        g.diff_loading = true;
        out.push(Action::GitDiff {
            session: session.to_string(),
            path: String::new(),
        });
    }

    /// A whole file's diff, unless it is being fetched already.
    pub(super) fn load_file(&mut self, session: &str, path: &str, out: &mut Vec<Action>) {
        let g = self.state.git.entry(session.to_string()).or_default();
        if g.loading_files.insert(path.to_string()) {
            out.push(Action::GitDiff {
                session: session.to_string(),
                path: path.to_string(),
            });
        }
    }

    pub(super) fn on_git_reply(&mut self, r: Reply, out: &mut Vec<Action>) {
        match r {
            Reply::GitStatus { session, status } => {
                let g = self.state.git.entry(session.clone()).or_default();
                g.status = Some(*status);
                g.status_loading = false;
                if std::mem::take(&mut g.status_stale) {
                    self.refresh_status(&session, out);
                }
            }
            Reply::GitDiff {
                session,
                path,
                diff,
            } => {
                let Some(g) = self.state.git.get_mut(&session) else {
                    return;
                };
                if path.is_empty() {
                    g.diff_loading = false;
                } else {
                    g.loading_files.remove(&path);
                }
                // Closed meanwhile: a review opened since asked again.
                if !g.reviewing {
                    g.diff_stale = false;
                    return;
                }
                if !path.is_empty() {
                    g.put_file(&path, *diff);
                    return;
                }
                g.diff = Some(*diff);
                g.loading_files.clear();
                if std::mem::take(&mut g.diff_stale) {
                    self.refresh_diff(&session, out);
                }
            }
            Reply::GitChanged { session, note } => {
                self.state.git.entry(session.clone()).or_default().note = Some(note);
                self.workspace_changed(&session, out);
            }
            _ => {}
        }
    }

    /// A git call failed: its loading state ends and the review says why.
    pub(super) fn on_git_failed(&mut self, call: &Action, error: &Error) -> bool {
        let (session, what) = match call {
            Action::GitStatus { session } => (session, "status"),
            Action::GitDiff { session, .. } => (session, "diff"),
            Action::Git { session, .. } => (session, "git"),
            _ => return false,
        };
        let g: &mut GitView = self.state.git.entry(session.clone()).or_default();
        match call {
            Action::GitStatus { .. } => g.status_loading = false,
            Action::GitDiff { path, .. } if path.is_empty() => g.diff_loading = false,
            Action::GitDiff { path, .. } => {
                g.loading_files.remove(path);
            }
            _ => {}
        }
        g.note = Some(format!("{what}: {}", error.message));
        true
    }
}
