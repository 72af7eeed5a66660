//! Process-level figures for the real `agentmuxd` binary: cold start to healthy, idle RSS, RSS
//! per idle session, durable create-session latency. Prints figures; asserts nothing.
//! Run through `tests/bench/run.sh`, which builds the release binary first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    if let Ok(b) = std::env::var("AGENTMUXD_BIN") {
        return b.into();
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("agentmuxd")
}

struct Http {
    r: BufReader<UnixStream>,
}

impl Http {
    fn connect(sock: &Path) -> std::io::Result<Http> {
        Ok(Http {
            r: BufReader::new(UnixStream::connect(sock)?),
        })
    }

    fn call(&mut self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.r.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        let status: u16 = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0u8; len];
        self.r.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}

struct Daemon {
    child: Child,
    sock: PathBuf,
}

fn start(dir: &Path) -> (Daemon, Duration) {
    let sock = dir.join("agentmuxd.sock");
    let t = Instant::now();
    let child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .env("AGENTMUX_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn agentmuxd (build it: cargo build --release -p agentmux-daemon)");
    loop {
        if let Ok(mut h) = Http::connect(&sock)
            && let Ok((200, _)) = h.call("GET", "/v1/health", "")
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "daemon did not start"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    (Daemon { child, sock }, t.elapsed())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let base = tempfile::tempdir().unwrap();
    println!("agentmuxd: {}", bin().display());

    let mut starts = Vec::new();
    for i in 0..15 {
        let (d, t) = start(&base.path().join(format!("cold{i}")));
        starts.push(t);
        drop(d);
    }
    let mut sorted = starts.clone();
    println!(
        "cold start to healthy (spawn -> GET /v1/health 200), fresh data dir: median {:.1} ms, min {:.1} ms",
        median(&mut sorted).as_secs_f64() * 1e3,
        sorted[0].as_secs_f64() * 1e3
    );

    let dir = base.path().join("main");
    let (d, _) = start(&dir);
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_kb(d.child.id());
    println!("idle RSS: {:.1} MB", idle as f64 / 1024.0);

    let mut h = Http::connect(&d.sock).unwrap();
    let mut lat = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        let (status, _) = h
            .call("POST", "/v1/sessions", &format!("{{\"title\":\"s{i}\"}}"))
            .unwrap();
        lat.push(t.elapsed());
        assert_eq!(status, 201);
    }
    let mut sorted = lat.clone();
    sorted.sort();
    println!(
        "durable create-session over the socket: median {:.3} ms, p99 {:.3} ms",
        sorted[sorted.len() / 2].as_secs_f64() * 1e3,
        sorted[sorted.len() * 99 / 100].as_secs_f64() * 1e3
    );
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kb(d.child.id());
    println!(
        "RSS with 1,000 idle sessions (just created): {:.1} MB, {:.1} KB per session over idle",
        after as f64 / 1024.0,
        (after.saturating_sub(idle)) as f64 / 1000.0
    );
    drop(h);
    drop(d);
    let (d, _) = start(&dir);
    let mut h = Http::connect(&d.sock).unwrap();
    let (_, body) = h.call("GET", "/v1/sessions?page_size=1000", "").unwrap();
    assert!(body.matches("\"id\"").count() >= 1000);
    std::thread::sleep(Duration::from_millis(300));
    let listed = rss_kb(d.child.id());
    println!(
        "RSS after a restart with 1,000 stored sessions, all listed once: {:.1} MB",
        listed as f64 / 1024.0
    );
}
