//! Runs `npm install --global --prefix <dir> <spec>` as a child in its own process group and
//! streams its stdout and stderr line by line (interleaved as they come).

use crate::os::process::{Escalation, GroupChild, Signal};
use agentmux_shared::{Error, Result};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

/// Longest output line kept, in bytes; the rest of the line is dropped.
const MAX_LINE_BYTES: usize = 1000;
/// SIGTERM, then SIGKILL after a grace; then install scripts npm started, which may outlive it.
const STOP: Escalation = Escalation {
    signals: &[Signal::Terminate, Signal::Kill],
    grace: Duration::from_secs(2),
    sweep: true,
};

/// The flags every install runs with: no funding or audit chatter, no update check, install
/// scripts' output shown, no progress spinner.
pub const FLAGS: &[&str] = &[
    "--no-fund",
    "--no-audit",
    "--no-update-notifier",
    "--foreground-scripts",
    "--progress=false",
];

/// Set in npm's environment to the job id, so a later daemon can tell the npm a dead one left
/// behind from an unrelated process that got its pid (npm rewrites its own command line).
pub const JOB_ENV: &str = "AGENTMUX_INSTALL_JOB";

pub struct NpmInstall {
    child: GroupChild,
    /// Output lines; closed once both stdout and stderr are.
    pub lines: mpsc::Receiver<String>,
}

impl NpmInstall {
    /// Starts npm for install job `job`. `prefix` must exist.
    pub fn spawn(npm: &Path, prefix: &Path, spec: &str, job: &str) -> Result<NpmInstall> {
        let mut cmd = Command::new(npm);
        cmd.args(["install", "--global", "--prefix"])
            .arg(prefix)
            .args(FLAGS)
            .arg(spec)
            .env(JOB_ENV, job)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = GroupChild::spawn(&mut cmd)
            .map_err(|e| Error::precondition(format!("cannot run {}: {e}", npm.display())))?;
        if child.group().is_none() {
            return Err(Error::internal("npm exited before its pid was known"));
        }
        let (tx, lines) = mpsc::channel(256);
        if let Some(out) = child.child.stdout.take() {
            tokio::spawn(pump(out, tx.clone()));
        }
        if let Some(err) = child.child.stderr.take() {
            tokio::spawn(pump(err, tx));
        }
        Ok(NpmInstall { child, lines })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid().unsigned_abs()
    }

    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// SIGKILL to npm's process group at once (the daemon is stopping).
    pub fn kill_now(&mut self) {
        self.child.kill_now();
    }

    /// SIGTERM to npm's process group, SIGKILL after a grace period.
    pub async fn stop(&mut self) {
        self.child.stop(STOP).await;
    }
}

/// Splits a stream into lines (on `\n` or `\r`, so progress redraws become lines too), drops
/// empty ones, and sends them until the stream or the receiver ends.
async fn pump(r: impl AsyncRead + Unpin, tx: mpsc::Sender<String>) {
    let mut r = BufReader::new(r);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let mut done = Vec::new();
        let n = match r.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                for &b in buf {
                    if b == b'\n' || b == b'\r' {
                        if !line.is_empty() {
                            done.push(clean(&line));
                            line.clear();
                        }
                    } else if line.len() < MAX_LINE_BYTES {
                        line.push(b);
                    }
                }
                buf.len()
            }
        };
        r.consume(n);
        for l in done.into_iter().filter(|l| !l.is_empty()) {
            if tx.send(l).await.is_err() {
                return;
            }
        }
    }
    let last = clean(&line);
    if !last.is_empty() {
        let _ = tx.send(last).await;
    }
}

fn clean(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// Whether the process `pid` is the npm of install job `job` (its environment says so).
pub fn is_job_npm(pid: u32, job: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("{JOB_ENV}={job}");
    environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
}

/// npm's own error lines (`npm error …`, `npm ERR! …`), without stack frames or the pointer to
/// its debug log.
pub fn error_lines(output: &[String]) -> Vec<String> {
    output
        .iter()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("npm error")
                .or_else(|| l.strip_prefix("npm ERR!"))?;
            let rest = rest.trim();
            let noise = rest.is_empty()
                || rest.starts_with("at ")
                || rest.contains("A complete log of this run")
                || rest.contains("_logs/");
            (!noise).then(|| l.trim().to_string())
        })
        .collect()
}

/// npm failed because it could not reach its registry (connection refused, DNS, timeouts).
pub fn registry_unreachable(error_lines: &[String]) -> bool {
    const CODES: &[&str] = &[
        "ECONNREFUSED",
        "ENOTFOUND",
        "EAI_AGAIN",
        "ETIMEDOUT",
        "ECONNRESET",
        "ENETUNREACH",
        "EHOSTUNREACH",
    ];
    error_lines
        .iter()
        .any(|l| CODES.iter().any(|c| l.contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[tokio::test]
    async fn lines_split_on_newlines_and_carriage_returns() {
        let (tx, mut rx) = mpsc::channel(16);
        let input: &[u8] = b"one\r\ntwo\rthree\n\n  \nlast";
        pump(input, tx).await;
        let mut got = Vec::new();
        while let Some(l) = rx.recv().await {
            got.push(l);
        }
        assert_eq!(got, ["one", "two", "three", "last"]);
    }

    #[tokio::test]
    async fn a_job_npm_is_recognised_by_its_environment() {
        let mut child = tokio::process::Command::new("sleep")
            .arg("30")
            .env(JOB_ENV, "job_test1")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        // Until the child has exec'd, /proc shows the parent's environment.
        let t0 = std::time::Instant::now();
        while !is_job_npm(pid, "job_test1") && t0.elapsed() < std::time::Duration::from_secs(5) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(is_job_npm(pid, "job_test1"));
        assert!(!is_job_npm(pid, "job_test"));
        assert!(!is_job_npm(std::process::id(), "job_test1"));
        child.kill().await.unwrap();
    }

    #[test]
    fn error_lines_keep_npms_own_words() {
        let out: Vec<String> = [
            "some progress",
            "npm error code ECONNREFUSED",
            "npm error syscall connect",
            "npm error     at ClientRequest.emit (node:events:524:28)",
            "npm error",
            "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let said = error_lines(&out);
        assert_eq!(
            said,
            ["npm error code ECONNREFUSED", "npm error syscall connect"]
        );
        assert!(registry_unreachable(&said));
        assert!(!registry_unreachable(&["npm error code E404".to_string()]));
    }
}
