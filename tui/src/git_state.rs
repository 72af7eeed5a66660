//! What the TUI knows of sessions' git work, mirrored from the daemon: the review view draws
//! it, the session list shows ahead/behind from it. Only `App::update` changes it.

use agentmux_shared::types::{GitDiff, GitStatus};
use std::collections::HashSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitView {
    pub status: Option<GitStatus>,
    pub diff: Option<GitDiff>,
    /// Calls in flight; a change that arrives meanwhile asks again once they answer.
    pub status_loading: bool,
    pub diff_loading: bool,
    pub status_stale: bool,
    pub diff_stale: bool,
    /// Files whose whole diff was asked for (the first load left them truncated).
    pub loading_files: HashSet<String>,
    /// What the last change did or why it failed (a commit, a merge's conflicts).
    pub note: Option<String>,
    /// The review view is open on this session: its diff is kept fresh too.
    pub reviewing: bool,
}

impl GitView {
    /// A diff of one file, whole, in place of the one the first load cut short.
    pub fn put_file(&mut self, path: &str, d: GitDiff) {
        self.loading_files.remove(path);
        let (Some(all), Some(file)) = (self.diff.as_mut(), d.files.into_iter().next()) else {
            return;
        };
        if let Some(f) = all.files.iter_mut().find(|f| f.path == path) {
            *f = file;
        }
        all.truncated = all.files.iter().any(|f| f.truncated);
    }

    /// Staged and unstaged letters of `path`, as `git status` shows them (`  ` when the file
    /// only differs from the base by commits).
    pub fn letters(&self, path: &str) -> (String, String) {
        self.status
            .as_ref()
            .and_then(|s| s.files.iter().find(|f| f.path == path))
            .map(|f| {
                if f.untracked {
                    (String::new(), "?".into())
                } else {
                    (f.staged.clone(), f.unstaged.clone())
                }
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmux_shared::types::DiffFile;

    #[test]
    fn a_whole_file_replaces_the_cut_one() {
        let cut = DiffFile {
            path: "big.txt".into(),
            truncated: true,
            added: 3,
            ..DiffFile::default()
        };
        let mut v = GitView {
            diff: Some(GitDiff {
                files: vec![cut.clone()],
                truncated: true,
                ..GitDiff::default()
            }),
            ..GitView::default()
        };
        v.loading_files.insert("big.txt".into());
        let whole = DiffFile {
            truncated: false,
            ..cut
        };
        v.put_file(
            "big.txt",
            GitDiff {
                files: vec![whole],
                ..GitDiff::default()
            },
        );
        let d = v.diff.unwrap();
        assert!(!d.truncated && !d.files[0].truncated);
        assert!(v.loading_files.is_empty());
    }
}
