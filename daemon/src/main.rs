//! agentmuxd entry point: flags, logging, signals.

use agentmux_daemon::server::{self, Options};
use agentmux_shared::config::{Config, Paths};
use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The agentmux daemon: owns agent sessions and serves gRPC and REST.
#[derive(Debug, Parser)]
#[command(name = "agentmuxd", version)]
struct Args {
    /// Where sessions, messages and events are stored.
    #[arg(long, env = "AGENTMUX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The Unix socket to serve on (mode 0600, no token needed).
    #[arg(long, env = "AGENTMUX_SOCKET")]
    socket: Option<PathBuf>,
    /// Also serve on TCP, e.g. 127.0.0.1:7777; every request then needs an API key.
    #[arg(long)]
    listen: Option<String>,
    /// The TOML config file.
    #[arg(long, env = "AGENTMUX_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `agentmux_daemon=debug`.
    #[arg(long, env = "AGENTMUX_LOG", default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentmuxd: {}", e.message);
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> agentmux_shared::Result<()> {
    let paths = Paths::resolve(args.data_dir, args.socket, args.config)?;
    agentmux_daemon::server::secure_data_dir(&paths.data_dir)?;
    prepend_managed_bin(&paths);
    // Logging first: every later refusal to start (a bad config, the data dir's lock held)
    // lands in the log, where a client that auto-started us looks for it.
    let _log_guard = init_logging(&paths, &args.log)?;
    let listen = args.listen;
    let result = serve(paths, listen);
    if let Err(e) = &result {
        tracing::error!(
            "agentmuxd (pid {}) cannot run: {}",
            std::process::id(),
            e.message
        );
    }
    result
}

fn serve(paths: Paths, listen: Option<String>) -> agentmux_shared::Result<()> {
    let config = Config::load(&paths.config_file)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| agentmux_shared::Error::internal(format!("runtime: {e}")))?;
    let result = rt.block_on(async move {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            on_signal.cancel();
        });
        server::run(
            Options {
                paths,
                config,
                listen,
            },
            stop,
        )
        .await
    });
    // Connections still open after the ordered shutdown are dropped, not waited for.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

/// Puts `<data dir>/clis/bin` (where `agentmux providers install` puts CLIs) first on `PATH`,
/// so every spawn (provider adapters, terminal presets) finds installed CLIs the same way the
/// registry does: a configured path, else the managed prefix, else the inherited `PATH`.
fn prepend_managed_bin(paths: &Paths) {
    let bin = paths.clis_bin();
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = vec![bin.clone()];
    dirs.extend(std::env::split_paths(&old).filter(|d| *d != bin));
    match std::env::join_paths(dirs) {
        // SAFETY: called from `run` before the tokio runtime and the log writer thread start:
        // the process has one thread, so nothing can read the environment concurrently.
        Ok(joined) => unsafe { std::env::set_var("PATH", joined) },
        Err(e) => eprintln!("agentmuxd: cannot put {} on PATH: {e}", bin.display()),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the daemon can still be stopped with SIGKILL.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn init_logging(
    paths: &Paths,
    filter: &str,
) -> agentmux_shared::Result<tracing_appender::non_blocking::WorkerGuard> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = paths.log_file();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            agentmux_shared::Error::invalid(format!("cannot write {}: {e}", path.display()))
        })?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let env = |f: &str| {
        tracing_subscriber::EnvFilter::try_new(f)
            .map_err(|e| agentmux_shared::Error::invalid(format!("bad --log filter: {e}")))
    };
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(env(filter)?);
    let stderr_layer = std::io::stderr().is_terminal().then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::EnvFilter::new(filter))
    });
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .init();
    Ok(guard)
}
