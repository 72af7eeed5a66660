//! Command-line grammar (clap derive). With no subcommand the binary runs the TUI.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "agentmux",
    version,
    about = "Terminal control plane for AI coding agents",
    long_about = "Without a subcommand: the TUI, attached to agentmuxd (started in the background \
                  if it is not running). With one: a scripting CLI; add --json for machine output."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Socket of the daemon to talk to
    #[arg(long, global = true, env = "AGENTMUX_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Data directory of the daemon (its socket lives there unless --socket is given)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print the result as JSON (events: one object per line)
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect the daemon
    #[command(subcommand)]
    Daemon(DaemonCmd),
    /// Manage sessions
    #[command(subcommand)]
    Session(SessionCmd),
    /// Send a message to a session
    Send(SendArgs),
    /// Print a session's transcript
    Log(LogArgs),
    /// Print events: live ones, or a replay of the durable log with --after/--all
    Events(EventsArgs),
    /// The git state of a session's work (its worktree, else its directory's repository)
    #[command(subcommand)]
    Git(GitCmd),
    /// The worktrees agentmux owns
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Workflow definitions: list, show, check
    #[command(subcommand, alias = "workflows")]
    Workflow(WorkflowCmd),
    /// A session's files (its worktree, else its directory): list, print, write, delete, move
    #[command(subcommand, alias = "file")]
    Files(FilesCmd),
    /// Manage API keys for the TCP listener
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Manage terminals: programs in daemon-owned PTYs
    #[command(subcommand, alias = "terminal")]
    Term(TermCmd),
    /// Attach to a terminal full-screen, like tmux (prefix then d detaches)
    Attach(AttachArgs),
    /// Provider CLIs: which are installed, versions, credentials; install them with npm
    #[command(subcommand, alias = "provider")]
    Providers(ProvidersCmd),
    /// Tool requests waiting for a decision
    #[command(subcommand, alias = "approval")]
    Approvals(ApprovalsCmd),
    /// Allow a pending approval (once, or --always)
    Approve {
        /// Approval id or unique prefix
        id: String,
        /// Allow this tool for the rest of the session (a rule `approvals rules` lists)
        #[arg(long)]
        always: bool,
    },
    /// Print a shell completion script: `agentmux completions bash > /etc/bash_completion.d/agentmux`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `agentmux man | man -l -`
    Man,
    /// Deny a pending approval; the agent is told the message
    Deny {
        /// Approval id or unique prefix
        id: String,
        /// Why: the agent is told this
        #[arg(long, short)]
        message: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCmd {
    /// List providers: kind, installed, version, path, credentials
    #[command(alias = "list")]
    Ls,
    /// Install a provider CLI with npm into the daemon's prefix and follow its progress
    Install {
        /// Provider id: claude, codex, gemini, qwen, opencode, or a configured ACP agent
        name: String,
        /// npm version or tag (default: the configured npm_package, else the latest)
        #[arg(long)]
        version: Option<String>,
    },
    /// List install jobs, oldest first
    Jobs,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCmd {
    /// List pending approvals (--all: resolved ones too)
    #[command(alias = "list")]
    Ls {
        /// Only this session's
        #[arg(long)]
        session: Option<String>,
        /// Resolved ones too
        #[arg(long)]
        all: bool,
    },
    /// A session's "allow always" rules (tools it no longer asks about)
    Rules {
        /// Session name, id, or a unique prefix of either
        session: String,
    },
    /// Take back a session's "allow always" rule: the tool asks again
    Revoke {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The tool, as `approvals rules` lists it
        tool: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TermCmd {
    /// Start a program in a new terminal: `term new [--name N] -- CMD ARGS…`
    New(NewTerm),
    /// List terminals
    #[command(alias = "list")]
    Ls,
    /// Show one terminal
    Show {
        /// Terminal name, id or unique id prefix
        id: String,
    },
    /// Stop a terminal's program (SIGHUP, SIGTERM, then SIGKILL to its process group)
    Kill {
        /// Terminal name, id or unique id prefix
        id: String,
    },
    /// Kill a terminal if it runs and forget it
    #[command(alias = "remove")]
    Rm {
        /// Terminal name, id or unique id prefix
        id: String,
    },
    /// Run an exited terminal's command again
    Restart {
        /// Terminal name, id or unique id prefix
        id: String,
    },
    /// Set a terminal's size
    Resize {
        /// Terminal name, id or unique id prefix
        id: String,
        /// Rows
        rows: u16,
        /// Columns
        cols: u16,
    },
}

#[derive(Debug, Args)]
pub struct NewTerm {
    /// Unique name (default: derived from the command)
    #[arg(long)]
    pub name: Option<String>,
    /// Working directory (default: this shell's)
    #[arg(long, value_name = "DIR", conflicts_with = "session")]
    pub cwd: Option<PathBuf>,
    /// Start where this session works (its worktree, when it has one)
    #[arg(long, value_name = "SESSION")]
    pub session: Option<String>,
    /// Start a provider CLI with the daemon's settings for it
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Rows (default: this terminal's, else 24)
    #[arg(long, requires = "cols")]
    pub rows: Option<u16>,
    /// Columns (default: this terminal's, else 80)
    #[arg(long, requires = "rows")]
    pub cols: Option<u16>,
    /// Extra environment, repeatable
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Attach to it right away
    #[arg(long, short)]
    pub attach: bool,
    /// The command and its arguments (after `--`)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Terminal name, id or unique id prefix
    pub terminal: String,
    /// Watch only: keystrokes and size changes are not sent
    #[arg(long)]
    pub read_only: bool,
    /// Prefix key: `C-b` (default), `C-a`, `^A`, …; then `d` detaches
    #[arg(
        long,
        env = "AGENTMUX_PREFIX",
        default_value = "C-b",
        value_name = "KEY"
    )]
    pub prefix: String,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCmd {
    /// Start agentmuxd in the background (nothing to do if it runs)
    Start,
    /// Stop agentmuxd (SIGTERM) and wait until it is gone
    Stop,
    /// Show version, pid, paths and the event log head
    Status,
    /// Re-read the config file (SIGHUP): changed providers serve new turns, running turns and
    /// terminals go on
    Reload,
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Create a session
    New(NewSession),
    /// List sessions
    #[command(alias = "list")]
    Ls,
    /// Show one session
    Show {
        /// Session name, id, or a unique prefix of either
        id: String,
    },
    /// Delete a session and its history (and its worktree, if it has one)
    #[command(alias = "delete")]
    Rm {
        /// Session name, id, or a unique prefix of either
        id: String,
        /// Even when its worktree holds uncommitted changes or commits on no other branch
        #[arg(long)]
        force: bool,
        /// Also delete the session's branch (kept by default)
        #[arg(long)]
        delete_branch: bool,
    },
    /// Change a session's title
    Rename {
        /// Session name, id, or a unique prefix of either
        id: String,
        /// The new title
        title: String,
    },
    /// Copy a session (optionally only its first N messages) into a new one
    Fork {
        /// Session name, id, or a unique prefix of either
        id: String,
        /// Copy messages [0, N); default all
        #[arg(long, value_name = "N")]
        at: Option<u64>,
        /// Title of the copy (default: the original's with " (fork)")
        #[arg(long)]
        title: Option<String>,
    },
    /// Clear a session's history
    Reset {
        /// Session name, id, or a unique prefix of either
        id: String,
    },
    /// Stop the running turn (keeps partial output)
    Cancel {
        /// Session name, id, or a unique prefix of either
        id: String,
        /// Also drop queued messages
        #[arg(long)]
        hard: bool,
    },
    /// Run the messages still queued after an interruption (daemon restart)
    Resume {
        /// Session name, id, or a unique prefix of either
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct NewSession {
    /// A title shown in lists (default: "session" and the end of its id)
    #[arg(long)]
    pub title: Option<String>,
    /// A unique name to type instead of the id (default: made from the title, else the end
    /// of the id)
    #[arg(long)]
    pub name: Option<String>,
    /// Provider id; the daemon's default when omitted
    #[arg(long)]
    pub provider: Option<String>,
    /// Model name (default: the provider's configured model)
    #[arg(long)]
    pub model: Option<String>,
    /// Working directory for the agent (default: this shell's)
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Work in a git worktree of its own, on branch agentmux/NAME (the directory must be in a
    /// repository)
    #[arg(long, conflicts_with = "no_worktree")]
    pub worktree: bool,
    /// Work in the directory itself even when the daemon's default is a worktree
    #[arg(long)]
    pub no_worktree: bool,
    /// With --worktree: what the branch starts from (default: HEAD)
    #[arg(long, value_name = "REF", requires = "worktree")]
    pub base: Option<String>,
    /// With --worktree: the branch's name (default: agentmux/NAME)
    #[arg(long, value_name = "NAME", requires = "worktree")]
    pub branch: Option<String>,
    /// ask (default), auto-edit or never-ask
    #[arg(long, value_name = "POLICY")]
    pub approval_policy: Option<String>,
    /// Pending approvals expire (denied) after this many seconds; default: never
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Session name, id, or a unique prefix of either
    pub session: String,
    /// The message; `-` (or nothing, when stdin is not a terminal) reads it from stdin
    pub text: Option<String>,
    /// Stream the answer to stdout as it arrives (JSON lines of the turn's events with
    /// --json); the exit code says how the turn ended
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Session name, id, or a unique prefix of either
    pub session: String,
    /// After the transcript, print new messages as they complete
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this session's events
    #[arg(long, value_name = "SESSION")]
    pub session: Option<String>,
    /// Replay from after this seq, then stop at the head (default: only live events)
    #[arg(long, value_name = "SEQ", conflicts_with = "all")]
    pub after: Option<u64>,
    /// Replay the whole log, then stop at the head
    #[arg(long)]
    pub all: bool,
    /// With --after/--all: keep streaming live events after the replay
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCmd {
    /// Every worktree with its session, branch, state (orphans included) and size on disk
    #[command(alias = "list")]
    Ls,
    /// Remove left-over worktrees no session needs (branches stay)
    Gc {
        /// Say what would go; remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Also remove left-over worktrees that hold uncommitted changes
        #[arg(long)]
        force: bool,
    },
}

/// Paths are relative to the session's workspace; `..` and absolute paths are refused.
#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// A directory: directories first, then by name, with kind, size and age
    #[command(alias = "list")]
    Ls {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The directory (default: the workspace itself)
        #[arg(default_value = "")]
        path: String,
        /// Also what .gitignore hides (marked as ignored)
        #[arg(short, long)]
        all: bool,
    },
    /// Print a file, or write it to -o FILE (its bytes are the output: --json does not apply)
    #[command(alias = "cat")]
    Get {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The file
        path: String,
        /// Write to this local file instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// First byte to print
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Bytes to print at most (default: to the end)
        #[arg(long)]
        length: Option<u64>,
        /// A PNG thumbnail of the image instead, scaled to fit WxH (each 1 to 1024)
        #[arg(long, value_name = "WxH", conflicts_with_all = ["offset", "length"])]
        thumb: Option<String>,
    },
    /// Write a file from a local file or stdin: made, or replaced in one step
    Put {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The file to write (its directories are made)
        path: String,
        /// The local file to send (default: stdin)
        #[arg(value_name = "LOCAL")]
        local: Option<PathBuf>,
    },
    /// Delete a file, a symlink (not its target) or an empty directory
    Rm {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The file or directory
        path: String,
        /// Also a directory that is not empty, with everything in it
        #[arg(short, long)]
        recursive: bool,
    },
    /// Move a file or directory within the workspace
    Mv {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// What to move
        from: String,
        /// Where to (missing directories are made)
        to: String,
        /// Replace a file already there (a directory never is)
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCmd {
    /// Every workflow: files in <config dir>/workflows and the built-ins
    #[command(alias = "list")]
    Ls,
    /// A workflow's definition (JSON)
    Show {
        /// The workflow's name
        name: String,
    },
    /// Check a workflow: its parallel layers, or every error and where it is
    Preview {
        /// A workflow's name, or a .toml or .json definition file
        workflow: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GitCmd {
    /// Branch, ahead/behind its base and upstream, and changed files
    Status {
        /// Session name, id, or a unique prefix of either
        session: String,
    },
    /// What the session changed (against its base by default), as unified text
    Diff {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// Only this file or directory (relative to the repository's top)
        path: Option<String>,
        /// base (everything since the session's base), head (uncommitted), staged, unstaged
        #[arg(long, default_value = "base")]
        against: String,
        /// Files with their added/removed counts instead of the text
        #[arg(long)]
        stat: bool,
        /// Hunk lines to show at most (default 10,000)
        #[arg(long, default_value_t = 0)]
        max_lines: u32,
        /// Leave out files git does not track yet
        #[arg(long)]
        no_untracked: bool,
    },
    /// The session's commits since its base
    Log {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// How many commits at most
        #[arg(short = 'n', long, default_value_t = 100)]
        limit: u32,
    },
    /// Local and remote branches, upstreams, and where each is checked out
    Branches {
        /// Session name, id, or a unique prefix of either
        session: String,
    },
    /// Commit every change (untracked files too), the given paths, or what is staged
    Commit {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The commit message
        #[arg(short, long)]
        message: String,
        /// Only these paths
        paths: Vec<String>,
        /// Only what is staged
        #[arg(long, conflicts_with = "paths")]
        staged: bool,
    },
    /// Stage paths (every change when none are given)
    Stage {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// Paths relative to the repository's top
        paths: Vec<String>,
    },
    /// Unstage paths (everything when none are given)
    Unstage {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// Paths relative to the repository's top
        paths: Vec<String>,
    },
    /// Throw away changes to paths, deleting new files (only in a session's own worktree)
    Discard {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// Paths relative to the repository's top
        #[arg(required_unless_present = "all")]
        paths: Vec<String>,
        /// Every change in the worktree
        #[arg(long, conflicts_with = "paths")]
        all: bool,
    },
    /// Land the session's branch on a target branch (default: its base); exits 4 on conflicts
    Merge {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The branch to land on (default: the session's base branch)
        #[arg(long)]
        into: Option<String>,
        /// merge (a merge commit), squash (one commit) or rebase (commits replayed)
        #[arg(long, default_value = "merge", value_parser = ["merge", "squash", "rebase"])]
        strategy: String,
        /// The merge or squash commit's message
        #[arg(short, long)]
        message: Option<String>,
    },
    /// Push the session's branch (or another) to a remote
    Push {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The remote (default: the branch's upstream remote, else origin)
        #[arg(long)]
        remote: Option<String>,
        /// The branch to push (default: the session's)
        #[arg(long)]
        branch: Option<String>,
        /// Make it the branch's upstream
        #[arg(short = 'u', long)]
        set_upstream: bool,
        /// Overwrite the remote branch if it is still what was last fetched
        #[arg(long)]
        force: bool,
    },
    /// Pull into the session's worktree; exits 4 on conflicts (undone)
    Pull {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// The remote (default: the upstream's, else origin)
        #[arg(long)]
        remote: Option<String>,
        /// The remote branch (default: the upstream)
        #[arg(long)]
        branch: Option<String>,
        /// ff-only, merge or rebase
        #[arg(long, default_value = "ff-only", value_parser = ["ff-only", "merge", "rebase"])]
        strategy: String,
    },
    /// Switch the session's worktree to a branch or commit
    Checkout {
        /// Session name, id, or a unique prefix of either
        session: String,
        /// A branch, tag or commit
        r#ref: String,
        /// Create a new branch of that name
        #[arg(short = 'b', long)]
        create: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Create a key; its secret is printed once
    Create {
        /// A name to tell the key by (unique)
        name: String,
    },
    /// List keys
    #[command(alias = "list")]
    Ls,
    /// Revoke a key by id, name or prefix
    Revoke {
        /// Key id, name or unique prefix
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every subcommand and every argument says what it is for in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") || a.is_hide_set() {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "agentmux", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn parses_typical_lines() {
        let cli = Cli::try_parse_from(["agentmux", "session", "fork", "ab", "--at", "3", "--json"]);
        assert!(matches!(
            cli,
            Ok(Cli {
                global: Global { json: true, .. },
                command: Some(Command::Session(SessionCmd::Fork { at: Some(3), .. })),
            })
        ));
        let cli = Cli::try_parse_from([
            "agentmux", "term", "new", "--name", "sh", "--", "bash", "-l", "--norc",
        ]);
        let Ok(Cli {
            command: Some(Command::Term(TermCmd::New(n))),
            ..
        }) = cli
        else {
            panic!("term new did not parse: {cli:?}");
        };
        assert_eq!(n.name.as_deref(), Some("sh"));
        assert_eq!(n.command, ["bash", "-l", "--norc"]);
        let cli = Cli::try_parse_from(["agentmux", "attach", "sh", "--prefix", "C-a"]);
        assert!(matches!(
            cli,
            Ok(Cli {
                command: Some(Command::Attach(AttachArgs { ref prefix, .. })),
                ..
            }) if prefix == "C-a"
        ));
        let cli = Cli::try_parse_from([
            "agentmux",
            "providers",
            "install",
            "codex",
            "--version",
            "0.169.0",
            "--json",
        ]);
        assert!(matches!(
            cli,
            Ok(Cli {
                global: Global { json: true, .. },
                command: Some(Command::Providers(ProvidersCmd::Install { ref name, version: Some(ref v) })),
            }) if name == "codex" && v == "0.169.0"
        ));
        let cli = Cli::try_parse_from(["agentmux", "--data-dir", "/x", "events", "--all", "-f"]);
        assert!(matches!(
            cli,
            Ok(Cli {
                command: Some(Command::Events(EventsArgs {
                    follow: true,
                    all: true,
                    after: None,
                    ..
                })),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["agentmux", "events", "--all", "--after", "3"]).is_err());
        let cli = Cli::try_parse_from(["agentmux", "send", "ses_1"]);
        assert!(matches!(
            cli,
            Ok(Cli {
                command: Some(Command::Send(SendArgs { text: None, .. })),
                ..
            })
        ));
    }
}
