//! The service layer: every operation of the daemon, once, for all transports. Imports no
//! tonic, axum, prost or serde_json.

mod approvals;
mod files;
mod keys;
mod live;
mod names;
mod providers;
mod recovery;
mod reload;
mod review;
mod roots;
mod runner;
mod sessions;
mod streams;
mod terminals;
mod watch;
mod workflows;
mod workspaces;

#[cfg(test)]
mod tests;

pub use keys::{Grant, KeyRing};
pub(crate) use live::{SessionHandle, SessionState};
pub use terminals::{AttachParams, Attachment};

use crate::log::{EventLog, NewEvent};
use crate::provider::Providers;
use crate::store::{Op, SCHEMA_VERSION, Store};
use agentmux_shared::Result;
use agentmux_shared::config::{Config, Paths};
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::{Health, Info, StreamItem};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cheap to clone; all state is behind `Arc`.
#[derive(Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

/// The core (log, store, config, shutdown, tasks) and one part per resource, each owning
/// its state and its start-up recovery.
struct Shared {
    log: EventLog,
    store: Store,
    /// Swapped whole by a reload; readers take the `Arc` and let go.
    config: RwLock<Arc<Config>>,
    paths: Paths,
    providers: RwLock<Providers>,
    /// The last reload and the providers it replaced, still finishing turns.
    reloads: reload::Reloads,
    started_at_ms: i64,
    tcp_listen: OnceLock<String>,
    /// Fired at shutdown: running turns end as `interrupted`, timers and watchers stop.
    shutdown: CancellationToken,
    /// Every task the service spawns (turns, installs, approval timers, terminal watchers and
    /// attachments); shutdown waits for them.
    tasks: TaskTracker,
    // The parts.
    sessions: live::Live,
    approvals: approvals::Approvals,
    terminals: terminals::Terminals,
    /// The provider registry and npm install jobs.
    installs: providers::Installs,
    keys: KeyRing,
    names: names::Names,
    streams: streams::Streams,
    roots: RwLock<Arc<roots::Roots>>,
    repo_locks: review::RepoLocks,
    worktree_use: workspaces::DiskUse,
    watches: watch::Watches,
}

pub struct ServiceParams {
    pub store: Store,
    pub log: EventLog,
    pub config: Config,
    pub paths: Paths,
    pub providers: Providers,
}

impl Service {
    /// Builds the service and recovers what a previous run left: turns that were running are
    /// marked interrupted (keeping their partial text).
    pub async fn start(p: ServiceParams) -> Result<Service> {
        let keys = KeyRing::load(&p.store)?;
        let names = names::Names::load(&p.store)?;
        let roots = roots::Roots::new(
            &p.config.daemon.allowed_roots,
            p.store.session_dirs()?.into_iter(),
        );
        let installs = providers::Installs::new(p.paths.clis_bin());
        let svc = Service {
            shared: Arc::new(Shared {
                log: p.log,
                store: p.store,
                config: RwLock::new(Arc::new(p.config)),
                paths: p.paths,
                providers: RwLock::new(p.providers),
                reloads: reload::Reloads::new(now_ms()),
                keys,
                names,
                started_at_ms: now_ms(),
                tcp_listen: OnceLock::new(),
                sessions: live::Live::default(),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                terminals: terminals::Terminals::default(),
                approvals: approvals::Approvals::default(),
                installs,
                streams: streams::Streams::default(),
                roots: RwLock::new(Arc::new(roots)),
                repo_locks: review::RepoLocks::default(),
                worktree_use: workspaces::DiskUse::default(),
                watches: watch::Watches::default(),
            }),
        };
        recovery::recover(&svc).await?;
        approvals::recover(&svc).await?;
        svc.recover_terminals().await?;
        svc.recover_install_jobs().await?;
        svc.reconcile_workspaces().await?;
        svc.watch_worktree_use();
        Ok(svc)
    }

    /// The configuration as of now (a reload swaps it; what a caller holds stays whole).
    pub fn config(&self) -> Arc<Config> {
        match self.shared.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The provider registry as of now.
    pub(crate) fn providers(&self) -> Providers {
        match self.shared.providers.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_tcp_listen(&self, addr: String) {
        let _ = self.shared.tcp_listen.set(addr);
    }

    pub fn keys(&self) -> &KeyRing {
        &self.shared.keys
    }

    /// The configured provider ids.
    pub fn provider_ids(&self) -> Vec<String> {
        self.providers().ids()
    }

    pub fn health(&self) -> Health {
        Health {
            status: "ok".into(),
            last_seq: self.shared.log.durable_seq(),
            providers: self.providers().health(),
        }
    }

    pub fn info(&self) -> Result<Info> {
        let (worktrees, worktrees_bytes, worktrees_measured_at_ms) = self.shared.worktree_use.get();
        Ok(Info {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            data_dir: self.shared.paths.data_dir.display().to_string(),
            socket: self.shared.paths.socket.display().to_string(),
            tcp_listen: self.shared.tcp_listen.get().cloned().unwrap_or_default(),
            last_seq: self.shared.log.durable_seq(),
            started_at_ms: self.shared.started_at_ms,
            schema_version: SCHEMA_VERSION,
            sessions: self.shared.store.session_count()?,
            worktrees,
            worktrees_bytes,
            worktrees_measured_at_ms,
            ..self.shared.reloads.info()
        })
    }

    /// Replay after `after_seq`, then live; see `EventLog::subscribe`.
    pub fn subscribe(&self, after_seq: u64, session: Option<String>) -> mpsc::Receiver<StreamItem> {
        self.shared.log.subscribe(after_seq, session)
    }

    pub fn durable_seq(&self) -> u64 {
        self.shared.log.durable_seq()
    }

    /// Stops running turns (they end `interrupted`), waits for their final writes, and makes
    /// every queued write durable.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.shared.shutdown.cancel();
        self.shutdown_terminals().await;
        self.shared.tasks.close();
        if tokio::time::timeout(grace, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "tasks did not stop in time; turns still running will be recovered as interrupted"
            );
        }
        self.providers().shutdown().await;
        self.shared.reloads.shutdown_retired().await;
        // An empty commit is acknowledged only after everything queued before it is durable.
        if let Err(e) = self.shared.log.commit(Vec::new(), Vec::new()).await {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    async fn commit(&self, ops: Vec<Op>, events: Vec<NewEvent>) -> Result<()> {
        self.shared.log.commit(ops, events).await.map(|_| ())
    }

    fn store(&self) -> &Store {
        &self.shared.store
    }
}
