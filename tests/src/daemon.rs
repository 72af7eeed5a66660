//! The `Daemon` harness: runs the real `agentmuxd` in a temp dir and hands out clients for it.

use crate::client::{Auth, Grpc, Rest};
use crate::within;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long a daemon may take to answer its first health check.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Path of the `agentmuxd` binary next to this test binary, built once per test run.
///
/// `AGENTMUXD_BIN` overrides it. Unless `AGENTMUX_TESTS_NO_BUILD` is set, `cargo build -p
/// agentmux-daemon` runs first so the tests never exercise a stale daemon.
pub fn daemon_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built("AGENTMUXD_BIN", "agentmux-daemon", "agentmuxd"))
        .clone()
}

/// Path of the `agentmux` client binary (TUI and CLI), like `daemon_bin` (`AGENTMUX_BIN`
/// overrides it).
pub fn client_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built("AGENTMUX_BIN", "agentmux-tui", "agentmux"))
        .clone()
}

fn built(env: &str, package: &str, bin: &str) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/all-HASH -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    let path = profile_dir.join(bin);
    if std::env::var_os("AGENTMUX_TESTS_NO_BUILD").is_none() {
        build(&profile_dir, package, bin);
    }
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

fn build(profile_dir: &Path, package: &str, bin: &str) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace");
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .env("CARGO_TARGET_DIR", target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            panic!("cargo build -p {package} failed ({s}): run `cargo build --workspace` first")
        }
        Err(e) => {
            panic!("cannot run cargo to build {bin} ({e}): run `cargo build --workspace` first")
        }
    }
}

/// What to put in the daemon's config file.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// `base_url` of `[providers.openai]`, normally `FakeOpenAi::base_url()`; `None` leaves the
    /// section to `openai_toml` and the environment.
    pub openai_base_url: Option<String>,
    /// Extra `key = value` lines for `[daemon]`.
    pub daemon_toml: Vec<String>,
    /// Extra `key = value` lines for `[providers.openai]`.
    pub openai_toml: Vec<String>,
    /// Start a TCP listener on 127.0.0.1:0.
    pub tcp: bool,
    /// Environment for the daemon (`OPENAI_*` are otherwise removed).
    pub env: Vec<(String, String)>,
    /// Further config lines appended at the end (e.g. a `[providers.claude]` section).
    pub extra_toml: Vec<String>,
    /// The daemon's open-files limit (soft and hard), when not inherited.
    pub open_files: Option<u64>,
    /// The data dir, when not a fresh one in the daemon's temp dir (e.g. on a small tmpfs).
    pub data_dir: Option<PathBuf>,
}

impl DaemonOptions {
    pub fn fake(base_url: String) -> DaemonOptions {
        DaemonOptions {
            openai_base_url: Some(base_url),
            ..DaemonOptions::default()
        }
    }
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    pub fn daemon(mut self, line: &str) -> Self {
        self.daemon_toml.push(line.to_string());
        self
    }
    pub fn openai(mut self, line: &str) -> Self {
        self.openai_toml.push(line.to_string());
        self
    }
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }
    pub fn open_files(mut self, n: u64) -> Self {
        self.open_files = Some(n);
        self
    }
    /// A line appended to the config file after every other section.
    pub fn toml(mut self, line: &str) -> Self {
        self.extra_toml.push(line.to_string());
        self
    }

    fn config_text(&self) -> String {
        let mut out = String::from("[daemon]\n");
        for line in &self.daemon_toml {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("\n[providers.openai]\n");
        if let Some(url) = &self.openai_base_url {
            let _ = writeln!(out, "base_url = {url:?}");
            let _ = writeln!(out, "api_key = \"fake-key\"");
            let _ = writeln!(out, "model = {:?}", crate::fake_openai::MODEL);
        }
        for line in &self.openai_toml {
            let _ = writeln!(out, "{line}");
        }
        for line in &self.extra_toml {
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

/// A running (or stopped) `agentmuxd` with its own data dir; killed on drop.
pub struct Daemon {
    root: TempDir,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub config_file: PathBuf,
    output_file: PathBuf,
    opts: DaemonOptions,
    child: Option<Child>,
    /// `host:port` of the TCP listener, when one was asked for.
    pub tcp_addr: Option<String>,
}

impl Daemon {
    pub async fn start(opts: DaemonOptions) -> Daemon {
        let root = tempfile::Builder::new()
            .prefix("amx")
            .tempdir()
            .expect("temp dir");
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| root.path().join("data"));
        let socket = root.path().join("d.sock");
        let config_file = root.path().join("config.toml");
        let output_file = root.path().join("output.log");
        std::fs::write(&config_file, opts.config_text()).expect("write config");
        let mut d = Daemon {
            root,
            data_dir,
            socket,
            config_file,
            output_file,
            opts,
            child: None,
            tcp_addr: None,
        };
        d.spawn_and_wait().await;
        d
    }

    /// The daemon's own working directory (a temp dir): where a client with no better place
    /// runs, so that a session made without a directory is never in the tests' checkout.
    pub fn work_dir(&self) -> &Path {
        self.root.path()
    }

    /// A command line for this daemon's data dir, socket and config (for a second instance too).
    pub fn command(&self, socket: &Path) -> Command {
        let mut cmd = Command::new(daemon_bin());
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(socket)
            .arg("--config")
            .arg(&self.config_file);
        if self.opts.tcp {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        // Its own directory, never the checkout the tests run in: a session made without a
        // directory works there, and git calls against it must not reach this repository.
        cmd.current_dir(self.root.path())
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_MODEL")
            .env("XDG_RUNTIME_DIR", self.root.path())
            .stdin(Stdio::null());
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        if let Some(n) = self.opts.open_files {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        cmd
    }

    async fn spawn_and_wait(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.output_file)
            .expect("open daemon output file");
        let err = out.try_clone().expect("clone output file");
        let mut cmd = self.command(&self.socket.clone());
        cmd.stdout(out).stderr(err).kill_on_drop(true);
        let child = cmd.spawn().expect("spawn agentmuxd");
        self.child = Some(child);
        self.wait_ready().await;
        if self.opts.tcp {
            let info = self.rest().get_ok("/v1/info").await;
            let addr = info["tcp_listen"].as_str().unwrap_or_default().to_string();
            assert!(
                !addr.is_empty(),
                "daemon started with --listen but Info.tcp_listen is empty: {info}"
            );
            self.tcp_addr = Some(addr);
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let rest = self.rest();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "agentmuxd exited before it was ready ({status}); output:\n{}",
                    self.output()
                );
            }
            if self.socket.exists()
                && let Ok(Ok(reply)) = tokio::time::timeout(
                    Duration::from_secs(1),
                    rest.try_request(reqwest::Method::GET, "/v1/health", None),
                )
                .await
                && reply.status == 200
            {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "agentmuxd did not answer GET /v1/health on {} within {READY_TIMEOUT:?}; output:\n{}",
                    self.socket.display(),
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the daemon printed on stdout and stderr so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output_file).unwrap_or_default()
    }

    /// The last `n` lines of the daemon's own log files in the data dir.
    pub fn log_tail(&self, n: usize) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.data_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|f| f.to_str())
                            .is_some_and(|f| f.contains(".log"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let text: String = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("daemon is running")
    }

    /// REST over the Unix socket (no key needed).
    pub fn rest(&self) -> Rest {
        Rest::unix(&self.socket)
    }

    /// REST over TCP with the given credentials.
    pub fn tcp_rest(&self, auth: Auth) -> Rest {
        Rest::tcp(
            self.tcp_addr
                .as_deref()
                .expect("daemon has no TCP listener"),
            auth,
        )
    }

    /// gRPC over the Unix socket.
    pub async fn grpc(&self) -> Grpc {
        Grpc::unix(&self.socket, |e| e).await
    }

    /// gRPC over TCP with the given credentials.
    pub async fn tcp_grpc(&self, auth: Auth) -> Grpc {
        Grpc::tcp(
            self.tcp_addr
                .as_deref()
                .expect("daemon has no TCP listener"),
            auth,
        )
        .await
    }

    /// Creates an API key over the Unix socket; returns `(id, secret)`.
    pub async fn create_key(&self, name: &str) -> (String, String) {
        let reply = self
            .rest()
            .post("/v1/keys", serde_json::json!({ "name": name }))
            .await;
        assert_eq!(reply.status, 201, "POST /v1/keys: {}", reply.text());
        let v = reply.json();
        let secret = v["secret"].as_str().unwrap_or_default().to_string();
        assert!(
            secret.starts_with("amx_"),
            "key secret must start with amx_: {v}"
        );
        (
            v["key"]["id"].as_str().unwrap_or_default().to_string(),
            secret,
        )
    }

    /// `GET /v1/info` over the socket.
    pub async fn info(&self) -> Value {
        self.rest().get_ok("/v1/info").await
    }

    pub async fn last_seq(&self) -> u64 {
        self.info().await["last_seq"]
            .as_u64()
            .expect("info.last_seq")
    }

    /// SIGKILL, then reap.
    pub async fn kill9(&mut self) {
        let mut child = self.child.take().expect("daemon is running");
        child.start_kill().expect("SIGKILL agentmuxd");
        within("agentmuxd to die after SIGKILL", child.wait())
            .await
            .expect("wait agentmuxd");
    }

    /// SIGTERM, then wait for a graceful exit (at most 10 s).
    pub async fn sigterm(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("daemon is running");
        let pid = child.id().expect("daemon pid") as libc::pid_t;
        // SAFETY: kill(2) with a pid we spawned and still own (not reaped yet).
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill -TERM {pid}");
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(status) => status.expect("wait agentmuxd"),
            Err(_) => {
                let _ = child.start_kill();
                panic!(
                    "agentmuxd did not exit within 10 s of SIGTERM; output:\n{}",
                    self.output()
                );
            }
        }
    }

    /// Starts the daemon again on the same data dir (after `kill9` or `sigterm`).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the daemon before restarting it");
        self.spawn_and_wait().await;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        if std::thread::panicking() {
            let out = self.output();
            let tail: String = out
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!(
                "---- agentmuxd output ({}), last lines ----\n{tail}\n----",
                self.data_dir.display()
            );
            eprintln!(
                "---- agentmuxd log files, last lines ----\n{}\n----",
                self.log_tail(60)
            );
        }
    }
}
