//! Git status of a session's work, shared type ↔ wire message.

use crate::v1 as pb;
use agentmux_shared::types::{GitFile, GitStatus};

impl From<GitStatus> for pb::GitStatus {
    fn from(s: GitStatus) -> Self {
        pb::GitStatus {
            branch: s.branch,
            base_commit: s.base_commit,
            ahead: s.ahead,
            behind: s.behind,
            files: s
                .files
                .into_iter()
                .map(|f| pb::GitFile {
                    path: f.path,
                    old_path: f.old_path,
                    staged: f.staged,
                    unstaged: f.unstaged,
                    untracked: f.untracked,
                    conflicted: f.conflicted,
                })
                .collect(),
        }
    }
}

impl From<pb::GitStatus> for GitStatus {
    fn from(s: pb::GitStatus) -> Self {
        GitStatus {
            branch: s.branch,
            base_commit: s.base_commit,
            ahead: s.ahead,
            behind: s.behind,
            files: s
                .files
                .into_iter()
                .map(|f| GitFile {
                    path: f.path,
                    old_path: f.old_path,
                    staged: f.staged,
                    unstaged: f.unstaged,
                    untracked: f.untracked,
                    conflicted: f.conflicted,
                })
                .collect(),
        }
    }
}
