//! The scripting subcommands: each makes a few calls and prints a table or JSON.

mod approvals;
mod chat;
mod files;
mod git;
mod providers;
mod term;
mod workflow;

use crate::cli::{ApprovalsCmd, Command, DaemonCmd, Global, KeysCmd, SessionCmd};
use crate::client::{self, Client, Target};
use crate::exit::Failure;
use crate::output::{self, Out};
use agentmux_shared::types::CreateSession;
use agentmux_shared::{Error, ErrorKind, Result};
use serde::Serialize;

pub async fn run(global: &Global, command: Command) -> std::result::Result<(), Failure> {
    let target = Target {
        data_dir: global.data_dir.clone(),
        socket: global.socket.clone(),
    };
    let mut out = Out::new(global.json);
    match command {
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "agentmux", &mut buf);
            Ok(out.raw(&String::from_utf8_lossy(&buf))?)
        }
        Command::Man => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Error::internal(format!("cannot render the manual: {e}")))?;
            Ok(out.raw(&String::from_utf8_lossy(&buf))?)
        }
        Command::Send(args) => {
            let c = Client::connect_or_start(&target).await?;
            chat::send(&c, &mut out, args).await
        }
        Command::Providers(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            providers::run(&c, &mut out, cmd).await
        }
        Command::Git(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            git::run(&c, &mut out, cmd).await
        }
        Command::Workspace(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            Ok(git::workspace(&c, &mut out, cmd).await?)
        }
        Command::Workflow(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            Ok(workflow::run(&c, &mut out, cmd).await?)
        }
        other => Ok(others(&target, &mut out, other).await?),
    }
}

/// The commands whose failures are the daemon's errors as they are.
async fn others(target: &Target, out: &mut Out, command: Command) -> Result<()> {
    match command {
        Command::Daemon(cmd) => daemon(target, out, cmd).await,
        Command::Session(cmd) => {
            let c = Client::connect_or_start(target).await?;
            session(&c, out, cmd).await
        }
        Command::Send(_)
        | Command::Providers(_)
        | Command::Git(_)
        | Command::Workspace(_)
        | Command::Workflow(_)
        | Command::Completions { .. }
        | Command::Man => Err(Error::internal("handled in run")),
        Command::Log(args) => {
            let c = Client::connect_or_start(target).await?;
            chat::log(&c, out, args).await
        }
        Command::Events(args) => {
            let c = Client::connect_or_start(target).await?;
            chat::events(&c, out, args).await
        }
        Command::Keys(cmd) => {
            let c = Client::connect_or_start(target).await?;
            keys(&c, out, cmd).await
        }
        Command::Term(cmd) => {
            let c = Client::connect_or_start(target).await?;
            term::run(&c, out, cmd).await
        }
        Command::Files(cmd) => {
            let c = Client::connect_or_start(target).await?;
            files::run(&c, out, cmd).await
        }
        Command::Approvals(ApprovalsCmd::Ls { session, all }) => {
            let c = Client::connect_or_start(target).await?;
            approvals::list(&c, out, session, all).await
        }
        Command::Approvals(ApprovalsCmd::Rules { session }) => {
            let c = Client::connect_or_start(target).await?;
            approvals::rules(&c, out, &session).await
        }
        Command::Approvals(ApprovalsCmd::Revoke { session, tool }) => {
            let c = Client::connect_or_start(target).await?;
            approvals::revoke(&c, out, &session, &tool).await
        }
        Command::Approve { id, always } => {
            let c = Client::connect_or_start(target).await?;
            let d = if always { "allow_always" } else { "allow_once" };
            approvals::decide(&c, out, &id, d, "").await
        }
        Command::Deny { id, message } => {
            let c = Client::connect_or_start(target).await?;
            approvals::decide(&c, out, &id, "deny", &message.unwrap_or_default()).await
        }
        Command::Attach(args) => {
            // Parse the prefix before connecting: a typo should not start a daemon.
            let prefix = crate::attach::parse_prefix(&args.prefix)?;
            let c = Client::connect_or_start(target).await?;
            crate::attach::run(
                &c,
                crate::attach::Options {
                    terminal: args.terminal,
                    read_only: args.read_only,
                    prefix,
                },
            )
            .await
        }
    }
}

/// Connects without starting: `status` and `stop` report on what is there.
async fn connect_existing(target: &Target) -> Result<Client> {
    let paths = target.paths()?;
    Client::connect(&paths.socket)
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Unavailable => Error::unavailable(format!(
                "agentmuxd is not running (no answer on {})",
                paths.socket.display()
            )),
            _ => e,
        })
}

async fn daemon(target: &Target, out: &mut Out, cmd: DaemonCmd) -> Result<()> {
    match cmd {
        DaemonCmd::Start => {
            let paths = target.paths()?;
            let already = Client::connect(&paths.socket).await.is_ok();
            if !already {
                client::start_daemon(target, &paths).await?;
            }
            let info = Client::connect(&paths.socket).await?.info().await?;
            if out.json {
                return out.json_value(&info);
            }
            let verb = if already {
                "already running"
            } else {
                "started"
            };
            out.line(&format!(
                "agentmuxd {verb} (pid {}, socket {})",
                info.pid, info.socket
            ))
        }
        DaemonCmd::Status => {
            let info = connect_existing(target).await?.info().await?;
            if out.json {
                return out.json_value(&info);
            }
            out.fields(&output::info_fields(&info))
        }
        DaemonCmd::Reload => {
            let c = connect_existing(target).await?;
            let before = c.info().await?;
            client::signal_daemon(before.pid, libc::SIGHUP)?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let after = loop {
                let now = c.info().await?;
                if now.config_loaded_at_ms != before.config_loaded_at_ms {
                    break now;
                }
                if std::time::Instant::now() >= deadline {
                    return Err(Error::unavailable(format!(
                        "agentmuxd (pid {}) did not reload within 10 s; see its log",
                        before.pid
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            if !after.config_error.is_empty() {
                return Err(Error::invalid(format!(
                    "the config was not reloaded (the old one stays): {}",
                    after.config_error
                )));
            }
            if out.json {
                return out.json_value(&after);
            }
            let what = if after.config_changed.is_empty() {
                "nothing changed".to_string()
            } else {
                format!("changed: {}", after.config_changed.join(", "))
            };
            out.line(&format!("config reloaded ({what})"))
        }
        DaemonCmd::Stop => {
            let c = connect_existing(target).await?;
            let info = c.info().await?;
            client::stop_daemon(&c, info.pid).await?;
            if out.json {
                #[derive(Serialize)]
                struct Stopped {
                    stopped: bool,
                    pid: u32,
                }
                return out.json_value(&Stopped {
                    stopped: true,
                    pid: info.pid,
                });
            }
            out.line(&format!("agentmuxd stopped (pid {})", info.pid))
        }
    }
}

async fn session(c: &Client, out: &mut Out, cmd: SessionCmd) -> Result<()> {
    match cmd {
        SessionCmd::New(n) => {
            let cwd = match n.cwd {
                // Relative to where the user typed it, not to the daemon's directory.
                Some(p) => std::path::absolute(&p)
                    .map_err(|e| Error::invalid(format!("--cwd {}: {e}", p.display())))?
                    .to_string_lossy()
                    .into_owned(),
                // This shell's directory, not the daemon's (which depends on who started it).
                None => std::env::current_dir()
                    .map_err(|e| Error::invalid(format!("this shell's directory: {e}")))?
                    .to_string_lossy()
                    .into_owned(),
            };
            let s = c
                .create_session(CreateSession {
                    title: n.title.unwrap_or_default(),
                    name: n.name.unwrap_or_default(),
                    env: crate::env::client_env(),
                    workspace: agentmux_shared::types::WorkspaceRequest {
                        mode: match (n.worktree, n.no_worktree) {
                            (true, _) => "worktree".into(),
                            (_, true) => "none".into(),
                            _ => String::new(),
                        },
                        base: n.base.unwrap_or_default(),
                        branch: n.branch.unwrap_or_default(),
                    },
                    provider: n.provider.unwrap_or_default(),
                    model: n.model.unwrap_or_default(),
                    cwd,
                    approval_policy: n.approval_policy.unwrap_or_default(),
                    approval_timeout_secs: n.approval_timeout.unwrap_or(0),
                })
                .await?;
            out.session(&s)
        }
        SessionCmd::Ls => {
            let sessions = c.list_sessions().await?;
            if out.json {
                return out.json_value(&sessions);
            }
            out.sessions_table(&sessions, output::now_ms())
        }
        SessionCmd::Show { id } => out.session(&c.get_session(&id).await?),
        SessionCmd::Rm {
            id,
            force,
            delete_branch,
        } => {
            let id = c.delete_session(&id, force, delete_branch).await?;
            if out.json {
                #[derive(Serialize)]
                struct Deleted {
                    id: String,
                }
                return out.json_value(&Deleted { id });
            }
            out.line(&format!("deleted {id}"))
        }
        SessionCmd::Rename { id, title } => out.session(&c.rename_session(&id, &title).await?),
        SessionCmd::Fork { id, at, title } => {
            let s = c
                .fork_session(&id, at.unwrap_or(0), &title.unwrap_or_default())
                .await?;
            out.session(&s)
        }
        SessionCmd::Reset { id } => out.session(&c.reset_session(&id).await?),
        SessionCmd::Resume { id } => out.session(&c.resume_session(&id).await?),
        SessionCmd::Cancel { id, hard } => {
            let r = c.cancel_session(&id, hard).await?;
            if out.json {
                return out.json_value(&r);
            }
            let turn = if r.cancelled_turn {
                "turn cancelled"
            } else {
                "no turn running"
            };
            out.line(&format!(
                "{}: {turn}, {} queued dropped",
                r.id, r.dropped_queued
            ))
        }
    }
}

async fn keys(c: &Client, out: &mut Out, cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Create { name } => {
            let k = c.create_key(&name).await?;
            if out.json {
                return out.json_value(&k);
            }
            out.line(&k.secret)?;
            out.err_line(&format!(
                "created key {} ({}); the secret above is shown only once",
                k.key.id, k.key.name
            ));
            Ok(())
        }
        KeysCmd::Ls => {
            let keys = c.list_keys().await?;
            if out.json {
                return out.json_value(&keys);
            }
            out.keys_table(&keys, output::now_ms())
        }
        KeysCmd::Revoke { id } => {
            let k = c.revoke_key(&id).await?;
            if out.json {
                return out.json_value(&k);
            }
            out.line(&format!("revoked {} ({})", k.id, k.name))
        }
    }
}
