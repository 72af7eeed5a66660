//! Providers: the registry (which CLIs are installed, their versions and credentials, the HTTP
//! providers) and npm install jobs. A job record goes through the event log like every record:
//! each change is a `provider.install` event carrying the whole job plus the output lines since
//! its previous event. One job per provider at a time, one npm at a time (installs share a
//! prefix); at start, a job left running is marked `interrupted`.

use super::Service;
use crate::clis::npm::{self, NpmInstall};
use crate::clis::registry::{self, CliSpec, Registry};
use crate::log::NewEvent;
use crate::os::process::{self, Group, Signal};
use crate::store::{Op, Store};
use agentmux_shared::ids::{new_id, now_ms};
use agentmux_shared::types::{EventPayload, InstallJob, InstallState, ProviderInfo};
use agentmux_shared::{Error, ErrorKind, Result};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A generous bound on one install (the biggest CLIs download ~200 MB).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How long npm may take to exit after closing its output.
const EXIT_GRACE: Duration = Duration::from_secs(30);
/// Output is coalesced into one event at most this often…
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// …or when this many lines wait.
const BATCH_LINES: usize = 20;
/// Output events per job; later lines only reach the job's `output_tail`.
const MAX_LINE_EVENTS: u32 = 200;
/// Output lines kept in the job record.
const TAIL_LINES: usize = 40;
/// Finished jobs kept across restarts.
const KEEP_JOBS: usize = 100;
const NPM_MISSING: &str = "npm not found on PATH: install Node.js and npm (e.g. `apt-get install \
                           nodejs npm`, or from https://nodejs.org) where agentmuxd can find it, \
                           then retry";
const INTERRUPTED: &str = "the daemon stopped during the install";

/// The registry and the install jobs that run now.
pub(crate) struct Installs {
    registry: Registry,
    // std Mutex: held to check and claim a provider, never across an await.
    /// Provider id → the id of its queued or running job.
    active: Mutex<HashMap<String, String>>,
    npm: tokio::sync::Semaphore,
}

impl Installs {
    pub fn new(managed_bin: PathBuf) -> Installs {
        Installs {
            registry: Registry::new(managed_bin),
            active: Mutex::new(HashMap::new()),
            npm: tokio::sync::Semaphore::new(1),
        }
    }
}

/// A provider's claim on installing; dropping it lets the next install of it start.
struct Claim {
    svc: Service,
    provider: String,
    job: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut active = match self.svc.shared.installs.active.lock() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        if active.get(&self.provider) == Some(&self.job) {
            active.remove(&self.provider);
        }
    }
}

/// A job's output: the tail kept in its record and the lines not yet sent as an event.
#[derive(Default)]
struct Output {
    tail: VecDeque<String>,
    pending: Vec<String>,
    events: u32,
    unsent: u64,
    total: u64,
}

impl Output {
    fn push(&mut self, line: String) {
        self.total += 1;
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        if self.events < MAX_LINE_EVENTS {
            self.pending.push(line);
        } else {
            self.unsent += 1;
        }
    }

    /// The lines for the job's last event, with a note when some were never sent.
    fn last_lines(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.pending);
        if self.unsent > 0 {
            lines.push(format!(
                "[agentmux] {} more output lines were not sent as events; the job's output_tail \
                 has the last {TAIL_LINES}",
                self.unsent
            ));
        }
        lines
    }
}

enum End {
    Closed,
    TimedOut,
    Shutdown,
}

impl Service {
    fn installs(&self) -> &Installs {
        &self.shared.installs
    }

    /// Every provider: CLIs (installed or not, version, credentials) and HTTP endpoints.
    pub async fn list_providers(&self) -> Result<Vec<ProviderInfo>> {
        let health = self.providers().health();
        Ok(self
            .installs()
            .registry
            .list(&self.config().providers, &health, None)
            .await)
    }

    pub async fn get_provider(&self, id: &str) -> Result<ProviderInfo> {
        let id = id.trim();
        let health = self.providers().health();
        self.installs()
            .registry
            .list(&self.config().providers, &health, Some(id))
            .await
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("provider", id))
    }

    /// Install jobs, oldest first.
    pub fn list_install_jobs(&self) -> Result<Vec<InstallJob>> {
        self.store().install_jobs()
    }

    pub fn get_install_job(&self, id: &str) -> Result<InstallJob> {
        let id = id.trim();
        self.store()
            .install_job(id)?
            .ok_or_else(|| Error::not_found("install job", id))
    }

    /// Starts installing a provider CLI with npm into the managed prefix and returns the job at
    /// once (already `failed` when npm is missing). A provider with a job queued or running is
    /// `AlreadyExists`.
    pub async fn install_provider(&self, id: &str, version: &str) -> Result<InstallJob> {
        let id = id.trim();
        let cfg = self.config();
        let config = &cfg.providers;
        let Some(spec) = registry::cli_spec(config, id) else {
            if registry::is_http(config, id) {
                return Err(Error::precondition(format!(
                    "{id} is an HTTP provider: there is nothing to install"
                )));
            }
            return Err(Error::not_found("provider", id));
        };
        let package = registry::install_spec(&spec, version)?;
        let prefix = self.shared.paths.clis_dir();
        let mut job = InstallJob {
            id: new_id("job"),
            provider: spec.id.clone(),
            package,
            state: InstallState::Queued,
            created_at_ms: now_ms(),
            exit_code: -1,
            prefix: prefix.display().to_string(),
            ..InstallJob::default()
        };
        let claim = self.claim(&spec.id, &job.id)?;
        let Some(npm_path) = registry::find_on_path("npm") else {
            job.state = InstallState::Failed;
            job.error = NPM_MISSING.into();
            job.finished_at_ms = now_ms();
            drop(claim);
            self.save_job(&job, Vec::new()).await?;
            return Ok(job);
        };
        self.save_job(&job, Vec::new()).await?;
        tracing::info!(job = %job.id, provider = %job.provider, package = %job.package, "install queued");
        let svc = self.clone();
        let queued = job.clone();
        self.shared.tasks.spawn(async move {
            svc.run_install(queued, npm_path, spec, claim).await;
        });
        Ok(job)
    }

    fn claim(&self, provider: &str, job: &str) -> Result<Claim> {
        let mut active = self
            .installs()
            .active
            .lock()
            .map_err(|_| Error::internal("install map poisoned"))?;
        if let Some(running) = active.get(provider) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("an install of {provider} is already running ({running})"),
            ));
        }
        active.insert(provider.to_string(), job.to_string());
        Ok(Claim {
            svc: self.clone(),
            provider: provider.to_string(),
            job: job.to_string(),
        })
    }

    async fn save_job(&self, job: &InstallJob, lines: Vec<String>) -> Result<()> {
        self.commit(
            vec![Store::put_install_job(job)],
            vec![NewEvent::new(
                "",
                EventPayload::ProviderInstall {
                    job: job.clone(),
                    lines,
                },
            )],
        )
        .await
    }

    /// Sends the output lines waiting, with the job as it is now.
    async fn flush(&self, job: &mut InstallJob, out: &mut Output) {
        if out.pending.is_empty() {
            return;
        }
        job.output_tail = out.tail.iter().cloned().collect();
        job.output_lines = out.total;
        out.events += 1;
        let lines = std::mem::take(&mut out.pending);
        if let Err(e) = self.save_job(job, lines).await {
            tracing::warn!(error = %e, job = %job.id, "cannot record install output");
        }
    }

    /// Ends a job: its final record and event. The claim goes first, so a client that sees
    /// the final event may install again at once.
    async fn finish(&self, mut job: InstallJob, mut out: Output, claim: Claim) {
        job.finished_at_ms = now_ms();
        job.pid = 0;
        job.output_tail = out.tail.iter().cloned().collect();
        job.output_lines = out.total;
        let lines = out.last_lines();
        drop(claim);
        tracing::info!(job = %job.id, state = job.state.as_str(), error = %job.error, "install finished");
        if let Err(e) = self.save_job(&job, lines).await {
            tracing::error!(error = %e, job = %job.id, "cannot record the end of an install");
        }
    }

    async fn run_install(
        &self,
        mut job: InstallJob,
        npm_path: PathBuf,
        spec: CliSpec,
        claim: Claim,
    ) {
        let mut out = Output::default();
        let shutdown = self.shared.shutdown.clone();
        let _permit = tokio::select! {
            p = self.installs().npm.acquire() => match p {
                Ok(p) => p,
                Err(_) => {
                    job.state = InstallState::Failed;
                    job.error = "the install queue is closed".into();
                    return self.finish(job, out, claim).await;
                }
            },
            _ = shutdown.cancelled() => {
                job.state = InstallState::Interrupted;
                job.error = "the daemon stopped before the install started".into();
                return self.finish(job, out, claim).await;
            }
        };
        job.state = InstallState::Running;
        job.started_at_ms = now_ms();
        let prefix = PathBuf::from(&job.prefix);
        let spawned = match tokio::fs::create_dir_all(&prefix).await {
            Ok(()) => NpmInstall::spawn(&npm_path, &prefix, &job.package, &job.id),
            Err(e) => Err(Error::internal(format!(
                "cannot create {}: {e}",
                prefix.display()
            ))),
        };
        let mut run = match spawned {
            Ok(r) => r,
            Err(e) => {
                job.state = InstallState::Failed;
                job.error = e.message;
                return self.finish(job, out, claim).await;
            }
        };
        job.pid = run.pid();
        if let Err(e) = self.save_job(&job, Vec::new()).await {
            tracing::warn!(error = %e, job = %job.id, "cannot record a running install");
        }
        let deadline = tokio::time::sleep(INSTALL_TIMEOUT);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                line = run.lines.recv() => match line {
                    Some(l) => {
                        out.push(l);
                        if out.pending.len() >= BATCH_LINES {
                            self.flush(&mut job, &mut out).await;
                        }
                    }
                    None => break End::Closed,
                },
                _ = tick.tick() => self.flush(&mut job, &mut out).await,
                _ = &mut deadline => break End::TimedOut,
                _ = shutdown.cancelled() => break End::Shutdown,
            }
        };
        match end {
            End::Shutdown => {
                run.kill_now();
                job.state = InstallState::Interrupted;
                job.error = INTERRUPTED.into();
            }
            End::TimedOut => {
                run.stop().await;
                job.state = InstallState::Failed;
                job.error = format!(
                    "npm install {} timed out after {} min",
                    job.package,
                    INSTALL_TIMEOUT.as_secs() / 60
                );
            }
            End::Closed => {
                let exited = tokio::time::timeout(EXIT_GRACE, run.wait()).await;
                match exited {
                    Ok(Ok(status)) => {
                        self.judge(&mut job, &spec, status, &out).await;
                    }
                    Ok(Err(e)) => {
                        job.state = InstallState::Failed;
                        job.error = format!("cannot wait for npm: {e}");
                    }
                    Err(_) => {
                        run.stop().await;
                        job.state = InstallState::Failed;
                        job.error = format!(
                            "npm closed its output but did not exit within {} s",
                            EXIT_GRACE.as_secs()
                        );
                    }
                }
            }
        }
        self.finish(job, out, claim).await;
    }

    /// Sets the outcome from npm's exit status: success needs the CLI's executable in the
    /// managed bin dir (and then records its version).
    async fn judge(
        &self,
        job: &mut InstallJob,
        spec: &CliSpec,
        status: std::process::ExitStatus,
        out: &Output,
    ) {
        use std::os::unix::process::ExitStatusExt;
        job.exit_code = status.code().unwrap_or(-1);
        if !status.success() {
            let tail: Vec<String> = out.tail.iter().cloned().collect();
            let mut said = npm::error_lines(&tail);
            let unreachable = npm::registry_unreachable(&said);
            if said.is_empty() {
                said = tail.iter().rev().take(3).rev().cloned().collect();
            }
            said.truncate(8);
            let how = match (status.code(), status.signal()) {
                (Some(c), _) => format!("exit {c}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                (None, None) => "no exit status".into(),
            };
            let why = if unreachable {
                "cannot reach the npm registry (check the network, proxy or npm_config_registry): "
            } else {
                ""
            };
            job.state = InstallState::Failed;
            job.error = format!(
                "npm install {} failed ({how}): {why}{}",
                job.package,
                said.join("; ")
            );
            return;
        }
        let managed = self.installs().registry.managed_bin().to_path_buf();
        match registry::resolve(&spec.bin, &managed, None) {
            Some((path, _)) => {
                match self.installs().registry.version(&path, &spec.env).await {
                    Ok(v) => job.version = v,
                    Err(e) => {
                        tracing::warn!(error = %e, job = %job.id, "installed CLI has no version")
                    }
                }
                job.path = path.display().to_string();
                job.state = InstallState::Succeeded;
            }
            None => {
                job.state = InstallState::Failed;
                job.error = format!(
                    "npm installed {} but it put no `{}` in {}: the package's bin must name it",
                    job.package,
                    spec.bin,
                    managed.display()
                );
            }
        }
    }

    /// Marks jobs the previous run left queued or running as interrupted (stopping an npm it
    /// left behind) and forgets the oldest finished ones.
    pub(super) async fn recover_install_jobs(&self) -> Result<()> {
        let jobs = self.store().install_jobs()?;
        let mut ops = Vec::new();
        let mut events = Vec::new();
        for mut j in jobs.iter().filter(|j| !j.state.is_final()).cloned() {
            if j.pid != 0 {
                kill_orphan(j.pid, &j.id);
            }
            j.state = InstallState::Interrupted;
            j.error = INTERRUPTED.into();
            j.finished_at_ms = now_ms();
            j.pid = 0;
            ops.push(Store::put_install_job(&j));
            events.push(NewEvent::new(
                "",
                EventPayload::ProviderInstall {
                    job: j,
                    lines: Vec::new(),
                },
            ));
        }
        let finished: Vec<&InstallJob> = jobs.iter().filter(|j| j.state.is_final()).collect();
        let excess = finished.len().saturating_sub(KEEP_JOBS);
        for j in &finished[..excess] {
            ops.push(Op::Del(Store::install_job_key(&j.id)));
        }
        if !ops.is_empty() {
            self.commit(ops, events).await?;
        }
        Ok(())
    }
}

/// Kills the process group of the npm a previous run started for `job`, if that pid is still
/// it (a pid can be reused).
fn kill_orphan(pid: u32, job: &str) {
    let Ok(pgid) = i32::try_from(pid) else {
        return;
    };
    if pgid > 1 && npm::is_job_npm(pid, job) {
        tracing::info!(pid, job, "stopping an npm install left by the previous run");
        // Its leader is the npm of this job (started by a previous run as a group leader).
        if let Some(g) = Group::of(pid) {
            process::signal(g, Signal::Kill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_bounded() {
        let mut out = Output::default();
        for i in 0..(TAIL_LINES + 5) {
            out.push(format!("l{i}"));
        }
        assert_eq!(out.tail.len(), TAIL_LINES);
        assert_eq!(out.tail.front().map(String::as_str), Some("l5"));
        assert_eq!(out.pending.len(), TAIL_LINES + 5);
        out.pending.clear();
        out.events = MAX_LINE_EVENTS;
        out.push("late".into());
        assert!(out.pending.is_empty());
        let last = out.last_lines();
        assert_eq!(last.len(), 1);
        assert!(last[0].contains("1 more output lines"), "{last:?}");
    }

    #[test]
    fn orphans_are_only_killed_when_they_are_ours() {
        // Our own pid is not a job's npm: nothing happens (we are still here).
        kill_orphan(std::process::id(), "job_x");
        kill_orphan(u32::MAX, "job_x");
    }
}
