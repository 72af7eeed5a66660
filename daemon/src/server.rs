//! Start-up and shutdown: the data-dir lock, the store, the listeners, and the order in which
//! things stop so that nothing acknowledged is lost.

use crate::api::{self, Transport};
use crate::log::{EventLog, LogOptions};
use crate::provider::Providers;
use crate::service::{Service, ServiceParams};
use crate::store::Store;
use agentmux_shared::config::{Config, LockRecord, Paths};
use agentmux_shared::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Options {
    pub paths: Paths,
    pub config: Config,
    /// Overrides `config.daemon.listen` when set.
    pub listen: Option<String>,
}

/// Held for the daemon's lifetime: one daemon per data dir.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(paths: &Paths) -> Result<DataDirLock> {
        std::fs::create_dir_all(&paths.data_dir).map_err(|e| {
            Error::invalid(format!("cannot create {}: {e}", paths.data_dir.display()))
        })?;
        let path = paths.lock_file();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
        if file.try_lock().is_err() {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match LockRecord::parse(&text) {
                Some(r) if !r.socket.as_os_str().is_empty() => {
                    format!("pid {}, listening on {}", r.pid, r.socket.display())
                }
                Some(r) => format!("pid {}", r.pid),
                None => "pid unknown".to_string(),
            };
            return Err(Error::precondition(format!(
                "another agentmuxd ({holder}) is running for data dir {}",
                paths.data_dir.display()
            )));
        }
        let record = LockRecord {
            pid: std::process::id(),
            socket: paths.socket.clone(),
        };
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(record.format().as_bytes());
        let _ = file.flush();
        Ok(DataDirLock { _file: file })
    }
}

/// Makes the data dir private: it holds whole transcripts and terminal environments. The dir
/// becomes 0700 and what the daemon wrote in it 0600 (0700 for dirs), fixing older data dirs
/// made with the default umask. Installed CLIs keep their modes: the dir's own mode already
/// keeps other users out, and they must stay executable.
pub fn secure_data_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::invalid(format!("cannot create {}: {e}", dir.display())))?;
    let mode = std::fs::metadata(dir)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", dir.display())))?
        .permissions()
        .mode();
    // Only group and other bits go: a dir made read-only on purpose stays so.
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
            .map_err(|e| Error::invalid(format!("cannot make {} private: {e}", dir.display())))?;
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        if entry.file_name() != "clis" {
            tighten(&entry.path(), 0);
        }
    }
    Ok(())
}

fn tighten(path: &std::path::Path, depth: usize) {
    // symlink_metadata: a link is never followed out of the data dir.
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !(meta.is_dir() || meta.is_file()) {
        return;
    }
    let want = meta.permissions().mode() & 0o700;
    if meta.permissions().mode() & 0o077 != 0
        && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))
    {
        eprintln!("agentmuxd: cannot make {} private: {e}", path.display());
    }
    if meta.is_dir() && depth < 4 {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            tighten(&entry.path(), depth + 1);
        }
    }
}

fn bind_unix(path: &std::path::Path) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    // We hold the data-dir lock, so a socket file left here belongs to a dead daemon.
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| Error::internal(format!("cannot listen on {}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::internal(format!("cannot chmod {}: {e}", path.display())))?;
    Ok(listener)
}

/// SIGHUP re-reads the config (`agentmux daemon reload` sends it), as nginx and sshd do.
fn reload_on_hangup(svc: &Service, stop: &CancellationToken) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())
        .map_err(|e| Error::internal(format!("cannot handle SIGHUP: {e}")))?;
    let (svc, stop) = (svc.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    // A refusal is logged and kept in `info`; the old config stays.
                    let _ = svc.reload_config_file().await;
                }
            }
        }
    });
    Ok(())
}

/// Runs the daemon until `stop` fires, then shuts down in order.
pub async fn run(opts: Options, stop: CancellationToken) -> Result<()> {
    let _lock = DataDirLock::acquire(&opts.paths)?;
    let open_files = crate::os::limits::raise_open_files();
    let store = Store::open_or_rebuild(&opts.paths.store_dir())?;
    let d = &opts.config.daemon;
    let (log, _writer) = EventLog::start(
        store.clone(),
        &opts.paths.data_dir.join("journal"),
        LogOptions {
            subscriber_buffer: d.subscriber_buffer,
            heartbeat: Duration::from_secs(d.heartbeat_secs.clamp(1, 10)),
        },
    )?;
    let providers = Providers::from_config(&opts.config, &opts.paths.clis_bin())?;
    let svc = Service::start(ServiceParams {
        store,
        log: log.clone(),
        config: opts.config.clone(),
        paths: opts.paths.clone(),
        providers,
    })
    .await?;

    reload_on_hangup(&svc, &stop)?;
    let listen = opts
        .listen
        .clone()
        .unwrap_or_else(|| opts.config.daemon.listen.clone());
    let tcp = if listen.is_empty() {
        None
    } else {
        let l = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Error::invalid(format!("cannot listen on {listen}: {e}")))?;
        let addr = l
            .local_addr()
            .map_err(|e| Error::internal(format!("tcp listener: {e}")))?;
        svc.set_tcp_listen(addr.to_string());
        Some(l)
    };
    let unix = bind_unix(&opts.paths.socket)?;

    let accepting = CancellationToken::new();
    let mut servers = tokio::task::JoinSet::new();
    let unix_app = api::router(svc.clone(), Transport::Unix).await?;
    servers.spawn(api::conns::serve(
        unix,
        unix_app,
        api::conns::Limits::trusted(&opts.config.daemon),
        accepting.clone(),
    ));
    if let Some(l) = tcp {
        let tcp_app = api::router(svc.clone(), Transport::Tcp).await?;
        let limits = api::conns::Limits::new(&opts.config.daemon, open_files);
        servers.spawn(api::conns::serve(l, tcp_app, limits, accepting.clone()));
    }
    tracing::info!(
        socket = %opts.paths.socket.display(),
        tcp = %svc.info().map(|i| i.tcp_listen).unwrap_or_default(),
        last_seq = log.durable_seq(),
        "agentmuxd ready"
    );

    stop.cancelled().await;
    tracing::info!("shutting down");
    accepting.cancel();
    svc.shutdown(Duration::from_secs(5)).await;
    log.close_subscriptions();
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after 5 s; closing them");
    }
    if let Err(e) = log.store().flush_blocking() {
        tracing::warn!(error = %e, "store flush at exit failed; the journal will be replayed");
    }
    let _ = std::fs::remove_file(&opts.paths.socket);
    tracing::info!(last_seq = log.durable_seq(), "stopped");
    Ok(())
}
