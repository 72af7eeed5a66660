//! The CLI adapter skeleton: `CliAgent` is what differs per CLI (starting its process and
//! conversation, running a turn on it); `CliProvider` is the one `Provider` over it (the
//! session's slot, the turn guard, replacing a dead process, stopping a broken one).

use super::slots::{CliProc, Slots, TurnGuard};
use crate::clis::lookup;
use crate::provider::{BoxFuture, Provider, ProviderEvent, TurnEnd, TurnRequest};
use agentmux_shared::config::CliConfig;
use agentmux_shared::types::ProviderHealth;
use agentmux_shared::{Error, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// A CLI provider's settings (`[providers.X]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliSettings {
    pub id: String,
    /// The configured command, else the CLI's usual name ("" for an agent with neither).
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub model: String,
    /// How long a turn may go without a word from the CLI.
    pub idle: Duration,
    /// `<data dir>/clis/bin`, where `agentmux providers install` puts CLIs.
    pub managed_bin: PathBuf,
}

impl CliSettings {
    pub fn new(id: &str, default_command: &str, c: &CliConfig, managed_bin: &Path) -> CliSettings {
        let command = match c.command.trim() {
            "" => default_command,
            cmd => cmd,
        };
        CliSettings {
            id: id.to_string(),
            command: command.to_string(),
            args: c.args.clone(),
            env: c.env.clone(),
            model: c.model.clone(),
            idle: Duration::from_secs(c.idle_timeout_secs.max(1)),
            managed_bin: managed_bin.to_path_buf(),
        }
    }

    /// A CLI process's environment on top of the daemon's: the session's client environment,
    /// then the configured `env`, which wins. A client `PATH` keeps the managed bin in front,
    /// as the daemon's own does.
    pub fn env_for(&self, req: &crate::provider::TurnRequest) -> BTreeMap<String, String> {
        let mut env = req.env.clone();
        if let Some(path) = env.get_mut("PATH") {
            let bin = self.managed_bin.display().to_string();
            if !path.split(':').any(|d| d == bin) {
                *path = format!("{bin}:{path}");
            }
        }
        env.extend(self.env.clone());
        env
    }

    /// The CLI's executable, found the one way (`clis::lookup`).
    pub fn executable(&self) -> Option<PathBuf> {
        lookup::find_here(&self.command, Some(&self.managed_bin)).map(|(p, _)| p)
    }

    /// What to start: the executable, else the command as given (so the spawn error names it).
    pub fn program(&self) -> PathBuf {
        self.executable()
            .unwrap_or_else(|| PathBuf::from(&self.command))
    }

    /// Available when the executable is found; otherwise why not and how to get it (`hint`).
    pub fn health(&self, hint: &str) -> ProviderHealth {
        let (available, detail) = match self.executable() {
            Some(p) => (true, p.display().to_string()),
            None if self.command.is_empty() => (false, format!("no command ({hint})")),
            None => (false, format!("{:?} not found ({hint})", self.command)),
        };
        ProviderHealth {
            id: self.id.clone(),
            available,
            detail,
        }
    }
}

/// One turn as an adapter sees it.
pub struct Turn<'a> {
    pub req: &'a TurnRequest,
    /// The last user message: the CLIs keep the conversation themselves.
    pub prompt: &'a str,
    pub out: &'a mpsc::Sender<ProviderEvent>,
    /// The process was started for this turn.
    pub fresh: bool,
}

/// What differs per coding-agent CLI. Interrupting and stopping are the process's
/// (`CliProc`), since a cancelled turn does that in the background after the turn is gone.
pub trait CliAgent: Send + Sync + 'static {
    /// A session's running CLI.
    type Proc: CliProc;
    /// How long an interrupted turn may take to end; shutdown waits that long for a turn
    /// being cancelled to let go of its process.
    const INTERRUPT_GRACE: Duration;

    /// How to get the CLI when it is missing.
    fn install_hint(&self, s: &CliSettings) -> String;

    /// Starts the CLI for the turn's session and opens its conversation, resuming
    /// `req.provider_session_id` when there is one.
    fn start(
        &self,
        s: &CliSettings,
        t: &Turn<'_>,
    ) -> impl Future<Output = Result<Self::Proc>> + Send;

    /// Runs the turn on the session's process. `Err`: the process is broken (it is stopped; the
    /// next turn starts a new one); `Ok(Err)`: the turn failed but the process is fine.
    fn run(
        &self,
        s: &CliSettings,
        p: &mut Self::Proc,
        t: &Turn<'_>,
    ) -> impl Future<Output = Result<Result<TurnEnd>>> + Send;
}

/// A coding-agent CLI as a provider: one process per session, behind a lock that a turn (or its
/// cleanup after a cancel) holds.
pub struct CliProvider<A: CliAgent> {
    settings: CliSettings,
    agent: A,
    slots: Slots<A::Proc>,
}

impl<A: CliAgent> CliProvider<A> {
    pub fn new(settings: CliSettings, agent: A) -> CliProvider<A> {
        CliProvider {
            settings,
            agent,
            slots: Slots::default(),
        }
    }

    async fn turn(&self, req: TurnRequest, out: mpsc::Sender<ProviderEvent>) -> Result<TurnEnd> {
        let prompt = req.prompt()?;
        let id = &self.settings.id;
        let slot = self.slots.get(&req.session_id);
        let mut guard = TurnGuard::lock(&slot).await;
        let result = async {
            let Some(g) = guard.slot.as_mut() else {
                return Err(Error::internal(format!("{id} slot vanished")));
            };
            if let Some(p) = g.as_mut()
                && !p.can_serve(&req)
            {
                tracing::info!(session = %req.session_id, provider = %id, "replacing the {id} process");
                if let Some(old) = g.take() {
                    old.stop().await;
                }
            }
            let t = Turn {
                req: &req,
                prompt: &prompt,
                out: &out,
                fresh: g.is_none(),
            };
            if t.fresh {
                **g = Some(self.agent.start(&self.settings, &t).await?);
            }
            let Some(p) = g.as_mut() else {
                return Err(Error::internal(format!("{id} process vanished")));
            };
            match self.agent.run(&self.settings, p, &t).await {
                Ok(r) => r,
                Err(e) => {
                    // The process is broken (exited, hung, unwritable): stop it; the next turn
                    // resumes the conversation in a new one.
                    if let Some(p) = g.take() {
                        p.stop().await;
                    }
                    Err(e)
                }
            }
        }
        .await;
        guard.done = true;
        result
    }
}

impl<A: CliAgent> Provider for CliProvider<A> {
    fn id(&self) -> &str {
        &self.settings.id
    }

    fn default_model(&self) -> String {
        self.settings.model.clone()
    }

    fn health(&self) -> ProviderHealth {
        let s = &self.settings;
        s.health(&self.agent.install_hint(s))
    }

    fn run_turn<'a>(
        &'a self,
        req: TurnRequest,
        out: mpsc::Sender<ProviderEvent>,
    ) -> BoxFuture<'a, Result<TurnEnd>> {
        Box::pin(self.turn(req, out))
    }

    fn forget_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, ()> {
        self.slots.forget(session_id);
        Box::pin(async {})
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.slots.stop_all(A::INTERRUPT_GRACE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ChatMessage;
    use agentmux_shared::types::Role;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// How the fake's next turn goes.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Answer,
        TurnFails,
        Broken,
        Hang,
    }

    /// What happened to the fake's processes, in order.
    type Log = Arc<Mutex<Vec<String>>>;

    struct Fake {
        log: Log,
        steps: Mutex<VecDeque<Step>>,
        /// What an interrupt reports.
        interrupt_works: bool,
    }

    struct FakeProc {
        n: usize,
        log: Log,
        alive: Arc<AtomicBool>,
        interrupt_works: bool,
    }

    impl CliProc for FakeProc {
        fn can_serve(&mut self, _req: &TurnRequest) -> bool {
            self.alive.load(Ordering::SeqCst)
        }

        async fn interrupt(&mut self) -> bool {
            self.log
                .lock()
                .unwrap()
                .push(format!("interrupt {}", self.n));
            self.interrupt_works
        }

        async fn stop(self) {
            self.log.lock().unwrap().push(format!("stop {}", self.n));
        }
    }

    impl CliAgent for Fake {
        type Proc = FakeProc;
        const INTERRUPT_GRACE: Duration = Duration::from_millis(10);

        fn install_hint(&self, _: &CliSettings) -> String {
            "install fake".into()
        }

        async fn start(&self, _: &CliSettings, _: &Turn<'_>) -> Result<FakeProc> {
            let mut log = self.log.lock().unwrap();
            let n = log.iter().filter(|l| l.starts_with("start")).count() + 1;
            log.push(format!("start {n}"));
            Ok(FakeProc {
                n,
                log: self.log.clone(),
                alive: Arc::new(AtomicBool::new(true)),
                interrupt_works: self.interrupt_works,
            })
        }

        async fn run(
            &self,
            _: &CliSettings,
            p: &mut FakeProc,
            t: &Turn<'_>,
        ) -> Result<Result<TurnEnd>> {
            let step = self.steps.lock().unwrap().pop_front();
            let fresh = if t.fresh { " fresh" } else { "" };
            self.log
                .lock()
                .unwrap()
                .push(format!("run {}{fresh} {step:?}", p.n));
            match step {
                Some(Step::Answer) | None => Ok(Ok(TurnEnd::default())),
                Some(Step::TurnFails) => Ok(Err(Error::unavailable("the turn failed"))),
                Some(Step::Broken) => Err(Error::unavailable("the process broke")),
                Some(Step::Hang) => std::future::pending().await,
            }
        }
    }

    fn provider(steps: &[Step], interrupt_works: bool) -> (CliProvider<Fake>, Log) {
        let log = Log::default();
        let fake = Fake {
            log: log.clone(),
            steps: Mutex::new(steps.iter().copied().collect()),
            interrupt_works,
        };
        let settings = CliSettings::new(
            "fake",
            "fake",
            &CliConfig::default(),
            Path::new("/nonexistent"),
        );
        (CliProvider::new(settings, fake), log)
    }

    fn req() -> TurnRequest {
        TurnRequest {
            session_id: "ses_1".into(),
            history: vec![ChatMessage {
                role: Role::User,
                content: "hi".into(),
            }],
            ..TurnRequest::default()
        }
    }

    async fn turn(p: &CliProvider<Fake>) -> Result<TurnEnd> {
        let (tx, _rx) = mpsc::channel(8);
        p.run_turn(req(), tx).await
    }

    fn taken(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[tokio::test]
    async fn one_process_serves_turns_until_it_breaks() {
        let (p, log) = provider(&[Step::Answer, Step::TurnFails, Step::Broken], true);
        assert!(turn(&p).await.is_ok());
        assert!(turn(&p).await.is_err());
        assert!(turn(&p).await.is_err());
        assert!(turn(&p).await.is_ok());
        assert_eq!(
            taken(&log),
            [
                "start 1",
                "run 1 fresh Some(Answer)",
                "run 1 Some(TurnFails)",
                "run 1 Some(Broken)",
                "stop 1",
                "start 2",
                "run 2 fresh None",
            ]
        );
    }

    #[tokio::test]
    async fn a_process_that_cannot_serve_is_replaced() {
        let (p, log) = provider(&[], true);
        assert!(turn(&p).await.is_ok());
        let slot = p.slots.get("ses_1");
        if let Some(proc) = slot.lock().await.as_ref() {
            proc.alive.store(false, Ordering::SeqCst);
        }
        assert!(turn(&p).await.is_ok());
        assert_eq!(
            taken(&log),
            [
                "start 1",
                "run 1 fresh None",
                "stop 1",
                "start 2",
                "run 2 fresh None"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_turn_interrupts_and_keeps_or_stops_the_process() {
        for works in [true, false] {
            let (p, log) = provider(&[Step::Hang], works);
            let t = tokio::time::timeout(Duration::from_millis(50), turn(&p)).await;
            assert!(t.is_err(), "the hanging turn is cancelled");
            // The guard interrupts in the background; the next turn waits for the slot.
            assert!(turn(&p).await.is_ok());
            let want: &[&str] = if works {
                &[
                    "start 1",
                    "run 1 fresh Some(Hang)",
                    "interrupt 1",
                    "run 1 None",
                ]
            } else {
                &[
                    "start 1",
                    "run 1 fresh Some(Hang)",
                    "interrupt 1",
                    "stop 1",
                    "start 2",
                    "run 2 fresh None",
                ]
            };
            assert_eq!(taken(&log), want, "interrupt works: {works}");
        }
    }

    #[tokio::test]
    async fn shutdown_stops_every_process() {
        let (p, log) = provider(&[], true);
        assert!(turn(&p).await.is_ok());
        p.shutdown().await;
        assert_eq!(taken(&log), ["start 1", "run 1 fresh None", "stop 1"]);
        let h = p.health();
        assert!(!h.available && h.detail.contains("install fake"), "{h:?}");
    }

    #[test]
    fn settings_find_the_executable_the_one_way() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tiny");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let c = CliConfig::default();
        let s = CliSettings::new("tiny", "tiny", &c, dir.path());
        // Not executable yet: missing, and spawning names the command.
        assert_eq!(s.executable(), None);
        assert_eq!(s.program(), PathBuf::from("tiny"));
        let h = s.health("install tiny");
        assert!(!h.available && h.detail.contains("install tiny"), "{h:?}");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(s.executable(), Some(exe.clone()));
        assert_eq!(s.program(), exe);
        assert!(s.health("").available);
        let none = CliSettings::new("x", "", &c, dir.path());
        assert_eq!(
            none.health("set a command").detail,
            "no command (set a command)"
        );
    }
}
