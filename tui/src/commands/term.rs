//! `agentmux term …`: terminal management from the command line (attach lives in `attach`).

use crate::cli::{NewTerm, TermCmd};
use crate::client::Client;
use crate::output::{self, Out};
use agentmux_shared::types::CreateTerminal;
use agentmux_shared::{Error, Result};
use serde::Serialize;
use std::io::IsTerminal;

pub async fn run(c: &Client, out: &mut Out, cmd: TermCmd) -> Result<()> {
    match cmd {
        TermCmd::New(n) => {
            let attach = n.attach && !out.json;
            // Checked first: a terminal nobody can attach to should not be left behind.
            if attach && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
                return Err(Error::invalid(
                    "--attach needs a terminal on stdin and stdout",
                ));
            }
            let id = create(c, out, n).await?;
            if !attach {
                return Ok(());
            }
            let prefix = crate::attach::prefix_from_env()?;
            crate::attach::run(
                c,
                crate::attach::Options {
                    terminal: id,
                    read_only: false,
                    prefix,
                },
            )
            .await
        }
        TermCmd::Ls => {
            let list = c.list_terminals().await?;
            if out.json {
                return out.json_value(&list);
            }
            out.raw(&output::terminals_table(&list, output::now_ms()))
        }
        TermCmd::Show { id } => out.terminal(&c.get_terminal(&id).await?),
        TermCmd::Kill { id } => {
            let t = c.kill_terminal(&id).await?;
            if out.json {
                return out.json_value(&t);
            }
            out.line(&format!(
                "{} ({}): {}",
                t.id,
                t.name,
                output::terminal_status(&t)
            ))
        }
        TermCmd::Rm { id } => {
            let id = c.remove_terminal(&id).await?;
            if out.json {
                #[derive(Serialize)]
                struct Removed {
                    id: String,
                }
                return out.json_value(&Removed { id });
            }
            out.line(&format!("removed {id}"))
        }
        TermCmd::Restart { id } => out.terminal(&c.restart_terminal(&id).await?),
        TermCmd::Resize { id, rows, cols } => {
            let t = c.resize_terminal(&id, rows, cols).await?;
            if out.json {
                return out.json_value(&t);
            }
            out.line(&format!("{} ({}): {}x{}", t.id, t.name, t.cols, t.rows))
        }
    }
}

/// Creates the terminal and prints it (unless about to attach); returns its id.
async fn create(c: &Client, out: &mut Out, n: NewTerm) -> Result<String> {
    let cwd = match &n.cwd {
        // The daemon puts it where the session works.
        None if n.session.is_some() => std::path::PathBuf::new(),
        // Relative to where the user typed it, not to the daemon's directory.
        Some(p) => std::path::absolute(p)
            .map_err(|e| Error::invalid(format!("--cwd {}: {e}", p.display())))?,
        // The user's directory, not the daemon's: `term new -- make` should run here.
        None => std::env::current_dir()
            .map_err(|e| Error::invalid(format!("cannot read the current directory: {e}")))?,
    };
    let (rows, cols) = match (n.rows, n.cols) {
        (Some(r), Some(c)) => (r, c),
        _ => this_terminal_size().unwrap_or((0, 0)),
    };
    // This shell's environment (the listed names), then what --env says.
    let mut env = crate::env::client_env();
    for kv in &n.env {
        let Some((k, v)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::invalid(format!("--env {kv:?}: expected KEY=VALUE")));
        };
        env.insert(k.to_string(), v.to_string());
    }
    let mut words = n.command.into_iter();
    let command = words.next().unwrap_or_default();
    if command.is_empty() && n.preset.is_none() {
        return Err(Error::invalid(
            "give a command after `--` (e.g. `agentmux term new -- bash`) or a --preset",
        ));
    }
    let t = c
        .create_terminal(CreateTerminal {
            name: n.name.unwrap_or_default(),
            command,
            args: words.collect(),
            env,
            cwd: cwd.to_string_lossy().into_owned(),
            rows: u32::from(rows),
            cols: u32::from(cols),
            preset: n.preset.unwrap_or_default(),
            session: n.session.unwrap_or_default(),
        })
        .await?;
    if n.attach && !out.json {
        return Ok(t.id);
    }
    out.terminal(&t)?;
    Ok(t.id)
}

/// (rows, cols) of the terminal on stdout, when there is one.
pub fn this_terminal_size() -> Option<(u16, u16)> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let (cols, rows) = crossterm::terminal::size().ok()?;
    (rows > 0 && cols > 0).then_some((rows, cols))
}
