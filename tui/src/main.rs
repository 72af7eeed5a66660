//! `agentmux`: the TUI when run bare, a scripting CLI with a subcommand.

mod action;
mod app;
mod attach;
mod cli;
mod client;
mod commands;
mod drafts;
mod editor;
mod env;
mod exit;
mod git_state;
mod keymap;
mod notify;
mod output;
mod state;
mod term_view;
#[cfg(test)]
mod test_support;
mod tui;
mod ui;
mod worker;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Two workers: the client is I/O bound and the machine may be shared with the daemon.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: internal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = client::Target {
        data_dir: cli.global.data_dir.clone(),
        socket: cli.global.socket.clone(),
    };
    let result = rt.block_on(async {
        match cli.command {
            None => tui::run(target).await.map_err(exit::Failure::from),
            Some(cmd) => commands::run(&cli.global, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => ExitCode::from(exit::report(&f, cli.global.json)),
    }
}
