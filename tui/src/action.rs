//! `Action`: work for the daemon, which `App::update` returns and the worker runs. A leaf, so
//! the views that ask for it need not depend on the app.

use agentmux_shared::types::Decision;
use std::time::Duration;

/// Work for the daemon. Everything but `Connect`, `Subscribe` and the terminal attachment's
/// actions is a call answered by one `Reply` or `CallFailed`, which is what `State::pending`
/// counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Connect {
        attempt: u32,
        delay: Duration,
        /// Only the first connection starts a daemon: after `agentmux daemon stop` the TUI
        /// should wait, not bring it back behind the user's back.
        autostart: bool,
    },
    Subscribe {
        after_seq: u64,
        generation: u64,
    },
    ListSessions,
    LoadMessages {
        session_id: String,
        after_index: u64,
        page_size: u32,
    },
    /// The provider list, for the new-session picker.
    ListProviders,
    CreateSession {
        provider: String,
        approval_policy: String,
        /// Empty: the daemon's default.
        title: String,
        /// Empty: where the TUI was started.
        cwd: String,
        /// Empty: the provider's default.
        model: String,
        /// `worktree`, `none`, or empty for the daemon's default.
        workspace: String,
    },
    /// Takes back a session's "allow always" rule for a tool.
    RevokeRule {
        session: String,
        tool: String,
    },
    /// Directories that complete `text` (the new-session form's Tab), read on this machine.
    CompleteDir {
        text: String,
    },
    Rename {
        id: String,
        title: String,
    },
    Delete {
        id: String,
    },
    Cancel {
        id: String,
        hard: bool,
    },
    Send {
        session_id: String,
        content: String,
    },
    ListTerminals,
    /// The pending approvals (after a (re)connect: events only tell what changes).
    ListApprovals,
    Decide {
        id: String,
        decision: Decision,
        message: String,
    },
    /// Opens the attachment (replacing any other); its events carry `generation`.
    Attach {
        terminal_id: String,
        rows: u16,
        cols: u16,
        generation: u64,
    },
    /// A session's git status (the review view; the list's ahead/behind).
    GitStatus {
        session: String,
    },
    /// Its work against its base, parsed; `path` only that file, whole (`max_lines` large).
    GitDiff {
        session: String,
        path: String,
    },
    /// A change to its work from the review view.
    Git {
        session: String,
        change: GitChange,
    },
    TermInput {
        generation: u64,
        data: Vec<u8>,
    },
    TermResize {
        generation: u64,
        rows: u16,
        cols: u16,
    },
    Detach,
}

/// What the review view asks of a session's git work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitChange {
    Stage(Vec<String>),
    Unstage(Vec<String>),
    Discard(Vec<String>),
    /// Commit with this message: what is staged, or every change when nothing is.
    Commit {
        message: String,
        staged: bool,
    },
    /// Land the session's branch on its base: `merge`, `squash` or `rebase`.
    Merge(String),
}

impl Action {
    pub fn is_call(&self) -> bool {
        !matches!(
            self,
            Action::Connect { .. }
                | Action::Subscribe { .. }
                | Action::Attach { .. }
                | Action::TermInput { .. }
                | Action::TermResize { .. }
                | Action::Detach
                | Action::CompleteDir { .. }
        )
    }
}
