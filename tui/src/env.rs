//! The environment a client hands to what it creates (like tmux's `update-environment`): a
//! program started through the daemon sees this shell's PATH, locale, SSH agent and proxies,
//! however and wherever the daemon itself was started. Secrets never travel this way: they
//! belong in the daemon's config.

use agentmux_shared::types::{passable_env, passable_value};
use std::collections::BTreeMap;

/// Names sent unless `AGENTMUX_UPDATE_ENVIRONMENT` (space-separated) replaces the list.
pub const DEFAULT: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TERM",
    "COLORTERM",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "SSH_AUTH_SOCK",
    "SSH_CONNECTION",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "VIRTUAL_ENV",
    "JAVA_HOME",
    "GOPATH",
    "CARGO_HOME",
    "RUSTUP_HOME",
];

/// The listed variables this process has, secret-looking names left out.
pub fn client_env() -> BTreeMap<String, String> {
    let custom = std::env::var("AGENTMUX_UPDATE_ENVIRONMENT").ok();
    pick(custom.as_deref(), |name| std::env::var(name).ok())
}

fn pick(custom: Option<&str>, get: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let names: Vec<&str> = match custom {
        Some(list) => list.split_whitespace().collect(),
        None => DEFAULT.to_vec(),
    };
    names
        .into_iter()
        .filter(|n| passable_env(n))
        .filter_map(|n| get(n).map(|v| (n.to_string(), v)))
        .filter(|(n, v)| passable_value(n, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_picks_and_secrets_stay_home() {
        let env = |n: &str| match n {
            "PATH" => Some("/usr/bin".to_string()),
            "SSH_AUTH_SOCK" => Some("/tmp/agent.sock".to_string()),
            "ANTHROPIC_API_KEY" => Some("sk-…".to_string()),
            "FOO" => Some("bar".to_string()),
            "https_proxy" => Some("http://user:pw@proxy:3128".to_string()),
            "LD_PRELOAD" => Some("/tmp/x.so".to_string()),
            _ => None,
        };
        let got = pick(None, env);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["PATH", "SSH_AUTH_SOCK"],
            "only listed names that are set"
        );
        let got = pick(Some("FOO ANTHROPIC_API_KEY"), env);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["FOO"],
            "a key is never sent"
        );
        assert!(
            pick(Some(""), env).is_empty(),
            "an empty list sends nothing"
        );
    }
}
