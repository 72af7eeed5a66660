//! The one owner of child processes and signals: spawning a child as the leader of its own
//! process group, signalling a group, stopping one by escalating signals with a grace after
//! each, and naming the signal that ended a program. Nothing else in the daemon calls kill(2).

use std::future::Future;
use std::process::{ExitStatus, Output};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The signals the daemon sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hangup,
    Interrupt,
    Terminate,
    Kill,
}

impl Signal {
    fn raw(self) -> libc::c_int {
        match self {
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// A process group, named by its leader's pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group(libc::pid_t);

impl Group {
    /// The group `pid` leads. Never 0 or 1: kill(2) reads those as "our own group" and "every
    /// process we may signal".
    pub fn of(pid: u32) -> Option<Group> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        (pid > 1).then_some(Group(pid))
    }

    pub fn id(self) -> i32 {
        self.0
    }
}

/// The OS side of signalling, so the escalation can be tested without processes.
pub trait Signals: Send + Sync {
    /// Sends `sig` to every process in `group`; false when none was there.
    fn signal(&self, group: Group, sig: Signal) -> bool;
}

/// kill(2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Os;

impl Signals for Os {
    fn signal(&self, group: Group, sig: Signal) -> bool {
        // SAFETY: kill(2) takes integers and touches no memory of ours; a `Group` is never 0
        // or 1, so it reaches that group only.
        unsafe { libc::kill(-group.0, sig.raw()) == 0 }
    }
}

/// Sends `sig` to `group`; false when no process of it was there.
pub fn signal(group: Group, sig: Signal) -> bool {
    Os.signal(group, sig)
}

/// The process an escalation waits for (the group's leader).
pub trait Waiter: Send {
    /// It has exited already.
    fn exited(&mut self) -> bool;
    /// Resolves once it exits.
    fn wait_exit(&mut self) -> impl Future<Output = ()> + Send;
}

impl Waiter for Child {
    fn exited(&mut self) -> bool {
        !matches!(self.try_wait(), Ok(None))
    }

    async fn wait_exit(&mut self) {
        let _ = self.wait().await;
    }
}

/// How a group is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// Sent in order while the leader is there, each given `grace` to work.
    pub signals: &'static [Signal],
    pub grace: Duration,
    /// SIGKILL the group at the end even when the leader is gone: what it started (an npm
    /// launcher's native binary, install scripts) may outlive it.
    pub sweep: bool,
}

/// Sends the escalation's signals to `group` in turn until `leader` exits; true when it did.
pub async fn escalate<S, W>(os: &S, group: Group, leader: &mut W, e: Escalation) -> bool
where
    S: Signals + ?Sized,
    W: Waiter,
{
    let mut gone = false;
    for &sig in e.signals {
        if leader.exited() {
            gone = true;
            break;
        }
        os.signal(group, sig);
        if tokio::time::timeout(e.grace, leader.wait_exit())
            .await
            .is_ok()
        {
            gone = true;
            break;
        }
    }
    if e.sweep {
        os.signal(group, Signal::Kill);
    }
    gone
}

/// Has the child `cmd` starts killed when the daemon dies (Linux): what it was making is
/// redone by the next start and must not race with that. Elsewhere the child runs on.
pub fn die_with_daemon(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(2) is async-signal-safe and changes only the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// A child started as the leader of its own process group. Dropping it kills the leader (not
/// the group: `stop` or `kill_now` do that).
#[derive(Debug)]
pub struct GroupChild {
    pub child: Child,
    group: Option<Group>,
}

impl GroupChild {
    /// Spawns `cmd` (its stdio as the caller set it) in a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<GroupChild> {
        let child = cmd.process_group(0).kill_on_drop(true).spawn()?;
        let group = child.id().and_then(Group::of);
        Ok(GroupChild { child, group })
    }

    /// `None` when the child was gone before its pid was read.
    pub fn group(&self) -> Option<Group> {
        self.group
    }

    /// The leader's pid, 0 when unknown.
    pub fn pid(&self) -> i32 {
        self.group.map_or(0, Group::id)
    }

    pub fn exited(&mut self) -> bool {
        self.child.exited()
    }

    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Waits for the exit, collecting the piped stdout and stderr.
    pub async fn output(self) -> std::io::Result<Output> {
        self.child.wait_with_output().await
    }

    /// Escalates on the group, then kills the leader itself and reaps it (one more grace).
    pub async fn stop(&mut self, e: Escalation) {
        if let Some(g) = self.group {
            escalate(&Os, g, &mut self.child, e).await;
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(e.grace, self.child.wait()).await;
    }

    /// SIGKILL to the group and the leader at once, without waiting.
    pub fn kill_now(&mut self) {
        if let Some(g) = self.group {
            signal(g, Signal::Kill);
        }
        let _ = self.child.start_kill();
    }
}

/// The usual name ("SIGKILL") of the signal whose `strsignal` text ("Killed") is `description`;
/// the text itself when none matches.
pub fn signal_name(description: &str) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGBUS, "SIGBUS"),
    ];
    for (sig, name) in NAMES {
        // SAFETY: strsignal returns a pointer to a static or thread-local string for any
        // signal number; it is copied out at once.
        let text = unsafe {
            let p = libc::strsignal(*sig);
            if p.is_null() {
                continue;
            }
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        };
        if text == description {
            return (*name).to_string();
        }
    }
    description.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::sync::{Arc, Mutex};
    use tokio::sync::watch;
    use tokio::time::Instant;

    const CLI: Escalation = Escalation {
        signals: &[Signal::Interrupt, Signal::Terminate, Signal::Kill],
        grace: Duration::from_millis(700),
        sweep: true,
    };

    /// A process group that dies on the signals in `fatal` and records what it got, when.
    struct Fake {
        fatal: &'static [Signal],
        start: Instant,
        sent: Mutex<Vec<(Signal, u128)>>,
        dead: watch::Sender<bool>,
    }

    impl Fake {
        fn new(fatal: &'static [Signal]) -> Arc<Fake> {
            Arc::new(Fake {
                fatal,
                start: Instant::now(),
                sent: Mutex::new(Vec::new()),
                dead: watch::Sender::new(false),
            })
        }

        fn sent(&self) -> Vec<(Signal, u128)> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl Signals for Fake {
        fn signal(&self, _group: Group, sig: Signal) -> bool {
            let ms = self.start.elapsed().as_millis();
            self.sent.lock().unwrap().push((sig, ms));
            if self.fatal.contains(&sig) {
                self.dead.send_replace(true);
            }
            true
        }
    }

    struct Leader(watch::Receiver<bool>);

    impl Waiter for Leader {
        fn exited(&mut self) -> bool {
            *self.0.borrow()
        }

        async fn wait_exit(&mut self) {
            let _ = self.0.wait_for(|d| *d).await;
        }
    }

    async fn run(fake: &Arc<Fake>, e: Escalation) -> bool {
        let group = Group::of(4242).unwrap();
        let mut leader = Leader(fake.dead.subscribe());
        escalate(fake.as_ref(), group, &mut leader, e).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_signal_waits_its_grace_and_the_group_is_swept() {
        let fake = Fake::new(&[Signal::Terminate]);
        assert!(run(&fake, CLI).await);
        assert_eq!(
            fake.sent(),
            [
                (Signal::Interrupt, 0),
                (Signal::Terminate, 700),
                (Signal::Kill, 700)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_that_ignores_everything_gets_every_signal() {
        let fake = Fake::new(&[]);
        assert!(!run(&fake, CLI).await);
        assert_eq!(
            fake.sent(),
            [
                (Signal::Interrupt, 0),
                (Signal::Terminate, 700),
                (Signal::Kill, 1400),
                (Signal::Kill, 2100)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_already_gone_gets_only_the_sweep() {
        let fake = Fake::new(&[]);
        fake.dead.send_replace(true);
        assert!(run(&fake, CLI).await);
        assert_eq!(fake.sent(), [(Signal::Kill, 0)]);
        let no_sweep = Escalation {
            sweep: false,
            ..CLI
        };
        let fake = Fake::new(&[]);
        fake.dead.send_replace(true);
        assert!(run(&fake, no_sweep).await);
        assert_eq!(fake.sent(), []);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_sweep_the_first_fatal_signal_is_the_last() {
        let e = Escalation {
            signals: &[Signal::Hangup, Signal::Terminate, Signal::Kill],
            grace: Duration::from_millis(500),
            sweep: false,
        };
        let fake = Fake::new(&[Signal::Hangup]);
        assert!(run(&fake, e).await);
        assert_eq!(fake.sent(), [(Signal::Hangup, 0)]);
    }

    #[test]
    fn groups_are_never_ours_or_everyone() {
        assert_eq!(Group::of(0), None);
        assert_eq!(Group::of(1), None);
        assert_eq!(Group::of(u32::MAX), None);
        assert_eq!(Group::of(77).map(Group::id), Some(77));
    }

    /// Gone, or a zombie nobody reaped yet (a container's init may not).
    fn gone(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z'))
        })
    }

    #[tokio::test]
    async fn stopping_a_real_group_reaches_what_its_leader_started() {
        use tokio::io::AsyncBufReadExt;
        // A background job of a non-interactive shell ignores SIGINT: only the sweep ends it.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        let mut child = GroupChild::spawn(&mut cmd).unwrap();
        let out = child.child.stdout.take().unwrap();
        let mut job = String::new();
        tokio::io::BufReader::new(out)
            .read_line(&mut job)
            .await
            .unwrap();
        let job = job.trim().to_string();
        assert!(!gone(&job));
        child.stop(CLI).await;
        assert!(child.exited());
        let t0 = std::time::Instant::now();
        while !gone(&job) && t0.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone(&job), "the background job outlived the stop");
    }

    #[test]
    fn signals_are_named_by_their_text() {
        // SAFETY: as in `signal_name`.
        let killed = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(libc::SIGKILL)) };
        assert_eq!(signal_name(&killed.to_string_lossy()), "SIGKILL");
        assert_eq!(signal_name("Something else"), "Something else");
    }
}
