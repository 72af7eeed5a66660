//! The provider registry: which coding-agent CLIs are installed (the configured command, then
//! the daemon-managed npm prefix `<data dir>/clis/bin`, then `PATH`), their versions (`<bin>
//! --version`, cached by path and mtime), whether credentials are present (env vars and the
//! CLIs' own credential files; never the secret itself), plus the HTTP providers.

use super::lookup::{self, Source};
use crate::os::process::{self, GroupChild, Signal};
use agentmux_shared::config::{CliConfig, ProvidersConfig};
use agentmux_shared::types::{CredentialsStatus, ProviderHealth, ProviderInfo, ProviderKind};
use agentmux_shared::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;

/// How long `<bin> --version` may take (Gemini needs ~1.5 s on an idle 2-core box).
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest version text kept when it is not a plain version number.
const VERSION_CHARS: usize = 80;

/// A CLI agentmux knows how to drive and install.
pub struct KnownCli {
    pub id: &'static str,
    pub package: &'static str,
    pub protocol: &'static str,
}

pub const KNOWN_CLIS: &[KnownCli] = &[
    KnownCli {
        id: "claude",
        package: "@anthropic-ai/claude-code",
        protocol: "claude-stream-json",
    },
    KnownCli {
        id: "codex",
        package: "@openai/codex",
        protocol: "codex-app-server",
    },
    KnownCli {
        id: "gemini",
        package: "@google/gemini-cli",
        protocol: "acp",
    },
    KnownCli {
        id: "qwen",
        package: "@qwen-code/qwen-code",
        protocol: "acp",
    },
    KnownCli {
        id: "opencode",
        package: "opencode-ai",
        protocol: "acp",
    },
];

/// A CLI provider as configured: where to look for it and what installs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliSpec {
    pub id: String,
    pub protocol: &'static str,
    /// The configured command (a path or a name), else the CLI's usual name.
    pub command: String,
    /// The executable an install must put in the managed bin dir.
    pub bin: String,
    /// The npm spec an install hands to npm; empty: not installable.
    pub package: String,
    pub env: BTreeMap<String, String>,
    pub model: String,
}

fn cli_config<'a>(p: &'a ProvidersConfig, id: &str) -> Option<&'a CliConfig> {
    match id {
        "claude" => Some(&p.claude),
        "codex" => Some(&p.codex),
        "gemini" => Some(&p.gemini),
        "qwen" => Some(&p.qwen),
        "opencode" => Some(&p.opencode),
        _ => None,
    }
}

fn spec(id: &str, protocol: &'static str, default_package: &str, c: &CliConfig) -> CliSpec {
    let command = match c.command.trim() {
        "" => id.to_string(),
        cmd => cmd.to_string(),
    };
    let bin = Path::new(&command)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| id.to_string());
    let package = match c.npm_package.trim() {
        "" => default_package.to_string(),
        p => p.to_string(),
    };
    CliSpec {
        id: id.to_string(),
        protocol,
        command,
        bin,
        package,
        env: c.env.clone(),
        model: c.model.clone(),
    }
}

/// Every CLI provider: the known ones, then the configured ACP agents by name.
pub fn cli_specs(p: &ProvidersConfig) -> Vec<CliSpec> {
    let mut out: Vec<CliSpec> = KNOWN_CLIS
        .iter()
        .filter_map(|k| cli_config(p, k.id).map(|c| spec(k.id, k.protocol, k.package, c)))
        .collect();
    for (id, c) in &p.acp {
        if out.iter().any(|s| &s.id == id) {
            continue;
        }
        out.push(spec(id, "acp", "", c));
    }
    out
}

pub fn cli_spec(p: &ProvidersConfig, id: &str) -> Option<CliSpec> {
    cli_specs(p).into_iter().find(|s| s.id == id)
}

/// The HTTP provider ids (`openai` and the compat endpoints).
pub fn is_http(p: &ProvidersConfig, id: &str) -> bool {
    id == "openai" || p.compat.contains_key(id)
}

/// What npm installs: the CLI's package, at `version` when one is asked for. A version cannot
/// be combined with an `npm_package` that already pins one or names a file.
pub fn install_spec(spec: &CliSpec, version: &str) -> Result<String> {
    if spec.package.is_empty() {
        return Err(Error::precondition(format!(
            "{} has no npm package: set npm_package in [providers.acp.{}] to install it",
            spec.id, spec.id
        )));
    }
    if spec.package.starts_with('-') {
        return Err(Error::invalid(format!(
            "npm_package {:?} of {} looks like a flag, not a package",
            spec.package, spec.id
        )));
    }
    let version = version.trim();
    if version.is_empty() {
        return Ok(spec.package.clone());
    }
    let ok = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-+_^~*<>=".contains(c));
    if !ok || version.starts_with('-') || version.len() > 100 {
        return Err(Error::invalid(format!(
            "version {version:?} is not an npm version, range or tag"
        )));
    }
    let p = &spec.package;
    // A scope's `@` is at index 0; any later `@` pins a version already.
    let pinned = p.chars().skip(1).any(|c| c == '@');
    let file = p.contains('/') && !p.starts_with('@') || p.ends_with(".tgz") || p.contains(':');
    if pinned || file {
        return Err(Error::invalid(format!(
            "{} installs npm_package = {p:?}, which a version cannot be added to",
            spec.id
        )));
    }
    Ok(format!("{p}@{version}"))
}

/// Resolves a command the one way (`lookup::find`): a path as given, else the managed bin dir,
/// else `path_var`.
pub fn resolve(
    command: &str,
    managed_bin: &Path,
    path_var: Option<&OsStr>,
) -> Option<(PathBuf, Source)> {
    lookup::find(command, Some(managed_bin), path_var)
}

/// The first version-like token (`2.1.197`, `v0.61.0` → `0.61.0`) in the output.
pub fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "(),;[]\"'".contains(c))
        .map(|t| t.strip_prefix('v').unwrap_or(t))
        .find(|t| {
            t.starts_with(|c: char| c.is_ascii_digit())
                && t.contains('.')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
        })
        .map(|t| t.trim_end_matches('.').to_string())
}

/// Runs `<path> --version` (its own process group, killed on timeout) and reads the version.
async fn probe_version(
    path: PathBuf,
    env: BTreeMap<String, String>,
) -> std::result::Result<String, String> {
    let mut cmd = tokio::process::Command::new(&path);
    cmd.arg("--version")
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = GroupChild::spawn(&mut cmd)
        .map_err(|e| format!("cannot run {} --version: {e}", path.display()))?;
    let group = child.group();
    match tokio::time::timeout(VERSION_TIMEOUT, child.output()).await {
        Ok(Ok(out)) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if let Some(v) = parse_version(&stdout).or_else(|| parse_version(&stderr)) {
                return Ok(v);
            }
            let said = stdout
                .lines()
                .chain(stderr.lines())
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            let said: String = said.chars().take(VERSION_CHARS).collect();
            Err(format!(
                "{} --version ({}) printed no version: {said:?}",
                path.display(),
                out.status
            ))
        }
        Ok(Err(e)) => Err(format!("{} --version: {e}", path.display())),
        Err(_) => {
            // The dropped future killed the leader; this reaches anything it started.
            if let Some(g) = group {
                process::signal(g, Signal::Kill);
            }
            Err(format!(
                "{} --version did not answer within {} s",
                path.display(),
                VERSION_TIMEOUT.as_secs()
            ))
        }
    }
}

/// Identifies one build of an executable: a changed file is probed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime: SystemTime,
    len: u64,
}

type Probe = Arc<OnceCell<std::result::Result<String, String>>>;

/// Finds CLIs and remembers their versions.
pub struct Registry {
    managed_bin: PathBuf,
    // std Mutex: held to look up or insert a cache entry, never across an await.
    versions: Mutex<HashMap<PathBuf, (Stamp, Probe)>>,
}

/// What `inspect` learns about one CLI without running it.
struct Found {
    path: PathBuf,
    source: Source,
    stamp: Option<Stamp>,
}

impl Registry {
    pub fn new(managed_bin: PathBuf) -> Registry {
        Registry {
            managed_bin,
            versions: Mutex::new(HashMap::new()),
        }
    }

    pub fn managed_bin(&self) -> &Path {
        &self.managed_bin
    }

    /// The version of the executable at `path`, probed once per build of it. Concurrent callers
    /// share one probe.
    pub async fn version(
        &self,
        path: &Path,
        env: &BTreeMap<String, String>,
    ) -> std::result::Result<String, String> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let stamp = std::fs::metadata(&canonical)
            .map(|m| Stamp {
                mtime: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                len: m.len(),
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.version_at(canonical, stamp, path, env).await
    }

    async fn version_at(
        &self,
        canonical: PathBuf,
        stamp: Stamp,
        path: &Path,
        env: &BTreeMap<String, String>,
    ) -> std::result::Result<String, String> {
        let cell = {
            let mut map = match self.versions.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            match map.get(&canonical) {
                Some((s, cell)) if *s == stamp => cell.clone(),
                _ => {
                    let cell: Probe = Arc::new(OnceCell::new());
                    map.insert(canonical, (stamp, cell.clone()));
                    cell
                }
            }
        };
        let (probe_path, env) = (path.to_path_buf(), env.clone());
        let result = cell
            .get_or_init(|| probe_version(probe_path, env))
            .await
            .clone();
        if result.is_err() {
            // A failed probe (a timeout on a busy box, say) is tried again next time.
            let mut map = match self.versions.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            map.retain(|_, (_, c)| !Arc::ptr_eq(c, &cell));
        }
        result
    }

    /// Every provider (CLIs first, then HTTP), or only `only`. `health` is what the registered
    /// adapters report; a provider without an adapter shows as not registered.
    pub async fn list(
        &self,
        config: &ProvidersConfig,
        health: &[ProviderHealth],
        only: Option<&str>,
    ) -> Vec<ProviderInfo> {
        let specs: Vec<CliSpec> = cli_specs(config)
            .into_iter()
            .filter(|s| only.is_none_or(|o| o == s.id))
            .collect();
        let managed = self.managed_bin.clone();
        let inspect_specs = specs.clone();
        // Path lookups, stats and credential files: blocking file system work.
        let inspected = tokio::task::spawn_blocking(move || {
            let path_var = std::env::var_os("PATH");
            inspect_specs
                .iter()
                .map(|s| {
                    let found =
                        resolve(&s.command, &managed, path_var.as_deref()).map(|(path, source)| {
                            let stamp = std::fs::metadata(&path).ok().map(|m| Stamp {
                                mtime: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                                len: m.len(),
                            });
                            let canonical =
                                std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                            (
                                canonical,
                                Found {
                                    path,
                                    source,
                                    stamp,
                                },
                            )
                        });
                    let creds = super::credentials::cli(&s.id, &s.env);
                    (found, creds)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let probes = specs
            .iter()
            .zip(inspected)
            .map(|(s, (found, creds))| async move {
                let mut info = ProviderInfo {
                    id: s.id.clone(),
                    kind: ProviderKind::Cli,
                    protocol: s.protocol.to_string(),
                    command: s.command.clone(),
                    npm_package: s.package.clone(),
                    model: s.model.clone(),
                    credentials_status: creds.0,
                    credentials: creds.1,
                    ..ProviderInfo::default()
                };
                match found {
                    Some((canonical, f)) => {
                        info.installed = true;
                        info.path = f.path.display().to_string();
                        info.source = f.source.as_str().to_string();
                        let v = match f.stamp {
                            Some(stamp) => self.version_at(canonical, stamp, &f.path, &s.env).await,
                            None => Err(format!("cannot stat {}", f.path.display())),
                        };
                        match v {
                            Ok(v) => info.version = v,
                            Err(e) => info.version_error = e,
                        }
                    }
                    None => {
                        info.install_hint = if s.package.is_empty() {
                            format!(
                                "{:?} not found: set command (or npm_package, to install it with \
                             agentmux providers install {}) in [providers.acp.{}]",
                                s.command, s.id, s.id
                            )
                        } else {
                            format!("agentmux providers install {}", s.id)
                        };
                    }
                }
                info
            });
        let mut out = futures_util::future::join_all(probes).await;
        out.extend(
            http_providers(config)
                .into_iter()
                .filter(|p| only.is_none_or(|o| o == p.id)),
        );
        for h in health {
            if out.iter().any(|p| p.id == h.id) || only.is_some_and(|o| o != h.id) {
                continue;
            }
            // An adapter registered under an id the config does not describe.
            out.push(ProviderInfo {
                id: h.id.clone(),
                ..ProviderInfo::default()
            });
        }
        for p in &mut out {
            match health.iter().find(|h| h.id == p.id) {
                Some(h) => {
                    p.registered = true;
                    p.available = h.available;
                    p.detail = h.detail.clone();
                }
                None => {
                    p.detail = "no adapter for it is registered in this agentmuxd".into();
                }
            }
        }
        out
    }
}

fn is_local(url: &str) -> bool {
    ["://127.0.0.1", "://localhost", "://[::1]"]
        .iter()
        .any(|h| url.contains(h))
}

/// The HTTP providers with their endpoint and whether a key is set.
fn http_providers(p: &ProvidersConfig) -> Vec<ProviderInfo> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut out = Vec::new();
    let mut one = |id: &str, c: &agentmux_shared::config::OpenAiConfig, use_env: bool| {
        let pick = |cfg: &str, var: &str| {
            if !cfg.is_empty() {
                Some(cfg.to_string())
            } else if use_env {
                env(var)
            } else {
                None
            }
        };
        let base_url = pick(&c.base_url, "OPENAI_BASE_URL")
            .unwrap_or_else(|| crate::model::openai::DEFAULT_BASE_URL.to_string());
        let model = pick(&c.model, "OPENAI_MODEL").unwrap_or_default();
        let (status, credentials) = if !c.api_key.is_empty() {
            (
                CredentialsStatus::Found,
                format!(
                    "api_key in [providers.{}] of the agentmux config",
                    section(id)
                ),
            )
        } else if use_env && env("OPENAI_API_KEY").is_some() {
            (
                CredentialsStatus::Found,
                "OPENAI_API_KEY (environment)".to_string(),
            )
        } else if is_local(&base_url) {
            (
                CredentialsStatus::NotNeeded,
                "a local server: no key needed".to_string(),
            )
        } else {
            (
                CredentialsStatus::Missing,
                format!(
                    "none found: set api_key in [providers.{}]{}",
                    section(id),
                    if use_env { " or OPENAI_API_KEY" } else { "" }
                ),
            )
        };
        out.push(ProviderInfo {
            id: id.to_string(),
            kind: ProviderKind::Http,
            protocol: "openai-chat".into(),
            installed: true,
            credentials_status: status,
            credentials,
            base_url,
            model,
            ..ProviderInfo::default()
        });
    };
    one("openai", &p.openai, true);
    for (id, c) in &p.compat {
        one(id, c, false);
    }
    out
}

fn section(id: &str) -> String {
    if id == "openai" {
        "openai".into()
    } else {
        format!("compat.{id}")
    }
}

/// The executable named `name` on the daemon's `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    lookup::find_here(name, None).map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn versions_are_read_from_typical_output() {
        let cases = [
            ("2.1.197 (Claude Code)\n", Some("2.1.197")),
            (
                "WARNING: proceeding, even though …\ncodex-cli 0.169.0\n",
                Some("0.169.0"),
            ),
            ("0.61.0\n", Some("0.61.0")),
            ("v20.20.2\n", Some("20.20.2")),
            ("tiny 1.2.3-beta.1.", Some("1.2.3-beta.1")),
            ("no version here\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), want, "{text:?}");
        }
    }

    fn spec_with(package: &str) -> CliSpec {
        CliSpec {
            id: "x".into(),
            protocol: "acp",
            command: "x".into(),
            bin: "x".into(),
            package: package.into(),
            env: BTreeMap::new(),
            model: String::new(),
        }
    }

    #[test]
    fn install_specs() {
        let ok = |pkg: &str, v: &str| install_spec(&spec_with(pkg), v).unwrap();
        let err = |pkg: &str, v: &str| install_spec(&spec_with(pkg), v).unwrap_err().kind;
        assert_eq!(ok("@openai/codex", ""), "@openai/codex");
        assert_eq!(ok("@openai/codex", "0.169.0"), "@openai/codex@0.169.0");
        assert_eq!(ok("opencode-ai", "latest"), "opencode-ai@latest");
        assert_eq!(ok("@openai/codex@0.169.0", ""), "@openai/codex@0.169.0");
        assert_eq!(ok("/tmp/tiny-1.0.0.tgz", ""), "/tmp/tiny-1.0.0.tgz");
        use agentmux_shared::ErrorKind::*;
        assert_eq!(err("", ""), FailedPrecondition);
        assert_eq!(err("@openai/codex@0.169.0", "1.0.0"), InvalidArgument);
        assert_eq!(err("/tmp/tiny-1.0.0.tgz", "1.0.0"), InvalidArgument);
        assert_eq!(err("opencode-ai", "--registry=x"), InvalidArgument);
        assert_eq!(err("opencode-ai", "1.0; rm -rf /"), InvalidArgument);
        assert_eq!(err("opencode-ai", "../x"), InvalidArgument);
        assert_eq!(err("opencode-ai", "1 || 2"), InvalidArgument);
    }

    #[test]
    fn specs_cover_known_and_configured_agents() {
        let mut p = ProvidersConfig::default();
        p.claude.command = "/opt/x/claude-beta".into();
        p.codex.npm_package = "@openai/codex@0.169.0".into();
        p.acp.insert(
            "tiny".into(),
            CliConfig {
                command: "tiny".into(),
                ..CliConfig::default()
            },
        );
        let specs = cli_specs(&p);
        let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["claude", "codex", "gemini", "qwen", "opencode", "tiny"]
        );
        assert_eq!(specs[0].bin, "claude-beta");
        assert_eq!(specs[0].package, "@anthropic-ai/claude-code");
        assert_eq!(specs[1].package, "@openai/codex@0.169.0");
        assert_eq!(specs[5].package, "");
        assert!(is_http(&p, "openai"));
        assert!(!is_http(&p, "claude"));
    }

    #[tokio::test]
    async fn versions_are_probed_once_per_build_and_failures_retried() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let bin = dir.path().join("cli");
        let write = |body: &str| {
            std::fs::write(
                &bin,
                format!("#!/bin/sh\necho run >> {}\n{body}\n", runs.display()),
            )
            .unwrap();
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let count = || {
            std::fs::read_to_string(&runs)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let reg = Registry::new(dir.path().join("managed"));
        let env = BTreeMap::new();
        write("echo 'cli 1.0.0'");
        assert_eq!(reg.version(&bin, &env).await, Ok("1.0.0".to_string()));
        assert_eq!(reg.version(&bin, &env).await, Ok("1.0.0".to_string()));
        assert_eq!(count(), 1, "cached by path and mtime");
        write("echo 'cli 1.0.10 (new build)'");
        assert_eq!(reg.version(&bin, &env).await, Ok("1.0.10".to_string()));
        assert_eq!(count(), 2, "a changed file is probed again");
        write("echo oops >&2; exit 3");
        let err = reg.version(&bin, &env).await.unwrap_err();
        assert!(
            err.contains("printed no version") && err.contains("oops"),
            "{err}"
        );
        let _ = reg.version(&bin, &env).await;
        assert_eq!(count(), 4, "failures are not cached");
    }
}
