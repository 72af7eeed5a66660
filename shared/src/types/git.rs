//! A session's git work as the API shows it: status, diffs parsed into files and hunks, history,
//! branches, and the results of commits, merges and remote operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /v1/sessions/{id}/git/status`: where the session's work stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitStatus {
    /// The checked-out branch (empty when detached).
    pub branch: String,
    /// The commit the session started from (its worktree's base), when it has one.
    pub base_commit: String,
    /// Commits on the branch since the base, and on the base's side since the branch left it
    /// (against the base branch as it is now when the base was a branch; 0 without a base).
    pub ahead: u32,
    pub behind: u32,
    pub files: Vec<GitFile>,
    /// The base branch ahead/behind count against (empty: the base commit, or none).
    #[serde(default)]
    pub base_branch: String,
    /// The branch's upstream (`origin/x`) and the counts against it; empty without one.
    #[serde(default)]
    pub upstream: String,
    #[serde(default)]
    pub upstream_ahead: u32,
    #[serde(default)]
    pub upstream_behind: u32,
}

/// One changed file: its status letters as `git status` gives them (`M`, `A`, `D`, `R`, …),
/// for the index (staged) and the work tree (unstaged).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitFile {
    pub path: String,
    /// The path it was renamed from, when it was.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub old_path: String,
    pub staged: String,
    pub unstaged: String,
    pub untracked: bool,
    pub conflicted: bool,
}

/// A worktree agentmux owns (`GET /v1/workspaces`, `agentmux workspace ls`): its session, or
/// none when it is left over (`orphan`: a directory under the worktree root no session names).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceInfo {
    pub path: String,
    /// The session's id and name; empty for an orphan.
    pub session_id: String,
    pub session_name: String,
    pub branch: String,
    /// `ready`, `creating`, `missing`, or `orphan`.
    pub state: String,
    /// Bytes its files take on disk.
    pub size_bytes: u64,
}

/// What `GET /v1/sessions/{id}/git/diff` compares.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GitDiffQuery {
    /// `base` (default: everything since the session's base commit, committed or not), `head`
    /// (uncommitted changes), `staged` (the index against HEAD) or `unstaged` (the work tree
    /// against the index).
    #[schemars(extend("enum" = ["", "base", "head", "staged", "unstaged"]))]
    pub against: String,
    /// Only this file or directory (relative to the repository's top).
    #[schemars(
        length(max = 4096),
        regex(pattern = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]*$")
    )]
    pub path: String,
    /// Also return git's unified text in `raw`.
    pub raw: bool,
    /// Hunk lines to return in all (default 10,000; at most 200,000); past it files are
    /// listed with their counts but `truncated` and without hunks.
    #[schemars(range(max = 200_000))]
    pub max_lines: u32,
    /// Leave out untracked files (they are shown as added by default).
    pub no_untracked: bool,
}

/// A diff, parsed: per file its status, counts and hunks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitDiff {
    /// What was compared (`base`, `head`, `staged`, `unstaged`) and the commit it started
    /// from (empty for `unstaged`).
    pub against: String,
    pub from_commit: String,
    pub files: Vec<DiffFile>,
    /// Lines added and removed in all files.
    pub added: u64,
    pub removed: u64,
    /// Some hunks were left out (the line or size cap): the counts are still complete.
    pub truncated: bool,
    /// git's unified text, when asked for (capped as the hunks are).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DiffFile {
    pub path: String,
    /// The path it was renamed or copied from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub old_path: String,
    /// `added`, `modified`, `deleted`, `renamed`, `copied` or `type_changed`.
    pub status: String,
    pub binary: bool,
    /// Not yet known to git (shown as added).
    pub untracked: bool,
    pub added: u32,
    pub removed: u32,
    /// Its hunks were left out or cut short by the cap.
    pub truncated: bool,
    pub hunks: Vec<DiffHunk>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DiffHunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    /// The text after the `@@ … @@` (the enclosing function, when git finds one).
    pub section: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DiffLine {
    /// `context`, `added` or `removed`.
    pub kind: String,
    pub text: String,
    /// Its line number in the old and the new file (0 where it has none).
    pub old_line: u32,
    pub new_line: u32,
}

/// A commit as `git log` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitCommit {
    pub sha: String,
    pub short: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    pub author_name: String,
    pub author_email: String,
    pub time_ms: i64,
    pub parents: Vec<String>,
}

/// `GET /v1/sessions/{id}/git/log`: the session's branch since its base (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitLog {
    /// The commit the log stops at (the base); empty when it goes back to the root.
    pub since: String,
    pub commits: Vec<GitCommit>,
    /// More commits than asked for.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitBranch {
    /// `main`, or `origin/main` for a remote branch.
    pub name: String,
    pub commit: String,
    /// Checked out where this session works.
    pub current: bool,
    pub remote: bool,
    pub upstream: String,
    pub ahead: u32,
    pub behind: u32,
    /// The worktree it is checked out in, when it is (the user's checkout, a session's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub worktree: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitBranches {
    pub branches: Vec<GitBranch>,
}

/// `POST /v1/sessions/{id}/git/commit`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitCommitRequest {
    #[schemars(regex(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"), length(max = 65536))]
    pub message: String,
    /// Commit only these paths (staged or not); empty: every change, untracked files too.
    #[serde(default)]
    #[schemars(
        length(max = 10000),
        inner(
            length(min = 1, max = 4096),
            regex(pattern = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+$")
        )
    )]
    pub paths: Vec<String>,
    /// Commit only what is staged.
    #[serde(default)]
    pub staged: bool,
}

/// Paths to stage, unstage or discard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GitPaths {
    /// Relative to the repository's top; empty: every changed path.
    #[schemars(
        length(max = 10000),
        inner(
            length(min = 1, max = 4096),
            regex(pattern = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+$")
        )
    )]
    pub paths: Vec<String>,
}

/// `POST /v1/sessions/{id}/git/merge`: land the session's branch on a target branch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GitMergeRequest {
    /// The branch to land on; empty: the session's base branch.
    #[schemars(length(max = 255), regex(pattern = r"^[^\x00]*$"))]
    pub target: String,
    /// `merge` (a merge commit, the default), `squash` (one commit) or `rebase` (its commits
    /// replayed on the target).
    #[schemars(extend("enum" = ["", "merge", "squash", "rebase"]))]
    pub strategy: String,
    /// The merge or squash commit's message (by default a merge names the branch; a squash
    /// keeps its one commit's message, or lists its commits' subjects).
    #[schemars(length(max = 65536), regex(pattern = r"^[^\x00]*$"))]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitConflict {
    pub path: String,
    /// git's kind of conflict: `content`, `add/add`, `modify/delete`, `rename/delete`, …
    pub kind: String,
    pub message: String,
}

/// What a merge did: landed (`merged`, the target's new commit) or nothing at all, with the
/// conflicts that stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitMergeResult {
    pub merged: bool,
    pub strategy: String,
    pub target: String,
    /// The target's commit after the merge (before it, when nothing was merged).
    pub commit: String,
    /// Nothing to land: the target has every commit of the branch already.
    pub up_to_date: bool,
    pub conflicts: Vec<GitConflict>,
    /// The checkout of the target that was brought forward with it, when there was one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_worktree: String,
    pub message: String,
}

/// `POST /v1/sessions/{id}/git/push` and `…/pull`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GitRemoteRequest {
    /// Default: the branch's upstream remote, else `origin`.
    #[schemars(length(max = 255), regex(pattern = r"^[^\x00]*$"))]
    pub remote: String,
    /// Push: the branch to push (default: the session's). Pull: the remote branch to take
    /// (default: the upstream).
    #[schemars(length(max = 255), regex(pattern = r"^[^\x00]*$"))]
    pub branch: String,
    /// Push: make it the branch's upstream.
    pub set_upstream: bool,
    /// Push: `--force-with-lease`.
    pub force: bool,
    /// Pull: `ff-only` (default), `merge` or `rebase`.
    #[schemars(extend("enum" = ["", "ff-only", "merge", "rebase"]))]
    pub strategy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitRemoteResult {
    pub ok: bool,
    pub remote: String,
    pub branch: String,
    /// HEAD afterwards.
    pub commit: String,
    /// A pull stopped by conflicts (undone: the work tree is as it was).
    pub conflicts: Vec<GitConflict>,
    /// What git said.
    pub output: String,
}

/// `POST /v1/sessions/{id}/git/checkout`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GitCheckoutRequest {
    /// A branch, tag or commit.
    #[schemars(regex(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"), length(max = 255))]
    pub r#ref: String,
    /// Make a new branch of that name at HEAD.
    pub create: bool,
}

/// `POST /v1/workspaces/gc`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct WorkspaceGcRequest {
    /// Say what would go, remove nothing.
    pub dry_run: bool,
    /// Also remove left-over worktrees that hold uncommitted changes.
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceGcResult {
    pub dry_run: bool,
    /// What was (or would be) removed, and what was kept and why.
    pub removed: Vec<WorkspaceInfo>,
    pub kept: Vec<WorkspaceInfo>,
    pub freed_bytes: u64,
}
