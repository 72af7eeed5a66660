//! The providers suite's set-up: the pinned CLI versions, a daemon with an isolated HOME and PATH,
//! the `agentmux` CLI binary, and slow-request helpers.

use super::super::cli_bin;
use agentmux_tests::client::Rest;
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::Command;

/// The pinned CLIs and the versions `tests/cli/install.sh` installs.
pub(super) const PINNED: &[(&str, &str)] = &[
    ("claude", "2.1.197"),
    ("codex", "0.169.0"),
    ("gemini", "0.61.0"),
    ("qwen", "0.15.10"),
    ("opencode", "1.18.33"),
];
/// Listing probes every CLI's `--version` once (in parallel): seconds on a loaded box.
pub(super) const LIST_TIMEOUT: Duration = Duration::from_secs(120);
pub(super) const INSTALL_TIMEOUT: Duration = Duration::from_secs(180);

/// `PATH` with node and npm (Debian: /usr/bin).
pub(super) const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Runs `agentmux --socket S ARGS…` to completion.
pub(super) async fn agentmux(d: &Daemon, args: &[&str]) -> Output {
    let mut cmd = Command::new(agentmux_tests::daemon::client_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(INSTALL_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("agentmux {args:?} did not finish in {INSTALL_TIMEOUT:?}"))
        .expect("run agentmux")
}

pub(super) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `GET path` with a longer bound than the usual request timeout.
pub(super) async fn get_slow(rest: &Rest, path: &str) -> Value {
    let r = tokio::time::timeout(
        LIST_TIMEOUT,
        rest.try_request(reqwest::Method::GET, path, None),
    )
    .await
    .unwrap_or_else(|_| panic!("GET {path} took over {LIST_TIMEOUT:?}"))
    .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

pub(super) fn provider<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["providers"]
        .as_array()
        .expect("providers array")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no provider {id} in {list}"))
}

/// A daemon whose own environment is `env` on top of an isolated HOME.
pub(super) async fn daemon_with(
    home: &Path,
    path: &str,
    env: &[(&str, &str)],
    toml: &[&str],
) -> Daemon {
    let mut o = DaemonOptions::default()
        .openai("api_key = \"sk-openai-secret-value\"")
        .env("PATH", path)
        .env("HOME", &home.display().to_string())
        .env(
            "XDG_CONFIG_HOME",
            &home.join(".config").display().to_string(),
        )
        .env(
            "XDG_DATA_HOME",
            &home.join(".local/share").display().to_string(),
        )
        .env("CODEX_HOME", &home.join(".codex").display().to_string())
        .env(
            "CLAUDE_CONFIG_DIR",
            &home.join(".claude").display().to_string(),
        )
        // Keys a developer's shell may carry would make "missing" untestable.
        .env("ANTHROPIC_API_KEY", "")
        .env("ANTHROPIC_AUTH_TOKEN", "")
        .env("CLAUDE_CODE_OAUTH_TOKEN", "")
        .env("GEMINI_API_KEY", "")
        .env("GOOGLE_API_KEY", "")
        .env("CODEX_API_KEY", "")
        // Installs never touch the developer's npm cache.
        .env(
            "npm_config_cache",
            &home.join(".npm-cache").display().to_string(),
        );
    for (k, v) in env {
        o = o.env(k, v);
    }
    for line in toml {
        o = o.toml(line);
    }
    Daemon::start(o).await
}

/// What `<bin> --version` prints, run the way a person would.
pub(super) async fn version_output(bin: &Path, home: &Path) -> String {
    let out = tokio::time::timeout(
        LIST_TIMEOUT,
        Command::new(bin)
            .arg("--version")
            .env("HOME", home)
            .env("PATH", format!("{}:{SYSTEM_PATH}", cli_bin().display()))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("--version in time")
    .expect("run --version");
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}
