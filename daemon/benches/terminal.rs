//! Terminal figures, agentmux beside tmux and a bare PTY in the same run: `cat` throughput to
//! one attached client, keystroke echo latency, attach latency with 10,000 lines of scrollback,
//! daemon RSS per idle terminal. Prints figures; asserts nothing.
//! Run through `tests/bench/run.sh` (release build of agentmuxd and agentmux first).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)] // a benchmark: failing loudly is right; Drop reaps the daemon

use agentmux_proto::v1 as pb;
use hyper_util::rt::TokioIo;
use pb::attach_request::Msg as Req;
use pb::attach_response::Msg as Resp;
use portable_pty::{CommandBuilder, PtySize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint, Uri};

const MB50: usize = 50 * 1024 * 1024;

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Daemon {
    child: Child,
    sock: PathBuf,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

async fn start_daemon(dir: &Path) -> (Daemon, Channel) {
    let sock = dir.join("agentmuxd.sock");
    let child = Command::new(target_dir().join("agentmuxd"))
        .arg("--data-dir")
        .arg(dir)
        .env("AGENTMUX_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agentmuxd (cargo build --release -p agentmux-daemon)");
    let t = Instant::now();
    loop {
        if sock.exists() {
            let path = sock.clone();
            let ch = Endpoint::from_static("http://agentmux.local")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?))
                    }
                }))
                .await;
            if let Ok(ch) = ch {
                return (
                    Daemon {
                        child,
                        sock,
                        dir: dir.to_path_buf(),
                    },
                    ch,
                );
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "daemon did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn terms(ch: &Channel) -> pb::terminal_service_client::TerminalServiceClient<Channel> {
    pb::terminal_service_client::TerminalServiceClient::new(ch.clone())
}

async fn new_term(ch: &Channel, name: &str, cmd: &str, args: &[&str], rows: u32, cols: u32) {
    let mut env = std::collections::HashMap::new();
    env.insert("PS1".into(), "$ ".into());
    terms(ch)
        .create_terminal(pb::CreateTerminalRequest {
            name: name.into(),
            command: cmd.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env,
            rows,
            cols,
            ..Default::default()
        })
        .await
        .unwrap();
}

struct Attach {
    tx: mpsc::Sender<pb::AttachRequest>,
    rx: tonic::Streaming<pb::AttachResponse>,
}

impl Attach {
    async fn new(ch: &Channel, id: &str, rows: u32, cols: u32) -> Attach {
        let (tx, req) = mpsc::channel(64);
        tx.send(pb::AttachRequest {
            msg: Some(Req::Start(pb::AttachStart {
                terminal_id: id.into(),
                rows,
                cols,
                ..Default::default()
            })),
        })
        .await
        .unwrap();
        let rx = terms(ch)
            .attach(ReceiverStream::new(req))
            .await
            .unwrap()
            .into_inner();
        Attach { tx, rx }
    }

    async fn input(&self, s: &[u8]) {
        self.tx
            .send(pb::AttachRequest {
                msg: Some(Req::Input(s.to_vec())),
            })
            .await
            .unwrap();
    }

    /// Reads until `needle` shows up in the stream (snapshots included); returns bytes seen.
    async fn until(&mut self, needle: &[u8]) -> usize {
        let mut tail: Vec<u8> = Vec::new();
        let mut total = 0;
        loop {
            let m = self.rx.message().await.unwrap().expect("attach ended");
            let bytes = match m.msg {
                Some(Resp::Output(b)) => b,
                Some(Resp::Snapshot(s)) => s.screen,
                _ => continue,
            };
            total += bytes.len();
            tail.extend_from_slice(&bytes);
            if tail.windows(needle.len()).any(|w| w == needle) {
                return total;
            }
            let keep = tail.len().saturating_sub(needle.len());
            tail.drain(..keep);
        }
    }
}

/// A program in a PTY of our own, its output drained by a thread into a channel.
struct Pty {
    writer: Box<dyn Write + Send>,
    out: std::sync::mpsc::Receiver<Vec<u8>>,
    _child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(cmd: &str, args: &[&str], rows: u16, cols: u16, env: &[(&str, &str)]) -> Pty {
        let pair = portable_pty::native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut c = CommandBuilder::new(cmd);
        c.args(args);
        c.env("TERM", "xterm-256color");
        for (k, v) in env {
            c.env(k, v);
        }
        let child = pair.slave.spawn_command(c).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, out) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            writer,
            out,
            _child: child,
            _master: pair.master,
        }
    }

    fn until(&self, needle: &[u8], timeout: Duration) -> bool {
        let t = Instant::now();
        let mut tail = Vec::new();
        while t.elapsed() < timeout {
            match self.out.recv_timeout(Duration::from_millis(50)) {
                Ok(b) => {
                    tail.extend_from_slice(&b);
                    if tail.windows(needle.len()).any(|w| w == needle) {
                        return true;
                    }
                    let keep = tail.len().saturating_sub(needle.len());
                    tail.drain(..keep);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => return false,
            }
        }
        false
    }

    fn drain(&self) {
        while self.out.try_recv().is_ok() {}
    }
}

fn tmux(sock: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-S")
        .arg(sock)
        .args(args)
        .output()
        .expect("tmux")
}

fn make_file(dir: &Path) -> PathBuf {
    let path = dir.join("50mb.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut n = 0usize;
    let mut i = 0u64;
    while n < MB50 {
        let line = format!("{i:>10} the quick brown fox jumps over the lazy dog\n");
        n += line.len();
        f.write_all(line.as_bytes()).unwrap();
        i += 1;
    }
    f.flush().unwrap();
    path
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = tempfile::tempdir().unwrap();
    let file = make_file(base.path());
    let file_s = file.display().to_string();
    let size_mb = std::fs::metadata(&file).unwrap().len() as f64 / (1024.0 * 1024.0);
    let cat_cmd = format!("cat {file_s}; echo END-$((40+2))\r");

    // Bare PTY: cat straight into a PTY we drain ourselves.
    let t = Instant::now();
    let bare = Pty::spawn(
        "sh",
        &["-c", &format!("cat {file_s}; echo END-42")],
        50,
        200,
        &[],
    );
    assert!(bare.until(b"END-42", Duration::from_secs(120)));
    let bare_mbs = size_mb / t.elapsed().as_secs_f64();

    // agentmux: bash in a daemon terminal, one attached gRPC client reading everything.
    let (d, ch) = start_daemon(&base.path().join("d")).await;
    new_term(&ch, "sh", "bash", &["--norc", "--noprofile", "-i"], 50, 200).await;
    let mut a = Attach::new(&ch, "sh", 50, 200).await;
    a.until(b"$ ").await;
    let t = Instant::now();
    a.input(cat_cmd.as_bytes()).await;
    a.until(b"END-42").await;
    let amx_mbs = size_mb / t.elapsed().as_secs_f64();

    // tmux: bash in a pane, a tmux client attached in a PTY of ours.
    let tsock = base.path().join("tmux.sock").display().to_string();
    tmux(
        &tsock,
        &[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "b",
            "-x",
            "200",
            "-y",
            "50",
            "env PS1='$ ' bash --norc --noprofile -i",
        ],
    );
    let mut client = Pty::spawn("tmux", &["-S", &tsock, "attach", "-t", "b"], 50, 200, &[]);
    std::thread::sleep(Duration::from_millis(500));
    client.drain();
    let t = Instant::now();
    tmux(
        &tsock,
        &[
            "send-keys",
            "-t",
            "b",
            &format!("cat {file_s}; echo END-$((40+2))"),
            "Enter",
        ],
    );
    assert!(
        client.until(b"END-42", Duration::from_secs(300)),
        "tmux never showed END"
    );
    let tmux_mbs = size_mb / t.elapsed().as_secs_f64();
    println!(
        "cat {size_mb:.0} MB to one attached client: agentmux {amx_mbs:.1} MB/s, tmux {tmux_mbs:.1} MB/s ({:.1}x tmux), bare PTY {bare_mbs:.1} MB/s (agentmux at {:.0}% of bare)",
        amx_mbs / tmux_mbs,
        100.0 * amx_mbs / bare_mbs
    );

    // Keystroke echo: one byte in, until it comes back (tty echo of `cat`).
    new_term(&ch, "echo", "cat", &[], 24, 80).await;
    let mut e = Attach::new(&ch, "echo", 24, 80).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut lat = Vec::new();
    for i in 0..400 {
        let c = [b'a' + (i % 26) as u8];
        let t = Instant::now();
        e.input(&c).await;
        e.until(&c).await;
        lat.push(t.elapsed());
        if i % 60 == 59 {
            e.input(b"\r").await;
        }
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    tmux(&tsock, &["new-window", "-t", "b:", "cat"]);
    std::thread::sleep(Duration::from_millis(300));
    client.drain();
    let mut tl = Vec::new();
    for i in 0..400 {
        let c = [b'a' + (i % 26) as u8];
        let t = Instant::now();
        client.writer.write_all(&c).unwrap();
        client.writer.flush().unwrap();
        if client.until(&c, Duration::from_secs(5)) {
            tl.push(t.elapsed());
        }
        if i % 60 == 59 {
            client.writer.write_all(b"\r").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            client.drain();
        }
    }
    println!(
        "keystroke echo: agentmux p50 {:.3} ms p99 {:.3} ms; tmux p50 {:.3} ms p99 {:.3} ms",
        ms(p50),
        ms(p99),
        ms(pct(&mut tl, 0.5)),
        ms(pct(&mut tl, 0.99))
    );

    // Attach latency with 10,000 lines of scrollback: spawn of the attach client to the first
    // full screen (the last line drawn).
    new_term(
        &ch,
        "hist",
        "bash",
        &["--norc", "--noprofile", "-i"],
        50,
        200,
    )
    .await;
    let h = Attach::new(&ch, "hist", 50, 200).await;
    h.input(b"seq 1 12000; echo LAST-$((1+1))\r").await;
    let mut h = h;
    h.until(b"LAST-2").await;
    drop(h);
    // A server of its own, so nothing left from the runs above is on screen.
    let hsock = base.path().join("tmux-hist.sock").display().to_string();
    tmux(
        &hsock,
        &[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "h",
            "-x",
            "200",
            "-y",
            "50",
            "env PS1='$ ' bash --norc --noprofile -i",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    tmux(
        &hsock,
        &[
            "send-keys",
            "-t",
            "h",
            "seq 1 12000; echo LAST-$((1+1))",
            "Enter",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    drop(client);
    let amx_bin = target_dir().join("agentmux");
    let mut amx_attach = Vec::new();
    let mut tmux_attach = Vec::new();
    for _ in 0..10 {
        if amx_bin.exists() {
            let t = Instant::now();
            let p = Pty::spawn(
                amx_bin.to_str().unwrap(),
                &["--socket", d.sock.to_str().unwrap(), "attach", "hist"],
                50,
                200,
                &[],
            );
            if p.until(b"LAST-2", Duration::from_secs(10)) {
                amx_attach.push(t.elapsed());
            }
        }
        let t = Instant::now();
        let p = Pty::spawn("tmux", &["-S", &hsock, "attach", "-t", "h"], 50, 200, &[]);
        if p.until(b"LAST-2", Duration::from_secs(10)) {
            tmux_attach.push(t.elapsed());
        }
    }
    if amx_attach.is_empty() || tmux_attach.is_empty() {
        println!(
            "attach latency: no figure (agentmux runs {}, tmux runs {}; is target/release/agentmux built?)",
            amx_attach.len(),
            tmux_attach.len()
        );
    } else {
        println!(
            "attach latency, 10,000+ lines of scrollback, spawn to first full screen: agentmux median {:.1} ms, tmux median {:.1} ms",
            ms(median(&mut amx_attach)),
            ms(median(&mut tmux_attach))
        );
    }

    // Daemon memory per idle terminal (the programs themselves are not counted).
    let before = rss_kb(d.child.id());
    for i in 0..50 {
        new_term(
            &ch,
            &format!("idle{i}"),
            "bash",
            &["--norc", "--noprofile", "-i"],
            24,
            80,
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = rss_kb(d.child.id());
    println!(
        "daemon RSS per idle terminal (24x80 bash at its prompt): {:.0} KB ({} KB over 50)",
        (after.saturating_sub(before)) as f64 / 50.0,
        after.saturating_sub(before)
    );
    tmux(&tsock, &["kill-server"]);
    tmux(&hsock, &["kill-server"]);
    let _ = d.dir.as_path();
}
