//! The scripting subcommands: each makes a few calls and prints a table or JSON.

mod approvals;
mod providers;
mod term;

use crate::cli::{
    ApprovalsCmd, Command, DaemonCmd, EventsArgs, Global, KeysCmd, SendArgs, SessionCmd,
};
use crate::client::{self, Client, Target};
use crate::output::{self, Out};
use agentmux_shared::types::{CreateSession, StreamItem};
use agentmux_shared::{Error, ErrorKind, Result};
use futures_util::StreamExt;
use serde::Serialize;

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let target = Target {
        data_dir: global.data_dir.clone(),
        socket: global.socket.clone(),
    };
    let mut out = Out::new(global.json);
    match command {
        Command::Daemon(cmd) => daemon(&target, &mut out, cmd).await,
        Command::Session(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            session(&c, &mut out, cmd).await
        }
        Command::Send(args) => {
            let c = Client::connect_or_start(&target).await?;
            send(&c, &mut out, args).await
        }
        Command::Events(args) => {
            let c = Client::connect_or_start(&target).await?;
            events(&c, &mut out, args).await
        }
        Command::Keys(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            keys(&c, &mut out, cmd).await
        }
        Command::Term(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            term::run(&c, &mut out, cmd).await
        }
        Command::Providers(cmd) => {
            let c = Client::connect_or_start(&target).await?;
            providers::run(&c, &mut out, cmd).await
        }
        Command::Approvals(ApprovalsCmd::Ls { session, all }) => {
            let c = Client::connect_or_start(&target).await?;
            approvals::list(&c, &mut out, session, all).await
        }
        Command::Approve { id, always } => {
            let c = Client::connect_or_start(&target).await?;
            let d = if always { "allow_always" } else { "allow_once" };
            approvals::decide(&c, &mut out, &id, d, "").await
        }
        Command::Deny { id, message } => {
            let c = Client::connect_or_start(&target).await?;
            approvals::decide(&c, &mut out, &id, "deny", &message.unwrap_or_default()).await
        }
        Command::Attach(args) => {
            // Parse the prefix before connecting: a typo should not start a daemon.
            let prefix = crate::attach::parse_prefix(&args.prefix)?;
            let c = Client::connect_or_start(&target).await?;
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
                None => String::new(),
            };
            let s = c
                .create_session(CreateSession {
                    title: n.title.unwrap_or_default(),
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
        SessionCmd::Rm { id } => {
            let id = c.delete_session(&id).await?;
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

async fn send(c: &Client, out: &mut Out, args: SendArgs) -> Result<()> {
    let r = c.send_message(&args.session, &args.text, args.wait).await?;
    if out.json {
        return out.json_value(&r);
    }
    match (&r.reply, args.wait) {
        (Some(reply), _) => {
            out.raw(&reply.content)?;
            if !reply.content.ends_with('\n') {
                out.raw("\n")?;
            }
            // A reply that did not complete still printed its partial text; say why it ended.
            if reply.status != agentmux_shared::types::MessageStatus::Complete {
                let why = if reply.error.is_empty() {
                    reply.status.as_str().to_string()
                } else {
                    reply.error.clone()
                };
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!("turn ended: {why}"),
                ));
            }
            Ok(())
        }
        (None, true) => Err(Error::internal("the daemon returned no reply")),
        (None, false) => {
            let q = if r.queued { " (queued)" } else { "" };
            out.line(&format!("{}{q}", r.message.id))
        }
    }
}

/// Replays (and with --follow, streams) events. Without --follow it stops at the head the
/// daemon reported when we started, so the output is a stable snapshot.
async fn events(c: &Client, out: &mut Out, args: EventsArgs) -> Result<()> {
    let session = match &args.session {
        // Resolve a prefix once: the subscription filter wants the full id.
        Some(s) => c.get_session(s).await?.id,
        None => String::new(),
    };
    let head = c.info().await?.last_seq;
    let mut after = args.after;
    if !args.follow && after >= head {
        return Ok(());
    }
    loop {
        let mut stream = c.subscribe(after, &session).await?;
        let mut resumed = false;
        while let Some(item) = stream.next().await {
            match item? {
                StreamItem::Event(e) => {
                    after = e.seq;
                    out.event(&e)?;
                    if !args.follow && e.seq >= head {
                        return Ok(());
                    }
                }
                StreamItem::Heartbeat { last_seq } => {
                    // With a session filter the head itself may belong to another session;
                    // a heartbeat past the head says the replay has covered it.
                    if !args.follow && last_seq >= head {
                        return Ok(());
                    }
                }
                StreamItem::Lagged { resume_after_seq } => {
                    after = resume_after_seq.max(after);
                    resumed = true;
                    break;
                }
            }
        }
        if !resumed {
            return Err(Error::unavailable("the event stream ended"));
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
