//! Whether a provider CLI's credentials are present, and where: env vars (the daemon's, or the
//! provider's `env` in the agentmux config) and the CLIs' own credential and config files. Names
//! and paths only, never a secret.

use agentmux_shared::types::CredentialsStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The credentials of CLI `id` given its configured env.
pub fn cli(id: &str, config_env: &BTreeMap<String, String>) -> (CredentialsStatus, String) {
    for_env(id, &Env { config: config_env })
}

/// Looks a variable up in the provider's configured env first, then the daemon's.
pub(super) struct Env<'a> {
    config: &'a BTreeMap<String, String>,
}

impl Env<'_> {
    fn get(&self, key: &str) -> Option<(String, &'static str)> {
        if let Some(v) = self.config.get(key).filter(|v| !v.is_empty()) {
            return Some((v.clone(), "agentmux config env"));
        }
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| (v, "environment"))
    }

    /// The first of `keys` that is set, as `KEY (where)`.
    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.get(k).map(|(_, from)| format!("{k} ({from})")))
    }

    fn dir(&self, var: &str, home_rel: &str) -> Option<PathBuf> {
        match self.get(var) {
            Some((v, _)) => Some(PathBuf::from(v)),
            None => self.get("HOME").map(|(h, _)| Path::new(&h).join(home_rel)),
        }
    }
}

fn nonempty_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0)
}

fn found(s: String) -> (CredentialsStatus, String) {
    (CredentialsStatus::Found, s)
}

fn file_hit(p: Option<PathBuf>) -> Option<String> {
    p.filter(|p| nonempty_file(p))
        .map(|p| format!("file {}", p.display()))
}

/// Whether a CLI's credentials are present and where (names and paths, never values).
pub(super) fn for_env(id: &str, env: &Env) -> (CredentialsStatus, String) {
    let hit = match id {
        "claude" => env
            .first(&[
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_OAUTH_TOKEN",
            ])
            .or_else(|| {
                file_hit(
                    env.dir("CLAUDE_CONFIG_DIR", ".claude")
                        .map(|d| d.join(".credentials.json")),
                )
            }),
        "codex" => env
            .first(&["OPENAI_API_KEY", "CODEX_API_KEY"])
            .or_else(|| file_hit(env.dir("CODEX_HOME", ".codex").map(|d| d.join("auth.json"))))
            .or_else(|| codex_provider_key(env)),
        "gemini" => env
            .first(&["GEMINI_API_KEY", "GOOGLE_API_KEY"])
            .or_else(|| {
                file_hit(
                    env.get("HOME")
                        .map(|(h, _)| Path::new(&h).join(".gemini/oauth_creds.json")),
                )
            }),
        "qwen" => env.first(&["OPENAI_API_KEY"]).or_else(|| {
            file_hit(
                env.get("HOME")
                    .map(|(h, _)| Path::new(&h).join(".qwen/oauth_creds.json")),
            )
        }),
        "opencode" => file_hit(
            env.dir("XDG_DATA_HOME", ".local/share")
                .map(|d| d.join("opencode/auth.json")),
        )
        .or_else(|| opencode_provider(env)),
        _ => {
            // An agent agentmux knows nothing about: only a key-looking configured variable says
            // anything.
            let key = env
                .config
                .iter()
                .find(|(k, v)| !v.is_empty() && (k.ends_with("_API_KEY") || k.ends_with("_TOKEN")));
            return match key {
                Some((k, _)) => found(format!("{k} (agentmux config env)")),
                None => (
                    CredentialsStatus::Unknown,
                    "agentmux cannot tell for this agent; its own login applies".into(),
                ),
            };
        }
    };
    match hit {
        Some(h) => found(h),
        None => (CredentialsStatus::Missing, missing_hint(id).into()),
    }
}

fn missing_hint(id: &str) -> &'static str {
    match id {
        "claude" => {
            "none found: set ANTHROPIC_API_KEY (environment or [providers.claude] env) or run `claude` and log in"
        }
        "codex" => {
            "none found: set OPENAI_API_KEY (environment or [providers.codex] env) or run `codex login`"
        }
        "gemini" => {
            "none found: set GEMINI_API_KEY (environment or [providers.gemini] env) or run `gemini` and log in with Google"
        }
        "qwen" => {
            "none found: set OPENAI_API_KEY (environment or [providers.qwen] env) or run `qwen` and log in"
        }
        "opencode" => {
            "none found: run `opencode auth login` or add a provider to ~/.config/opencode/opencode.json"
        }
        _ => "none found",
    }
}

/// A `model_providers` entry of Codex's config.toml whose `env_key` is set (the selected
/// provider when `model_provider` names one).
fn codex_provider_key(env: &Env) -> Option<String> {
    let file = env.dir("CODEX_HOME", ".codex")?.join("config.toml");
    let text = std::fs::read_to_string(&file).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let providers = doc.get("model_providers")?.as_table()?;
    let selected = doc.get("model_provider").and_then(|v| v.as_str());
    providers
        .iter()
        .filter(|(name, _)| selected.is_none_or(|s| s == name.as_str()))
        .find_map(|(name, p)| {
            let key = p.get("env_key")?.as_str()?;
            let (_, from) = env.get(key)?;
            Some(format!(
                "{key} ({from}; model_providers.{name} in {})",
                file.display()
            ))
        })
}

/// A provider configured in OpenCode's own config file.
fn opencode_provider(env: &Env) -> Option<String> {
    let files = [
        env.get("OPENCODE_CONFIG").map(|(v, _)| PathBuf::from(v)),
        env.dir("XDG_CONFIG_HOME", ".config")
            .map(|d| d.join("opencode/opencode.json")),
    ];
    files.into_iter().flatten().find_map(|file| {
        let text = std::fs::read_to_string(&file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let name = v.get("provider")?.as_object()?.keys().next()?.clone();
        Some(format!("provider {name} in {}", file.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn credentials_say_where_never_what() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        let mut cfg = BTreeMap::new();
        cfg.insert("HOME".to_string(), home.clone());
        cfg.insert("CODEX_HOME".to_string(), format!("{home}/codex"));
        cfg.insert("XDG_DATA_HOME".to_string(), format!("{home}/data"));
        cfg.insert("XDG_CONFIG_HOME".to_string(), format!("{home}/config"));
        cfg.insert("CLAUDE_CONFIG_DIR".to_string(), format!("{home}/claude"));
        let with = |extra: &[(&str, &str)]| {
            let mut c = cfg.clone();
            for (k, v) in extra {
                c.insert(k.to_string(), v.to_string());
            }
            c
        };
        let check = |id: &str, c: &BTreeMap<String, String>| for_env(id, &Env { config: c });
        // Keys from the config env are named, with where they came from; the value never shows.
        let c = with(&[("ANTHROPIC_API_KEY", "sk-secret")]);
        let (st, s) = check("claude", &c);
        assert_eq!(st, CredentialsStatus::Found);
        assert_eq!(s, "ANTHROPIC_API_KEY (agentmux config env)");
        std::fs::create_dir_all(format!("{home}/claude")).unwrap();
        std::fs::write(format!("{home}/claude/.credentials.json"), "{\"x\":1}").unwrap();
        let (st, s) = check("claude", &cfg);
        if std::env::var_os("ANTHROPIC_API_KEY").is_none()
            && std::env::var_os("ANTHROPIC_AUTH_TOKEN").is_none()
            && std::env::var_os("CLAUDE_CODE_OAUTH_TOKEN").is_none()
        {
            assert_eq!(st, CredentialsStatus::Found);
            assert_eq!(s, format!("file {home}/claude/.credentials.json"));
        }
        // Codex: a model provider whose env_key is set.
        std::fs::create_dir_all(format!("{home}/codex")).unwrap();
        std::fs::write(
            format!("{home}/codex/config.toml"),
            "model_provider = \"fake\"\n[model_providers.fake]\nenv_key = \"FAKE_API_KEY\"\n",
        )
        .unwrap();
        if std::env::var_os("OPENAI_API_KEY").is_none()
            && std::env::var_os("CODEX_API_KEY").is_none()
        {
            assert_eq!(check("codex", &cfg).0, CredentialsStatus::Missing);
            let (st, s) = check("codex", &with(&[("FAKE_API_KEY", "k")]));
            assert_eq!(st, CredentialsStatus::Found);
            assert!(
                s.starts_with("FAKE_API_KEY (agentmux config env; model_providers.fake in "),
                "{s}"
            );
        }
        // OpenCode: a provider in its config file.
        std::fs::create_dir_all(format!("{home}/config/opencode")).unwrap();
        std::fs::write(
            format!("{home}/config/opencode/opencode.json"),
            "{\"provider\":{\"fake\":{\"options\":{\"apiKey\":\"secret\"}}}}",
        )
        .unwrap();
        let (st, s) = check("opencode", &cfg);
        assert_eq!(st, CredentialsStatus::Found);
        assert!(
            s.starts_with("provider fake in ") && !s.contains("secret"),
            "{s}"
        );
        // An unknown agent: only a key-looking configured variable counts.
        assert_eq!(check("tiny", &cfg).0, CredentialsStatus::Unknown);
        assert_eq!(
            check("tiny", &with(&[("TINY_API_KEY", "k")])).0,
            CredentialsStatus::Found
        );
    }
}
