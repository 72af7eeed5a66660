//! The TOML config file and the directories agentmux uses, each overridable by flag.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub providers: ProvidersConfig,
    pub terminal: TerminalConfig,
    pub sessions: SessionsConfig,
}

/// `[sessions]`: how new sessions are set up.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// `worktree`: a session made in a git repository gets its own worktree and branch unless
    /// it asks otherwise; `none` (default): it works in its directory as given.
    pub workspace: String,
    /// Where worktrees are made; empty: `<data dir>/worktrees`.
    pub worktree_root: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalConfig {
    /// Lines of scrollback kept per terminal.
    pub scrollback_lines: usize,
    /// Seconds between SIGHUP, SIGTERM and SIGKILL when a terminal is killed.
    pub kill_grace_secs: u64,
    /// Extra or overriding presets by name (`claude`, `codex`, … are built in).
    pub presets: BTreeMap<String, PresetConfig>,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        TerminalConfig {
            scrollback_lines: 10_000,
            kill_grace_secs: 2,
            presets: BTreeMap::new(),
        }
    }
}

/// How to start a provider CLI's own TUI in a terminal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresetConfig {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Arguments that resume a CLI session; `{id}` is replaced by the stored session id.
    pub resume_args: Vec<String>,
}

impl PresetConfig {
    fn builtin(command: &str, resume: &[&str]) -> PresetConfig {
        PresetConfig {
            command: command.into(),
            resume_args: resume.iter().map(|s| s.to_string()).collect(),
            ..PresetConfig::default()
        }
    }
}

impl TerminalConfig {
    /// The preset by name: the config's, else the built-in one.
    /// Every preset name: the built-in ones and the configured ones.
    pub fn preset_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["claude", "codex", "gemini", "qwen", "opencode"]
            .iter()
            .map(|s| s.to_string())
            .chain(self.presets.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn preset(&self, name: &str) -> Option<PresetConfig> {
        if let Some(p) = self.presets.get(name) {
            return Some(p.clone());
        }
        Some(match name {
            "claude" => PresetConfig::builtin("claude", &["--resume={id}"]),
            "codex" => PresetConfig::builtin("codex", &["resume", "{id}"]),
            "gemini" => PresetConfig::builtin("gemini", &["--resume", "{id}"]),
            "qwen" => PresetConfig::builtin("qwen", &["--resume", "{id}"]),
            "opencode" => PresetConfig::builtin("opencode", &["--session", "{id}"]),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// TCP address for gRPC + REST; off when empty. `--listen` overrides it.
    pub listen: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Origins allowed by CORS on the TCP listener; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Requests per second allowed per API key on TCP (token bucket).
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    /// Live events buffered per subscriber before it is told it lagged.
    pub subscriber_buffer: usize,
    pub heartbeat_secs: u64,
    /// Provider used when a session is created without one.
    pub default_provider: String,
    /// TCP connections held at once. At the cap the oldest connection that never presented a
    /// valid key is dropped for a new one; if every one has, the new one is refused. Lowered at
    /// start to what the descriptor limit allows beside a reserve for the Unix socket, the
    /// journal, PTYs and CLI pipes.
    pub max_connections: usize,
    /// A TCP connection must present a valid key within this long of opening, or it is closed.
    pub unauthenticated_timeout_secs: u64,
    /// A TCP connection with nothing in flight and no traffic for this long is closed.
    pub idle_timeout_secs: u64,
    /// A connection (TCP or Unix socket) whose peer has not taken a byte of what the daemon
    /// is sending for this long is cut: a stalled reader must not hold a stream's memory.
    pub stalled_write_timeout_secs: u64,
    /// Event streams (SSE, WebSocket, gRPC `Subscribe`) open at once, in all and per API key.
    pub max_streams: usize,
    pub max_streams_per_key: usize,
    /// Directories sessions and terminals may work in (and below). Empty: the user's home,
    /// the temp dir, the directory the daemon started in (unless `/`) and those of existing
    /// sessions.
    pub allowed_roots: Vec<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: String::new(),
            max_body_bytes: 10 * 1024 * 1024,
            cors_origins: Vec::new(),
            rate_limit_per_sec: 200,
            rate_limit_burst: 400,
            subscriber_buffer: 4096,
            heartbeat_secs: 10,
            default_provider: "openai".into(),
            max_connections: 2048,
            unauthenticated_timeout_secs: 10,
            idle_timeout_secs: 300,
            stalled_write_timeout_secs: 30,
            max_streams: 4096,
            max_streams_per_key: 256,
            allowed_roots: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersConfig {
    pub openai: OpenAiConfig,
    /// Further OpenAI-compatible endpoints by id (e.g. `ollama`, `openrouter`).
    pub compat: BTreeMap<String, OpenAiConfig>,
    /// Claude Code driven over its stream-json protocol (provider id `claude`).
    pub claude: CliConfig,
    /// Codex driven over `codex app-server` (provider id `codex`).
    pub codex: CliConfig,
    /// Gemini CLI over ACP (`gemini --acp`, provider id `gemini`).
    pub gemini: CliConfig,
    /// Qwen Code over ACP (`qwen --acp`, provider id `qwen`).
    pub qwen: CliConfig,
    /// OpenCode over ACP (`opencode acp`, provider id `opencode`).
    pub opencode: CliConfig,
    /// Further ACP agents by provider id (Cursor `agent acp`, `copilot --acp`, `goose acp`, ...):
    /// `command` and `args` start the agent speaking ACP on stdio.
    pub acp: BTreeMap<String, CliConfig>,
}

/// A coding-agent CLI driven as a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CliConfig {
    /// The executable: a path, or a name looked up on PATH. Empty: the CLI's usual name.
    pub command: String,
    /// Extra arguments, added before the protocol flags.
    pub args: Vec<String>,
    /// Added to the daemon's environment.
    pub env: BTreeMap<String, String>,
    /// Model passed to the CLI; empty: the CLI's default.
    pub model: String,
    /// A turn fails (and the process is stopped) when the CLI prints nothing for this long.
    pub idle_timeout_secs: u64,
    /// What `agentmux providers install` hands to npm instead of the CLI's usual package: a
    /// pinned spec (`@openai/codex@0.169.0`), another package, or a local tarball path. Needed
    /// for `[providers.acp.NAME]` agents to be installable at all.
    pub npm_package: String,
}

impl Default for CliConfig {
    fn default() -> Self {
        CliConfig {
            command: String::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            model: String::new(),
            idle_timeout_secs: 300,
            npm_package: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Empty: `OPENAI_BASE_URL` from the daemon's environment, else api.openai.com.
    pub base_url: String,
    /// Empty: `OPENAI_API_KEY` from the daemon's environment.
    pub api_key: String,
    /// Empty: `OPENAI_MODEL`, else `gpt-4o-mini`.
    pub model: String,
    pub connect_timeout_secs: u64,
    /// A turn fails when the server sends nothing for this long.
    pub idle_timeout_secs: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            base_url: String::new(),
            api_key: String::new(),
            model: String::new(),
            connect_timeout_secs: 10,
            idle_timeout_secs: 120,
        }
    }
}

impl Config {
    /// Reads the file if it exists; a missing file is the defaults.
    pub fn load(path: &Path) -> Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text)
                .map_err(|e| Error::invalid(format!("{}: {}", path.display(), e.message))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::invalid(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::invalid(e.to_string()))
    }
}

/// Where agentmux keeps things. Defaults follow the platform (XDG on Linux).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolves the paths by one rule: a flag wins; otherwise the data dir is the platform's
    /// (`~/.local/share/agentmux`), and the socket lives in the data dir, so the two can never
    /// disagree (a systemd login's `XDG_RUNTIME_DIR` and a cron job's missing one find the
    /// same daemon). A data dir too deep for a socket path puts it in `/tmp/agentmux-UID/`
    /// under a name made from the data dir.
    pub fn resolve(
        data_dir: Option<PathBuf>,
        socket: Option<PathBuf>,
        config_file: Option<PathBuf>,
    ) -> Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "agentmux");
        let custom_data = data_dir.is_some();
        let data_dir = match data_dir {
            Some(d) => d,
            None => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| Error::invalid("no home directory: pass --data-dir"))?,
        };
        let socket = match socket {
            Some(s) => s,
            None => default_socket(&data_dir),
        };
        let config_file = match config_file {
            Some(c) => c,
            None if custom_data => data_dir.join("config.toml"),
            None => dirs
                .as_ref()
                .map(|d| d.config_dir().join("config.toml"))
                .unwrap_or_else(|| data_dir.join("config.toml")),
        };
        Ok(Paths {
            data_dir,
            socket,
            config_file,
        })
    }

    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("agentmuxd.lock")
    }
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("agentmuxd.log")
    }
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }
    /// The npm prefix provider CLIs are installed into (`npm install --global --prefix`).
    pub fn clis_dir(&self) -> PathBuf {
        self.data_dir.join("clis")
    }
    /// Where installed CLIs' executables land; searched before `PATH`.
    pub fn clis_bin(&self) -> PathBuf {
        self.clis_dir().join("bin")
    }
}

/// A Unix socket path must fit `sun_path` (108 bytes with its NUL on Linux).
const MAX_SOCKET_PATH: usize = 100;

fn default_socket(data_dir: &Path) -> PathBuf {
    let beside = data_dir.join("agentmuxd.sock");
    if beside.as_os_str().len() <= MAX_SOCKET_PATH {
        return beside;
    }
    // FNV-1a: stable across runs and builds, which std's hasher does not promise.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data_dir.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir()
        .join(format!("agentmux-{uid}"))
        .join(format!("{h:016x}.sock"))
}

/// What a running daemon records in its data dir's lock file: who holds the data dir and
/// where it listens, so a client (or a second daemon) can say so, and find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    pub pid: u32,
    pub socket: PathBuf,
}

impl LockRecord {
    /// `PID\nSOCKET\n`; older daemons wrote only the pid.
    pub fn format(&self) -> String {
        format!("{}\n{}\n", self.pid, self.socket.display())
    }

    pub fn parse(text: &str) -> Option<LockRecord> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let socket = PathBuf::from(lines.next().unwrap_or("").trim());
        Some(LockRecord { pid, socket })
    }

    /// The record in `paths`' lock file, if a daemon holds the lock now (a record left by
    /// one that is gone, or a pid reused since, does not count).
    pub fn read_live(paths: &Paths) -> Option<LockRecord> {
        let file = std::fs::File::open(paths.lock_file()).ok()?;
        // A running daemon holds the lock exclusively: taking it shared means nobody does.
        if file.try_lock_shared().is_ok() {
            return None;
        }
        let text = std::io::read_to_string(&file).ok()?;
        let r = LockRecord::parse(&text)?;
        let pid = libc::pid_t::try_from(r.pid).ok()?;
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        alive.then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_lives_in_the_data_dir_unless_too_deep() {
        let p = Paths::resolve(Some("/d".into()), None, None).unwrap();
        assert_eq!(p.socket, PathBuf::from("/d/agentmuxd.sock"));
        let deep = PathBuf::from(format!("/{}", "x".repeat(120)));
        let p = Paths::resolve(Some(deep.clone()), None, None).unwrap();
        assert!(
            p.socket.as_os_str().len() <= MAX_SOCKET_PATH,
            "{}",
            p.socket.display()
        );
        assert_eq!(
            p.socket,
            Paths::resolve(Some(deep), None, None).unwrap().socket,
            "the same data dir, the same socket"
        );
        let p = Paths::resolve(Some("/d".into()), Some("/s.sock".into()), None).unwrap();
        assert_eq!(p.socket, PathBuf::from("/s.sock"));
    }

    #[test]
    fn lock_records_read_old_and_new() {
        let r = LockRecord {
            pid: 42,
            socket: "/d/agentmuxd.sock".into(),
        };
        assert_eq!(LockRecord::parse(&r.format()), Some(r));
        assert_eq!(
            LockRecord::parse("42"),
            Some(LockRecord {
                pid: 42,
                socket: PathBuf::new()
            })
        );
        assert_eq!(LockRecord::parse(""), None);
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        let c = Config::parse(
            "[daemon]\nmax_body_bytes = 5\n[providers.openai]\nbase_url = \"http://x/v1\"\n",
        )
        .unwrap();
        assert_eq!(c.daemon.max_body_bytes, 5);
        assert_eq!(c.providers.openai.base_url, "http://x/v1");
        assert_eq!(c.providers.openai.idle_timeout_secs, 120);
        let c = Config::parse("[providers.claude]\ncommand = \"/x/claude\"\nenv = { A = \"1\" }\n")
            .unwrap();
        assert_eq!(c.providers.claude.command, "/x/claude");
        assert_eq!(c.providers.claude.env["A"], "1");
        assert_eq!(c.providers.claude.idle_timeout_secs, 300);
        let c = Config::parse(
            "[providers.acp.tiny]\ncommand = \"tiny\"\nnpm_package = \"/x/tiny-1.0.0.tgz\"\n",
        )
        .unwrap();
        assert_eq!(c.providers.acp["tiny"].npm_package, "/x/tiny-1.0.0.tgz");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse("[daemon]\nlisten_on = 1\n").unwrap_err();
        assert!(err.message.contains("listen_on"), "{}", err.message);
    }

    #[test]
    fn custom_data_dir_carries_socket_and_config() {
        let p = Paths::resolve(Some("/x/d".into()), None, None).unwrap();
        assert_eq!(p.socket, PathBuf::from("/x/d/agentmuxd.sock"));
        assert_eq!(p.config_file, PathBuf::from("/x/d/config.toml"));
    }
}
