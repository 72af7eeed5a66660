//! A coding-agent CLI's process as the adapters use it: its own process group, stdout as lines
//! (capped), the last lines of stderr for error messages, and stopping it with SIGINT → SIGTERM →
//! SIGKILL on the group (`os::process` sends the signals).

use crate::os::process::{Escalation, GroupChild, Signal};
use agentmux_shared::{Error, Result};
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc;

/// Longest stdout line read as one (a resumed conversation's history can be large).
const MAX_LINE: u64 = 32 * 1024 * 1024;
/// Longest stderr line kept as one.
const MAX_STDERR_LINE: u64 = 16 * 1024;
/// Lines of stderr kept for error messages.
const STDERR_TAIL: usize = 30;
/// Bytes of that tail put in an error message.
const MAX_TAIL_BYTES: usize = 4000;
/// SIGINT, SIGTERM, SIGKILL with a grace between; then whatever else was left in the group (an
/// npm launcher's native binary, its shells).
const STOP: Escalation = Escalation {
    signals: &[Signal::Interrupt, Signal::Terminate, Signal::Kill],
    grace: Duration::from_millis(700),
    sweep: true,
};

pub struct CliProcess {
    pub child: GroupChild,
    /// The group leader's pid (0 when unknown).
    pub pgid: i32,
    stderr: Arc<Mutex<VecDeque<String>>>,
    name: String,
}

impl CliProcess {
    /// Starts `cmd` with piped stdio in a new process group. `name` labels logs and errors;
    /// `hint` says how to get the CLI when it cannot start. Returns its stdin and its stdout
    /// as lines (the channel closes at EOF).
    pub fn spawn(
        cmd: &mut Command,
        name: &str,
        hint: &str,
    ) -> Result<(CliProcess, ChildStdin, mpsc::Receiver<String>)> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = GroupChild::spawn(cmd).map_err(|e| {
            Error::unavailable(format!(
                "cannot start {:?} for the {name} provider: {e} ({hint})",
                cmd.as_std().get_program()
            ))
        })?;
        let pid = child.pid();
        let pipes = &mut child.child;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (pipes.stdin.take(), pipes.stdout.take(), pipes.stderr.take())
        else {
            return Err(Error::internal(format!("{name} pipes are missing")));
        };
        let (tx, lines) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                // A line past the cap is cut there; its pieces read as malformed lines.
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(line).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let t = tail.clone();
        let label = name.to_string();
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                // Capped like stdout: a CLI printing megabytes without a newline must not grow
                // the daemon.
                match (&mut r)
                    .take(MAX_STDERR_LINE)
                    .read_until(b'\n', &mut buf)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                tracing::debug!(pid, "{label} stderr: {line}");
                if let Ok(mut t) = t.lock() {
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        Ok((
            CliProcess {
                child,
                pgid: pid,
                stderr: tail,
                name: name.to_string(),
            },
            stdin,
            lines,
        ))
    }

    pub fn exited(&mut self) -> bool {
        self.child.exited()
    }

    /// The process is gone or going: an error with its exit status and stderr tail.
    pub async fn died(&mut self, what: &str) -> Error {
        let status = tokio::time::timeout(Duration::from_secs(1), self.child.wait())
            .await
            .ok()
            .and_then(|r| r.ok());
        // Let the stderr reader catch up with the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail = match self.stderr.lock() {
            Ok(t) => t.iter().cloned().collect::<Vec<_>>().join("\n"),
            Err(_) => String::new(),
        };
        let status = status
            .map(|s| format!(" ({s})"))
            .unwrap_or_else(|| " (still running)".into());
        let mut msg = format!("{what}{status}");
        let tail = tail.trim();
        if !tail.is_empty() {
            msg.push_str(": ");
            // The end of stderr says why; keep that part.
            let cut = tail.len().saturating_sub(MAX_TAIL_BYTES);
            let start = (cut..=tail.len())
                .find(|&i| tail.is_char_boundary(i))
                .unwrap_or(tail.len());
            msg.push_str(&tail[start..]);
        }
        Error::unavailable(msg)
    }

    /// Stops the process group (`STOP`).
    pub async fn stop(&mut self) {
        self.child.stop(STOP).await;
        tracing::info!(pgid = self.pgid, "stopped {}", self.name);
    }
}
