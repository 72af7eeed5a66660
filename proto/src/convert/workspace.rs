//! Git status of a session's work, shared type ↔ wire message.

use crate::v1 as pb;
use agentmux_shared::types::{GitFile, GitStatus, WorkspaceInfo};

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

impl From<WorkspaceInfo> for pb::WorkspaceInfo {
    fn from(w: WorkspaceInfo) -> Self {
        pb::WorkspaceInfo {
            path: w.path,
            session_id: w.session_id,
            session_name: w.session_name,
            branch: w.branch,
            state: w.state,
            size_bytes: w.size_bytes,
        }
    }
}

impl From<pb::WorkspaceInfo> for WorkspaceInfo {
    fn from(w: pb::WorkspaceInfo) -> Self {
        WorkspaceInfo {
            path: w.path,
            session_id: w.session_id,
            session_name: w.session_name,
            branch: w.branch,
            state: w.state,
            size_bytes: w.size_bytes,
        }
    }
}
