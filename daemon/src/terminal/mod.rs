//! Programs in daemon-owned PTYs. The OS boundary lives here: spawning into a PTY, the reader,
//! writer and waiter threads, signals to the process group, and the screen state (a vt100 parser
//! plus scrollback) that lets a client attach to the current screen at once.
//!
//! Only this module touches a PTY. The service layer decides what to persist and announce.

pub mod saved;
mod screen;

pub use screen::Screen;

use crate::os::process::{self, Escalation, Group, Signal, Waiter};
use agentmux_shared::{Error, Result};
use bytes::Bytes;
use portable_pty::{CommandBuilder, MasterPty, PtySize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Stack size of the per-terminal threads: they only shovel bytes.
const THREAD_STACK: usize = 128 * 1024;
/// Largest chunk read from a PTY at once; also the unit of the output broadcast.
const READ_CHUNK: usize = 16 * 1024;
/// Input chunks queued for the writer thread before senders wait.
const INPUT_QUEUE: usize = 256;
/// How long the waiter lets the reader drain output after the child exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// How a terminal's program ended (the attach protocol's own type).
pub use agentmux_shared::types::TerminalExit as ExitStatus;

pub struct SpawnParams {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: String,
    pub rows: u16,
    pub cols: u16,
}

/// A running program: its PTY master, an input queue, and its pid for signals.
pub struct Process {
    master: Mutex<Box<dyn MasterPty + Send>>,
    input: mpsc::Sender<Bytes>,
    pub pid: u32,
    /// `Some` once the program ended and its output was drained.
    pub exited: watch::Receiver<Option<ExitStatus>>,
}

impl Process {
    /// Spawns `p` in a new PTY (its own session and process group). Output goes into `screen`;
    /// when the program ends, `exited` is set after its last output was processed.
    pub fn spawn(p: SpawnParams, screen: Arc<Screen>) -> Result<Process> {
        let pty = portable_pty::native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: p.rows,
                cols: p.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| Error::internal(format!("cannot open a pty: {e}")))?;
        let mut cmd = CommandBuilder::new(&p.command);
        cmd.args(&p.args);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in &p.env {
            cmd.env(k, v);
        }
        cmd.cwd(&p.cwd);
        let mut child = pair.slave.spawn_command(cmd).map_err(|e| {
            // A program that is not there is a missing thing, not a malformed request.
            let text = e.to_string();
            let kind = if text.contains("No viable candidates") || text.contains("No such file") {
                agentmux_shared::ErrorKind::NotFound
            } else {
                agentmux_shared::ErrorKind::InvalidArgument
            };
            Error::new(kind, format!("cannot start {:?}: {e}", p.command))
        })?;
        // The child holds its own copy of the slave; ours would keep the reader from seeing EOF.
        drop(pair.slave);
        let pid = child.process_id().unwrap_or(0);
        let mut reader = pair
            .master
            .try_clone_reader()
            .map_err(|e| Error::internal(format!("pty reader: {e}")))?;
        let mut writer = pair
            .master
            .take_writer()
            .map_err(|e| Error::internal(format!("pty writer: {e}")))?;

        let (drained_tx, drained_rx) = std::sync::mpsc::channel::<()>();
        let generation = screen.open();
        let parse = screen.clone();
        spawn_thread("pty-parser", move || {
            parse.parse_until_closed();
            let _ = drained_tx.send(());
        })?;
        let out = screen.clone();
        spawn_thread("pty-reader", move || {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.feed(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: every slave fd is closed (the program and its children are gone).
                    Err(_) => break,
                }
            }
            out.close(generation);
        })?;

        let (input, mut input_rx) = mpsc::channel::<Bytes>(INPUT_QUEUE);
        spawn_thread("pty-writer", move || {
            while let Some(chunk) = input_rx.blocking_recv() {
                if writer
                    .write_all(&chunk)
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    break;
                }
            }
        })?;

        let (exit_tx, exited) = watch::channel(None);
        spawn_thread("pty-waiter", move || {
            let status = match child.wait() {
                Ok(s) => ExitStatus {
                    code: i32::try_from(s.exit_code()).unwrap_or(i32::MAX),
                    signal: s.signal().map(process::signal_name).unwrap_or_default(),
                    reason: String::new(),
                },
                Err(e) => ExitStatus {
                    code: -1,
                    signal: String::new(),
                    reason: format!("wait failed: {e}"),
                },
            };
            // Let the reader and parser take in what the program wrote last; a background
            // child that still holds the PTY must not hold up the exit forever.
            let _ = drained_rx.recv_timeout(DRAIN_AFTER_EXIT);
            let _ = exit_tx.send(Some(status));
        })?;

        Ok(Process {
            master: Mutex::new(pair.master),
            input,
            pid,
            exited,
        })
    }

    /// Queues input for the program. Never waits: a program that does not read its input
    /// must not hold up the client that types (or its output).
    pub fn write(&self, data: Bytes) -> Result<()> {
        self.input.try_send(data).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::new(
                agentmux_shared::ErrorKind::ResourceExhausted,
                "the program is not reading its input; input dropped",
            ),
            mpsc::error::TrySendError::Closed(_) => {
                Error::precondition("the terminal's program is not running")
            }
        })
    }

    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let m = self
            .master
            .lock()
            .map_err(|_| Error::internal("pty lock poisoned"))?;
        m.resize(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| Error::internal(format!("resize: {e}")))
    }

    pub fn is_running(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Sends `sig` to the program's whole process group.
    pub fn signal(&self, sig: Signal) {
        if !self.is_running() {
            return;
        }
        // The pid leads its own process group (the PTY spawn calls setsid) and is not reaped
        // before `exited` is set.
        if let Some(g) = Group::of(self.pid) {
            process::signal(g, sig);
        }
    }

    /// SIGHUP, then SIGTERM, then SIGKILL, each after `grace` if the program is still there.
    pub async fn kill(&self, grace: Duration) {
        let Some(g) = Group::of(self.pid) else {
            return;
        };
        let e = Escalation {
            signals: &[Signal::Hangup, Signal::Terminate, Signal::Kill],
            grace,
            sweep: false,
        };
        process::escalate(&process::Os, g, &mut Exit(self.exited.clone()), e).await;
    }
}

/// The program's end as the escalation waits for it.
struct Exit(watch::Receiver<Option<ExitStatus>>);

impl Waiter for Exit {
    fn exited(&mut self) -> bool {
        self.0.borrow().is_some()
    }

    async fn wait_exit(&mut self) {
        let _ = self.0.wait_for(|s| s.is_some()).await;
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(THREAD_STACK)
        .spawn(f)
        .map(|_| ())
        .map_err(|e| Error::internal(format!("cannot start a {name} thread: {e}")))
}
