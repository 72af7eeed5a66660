//! Sessions' git work and worktrees, shared type ↔ wire message.

use agentmux_shared::types::{
    DiffFile, DiffHunk, DiffLine, GitBranch, GitBranches, GitCommit, GitConflict, GitDiff, GitFile,
    GitLog, GitMergeResult, GitRemoteResult, GitStatus, WorkspaceGcResult, WorkspaceInfo,
};

mirror!(GitStatus <=> GitStatus {
    branch, base_commit, ahead, behind, base_branch, upstream, upstream_ahead, upstream_behind,
} lists { files });
mirror!(GitFile <=> GitFile { path, old_path, staged, unstaged, untracked, conflicted });
mirror!(WorkspaceInfo <=> WorkspaceInfo { path, session_id, session_name, branch, state, size_bytes });
mirror!(WorkspaceGcResult <=> WorkspaceGcResult { dry_run, freed_bytes } lists { removed, kept });
mirror!(GitDiff <=> GitDiff { against, from_commit, added, removed, truncated, raw } lists { files });
mirror!(DiffFile <=> DiffFile {
    path, old_path, status, binary, untracked, added, removed, truncated,
} lists { hunks });
mirror!(DiffHunk <=> DiffHunk { old_start, old_lines, new_start, new_lines, section } lists { lines });
mirror!(DiffLine <=> DiffLine { kind, text, old_line, new_line });
mirror!(GitCommit <=> GitCommit {
    sha, short, subject, body, author_name, author_email, time_ms, parents,
});
mirror!(GitLog <=> GitLog { since, truncated } lists { commits });
mirror!(GitBranch <=> GitBranch { name, commit, current, remote, upstream, ahead, behind, worktree });
mirror!(GitBranches <=> GitBranches {} lists { branches });
mirror!(GitConflict <=> GitConflict { path, kind, message });
mirror!(GitMergeResult <=> GitMergeResult {
    merged, strategy, target, commit, up_to_date, updated_worktree, message,
} lists { conflicts });
mirror!(GitRemoteResult <=> GitRemoteResult { ok, remote, branch, commit, output } lists { conflicts });
