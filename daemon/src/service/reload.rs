//! Re-reading the config while the daemon runs (SIGHUP, `agentmux daemon reload`). Nothing is
//! interrupted: a provider whose settings changed is replaced for new turns, and the replaced
//! one keeps serving the turns it runs, then stops its processes. A config that does not parse
//! changes nothing and is reported. The listen address, connection limits and the event
//! buffer are read at start only.

use super::Service;
use crate::provider::{Provider, Providers};
use agentmux_shared::config::{Config, ProvidersConfig};
use agentmux_shared::ids::now_ms;
use agentmux_shared::types::Info;
use agentmux_shared::{Error, Result};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    loaded_at_ms: i64,
    error: String,
    changed: Vec<String>,
}

pub(super) struct Reloads {
    // std Mutex: held only to read or record, never across an await.
    state: Mutex<State>,
    /// Replaced providers still running turns.
    retired: Mutex<Vec<Arc<dyn Provider>>>,
}

impl Reloads {
    pub(super) fn new(started_at_ms: i64) -> Reloads {
        Reloads {
            state: Mutex::new(State {
                loaded_at_ms: started_at_ms,
                ..State::default()
            }),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The reload fields of `Info`.
    pub(super) fn info(&self) -> Info {
        let Ok(s) = self.state.lock() else {
            return Info::default();
        };
        Info {
            config_loaded_at_ms: s.loaded_at_ms,
            config_error: s.error.clone(),
            config_changed: s.changed.clone(),
            ..Info::default()
        }
    }

    fn record(&self, error: String, changed: Vec<String>) {
        if let Ok(mut s) = self.state.lock() {
            *s = State {
                loaded_at_ms: now_ms().max(s.loaded_at_ms + 1),
                error,
                changed,
            };
        }
    }

    /// At shutdown: replaced providers stop whatever they still run.
    pub(super) async fn shutdown_retired(&self) {
        let retired: Vec<_> = match self.retired.lock() {
            Ok(mut r) => r.drain(..).collect(),
            Err(_) => return,
        };
        for p in retired {
            p.shutdown().await;
        }
    }
}

/// Whether provider `id` has the same settings in both configs.
fn same(a: &ProvidersConfig, b: &ProvidersConfig, id: &str) -> bool {
    match id {
        "openai" => a.openai == b.openai,
        "claude" => a.claude == b.claude,
        "codex" => a.codex == b.codex,
        "gemini" => a.gemini == b.gemini,
        "qwen" => a.qwen == b.qwen,
        "opencode" => a.opencode == b.opencode,
        _ => a.compat.get(id) == b.compat.get(id) && a.acp.get(id) == b.acp.get(id),
    }
}

impl Service {
    /// Reads the config file again and applies it; see the module doc.
    pub async fn reload_config_file(&self) -> Result<Vec<String>> {
        let path = self.shared.paths.config_file.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| Error::internal(format!("reading the config: {e}")))?;
        match loaded.and_then(|config| self.reload(config)) {
            Ok(changed) => Ok(changed),
            Err(e) => {
                tracing::warn!(error = %e.message, "config reload refused; the old config stays");
                self.shared.reloads.record(e.message.clone(), Vec::new());
                Err(e)
            }
        }
    }

    /// Applies `new`: the sections that differ take effect for what starts from now on.
    pub fn reload(&self, new: Config) -> Result<Vec<String>> {
        let old = self.config();
        let mut changed = Vec::new();
        if old.daemon != new.daemon {
            changed.push("daemon".to_string());
        }
        if old.terminal != new.terminal {
            changed.push("terminal".to_string());
        }
        let rebuilt = Providers::from_config(&new, &self.shared.paths.clis_bin())?;
        let current = self.providers();
        let mut keep = Vec::new();
        let mut retire = Vec::new();
        for id in rebuilt.ids() {
            let same = same(&old.providers, &new.providers, &id);
            match current.get(&id) {
                Ok(p) if same => keep.push(p),
                Ok(p) => {
                    changed.push(format!("providers.{id}"));
                    retire.push(p);
                    keep.push(rebuilt.get(&id)?);
                }
                Err(_) => {
                    changed.push(format!("providers.{id}"));
                    keep.push(rebuilt.get(&id)?);
                }
            }
        }
        for id in current.ids() {
            if rebuilt.get(&id).is_err() {
                changed.push(format!("providers.{id} (removed)"));
                retire.extend(current.get(&id));
            }
        }
        if old.daemon.allowed_roots != new.daemon.allowed_roots {
            let roots = super::roots::Roots::new(
                &new.daemon.allowed_roots,
                self.store().session_dirs()?.into_iter(),
            );
            if let Ok(mut r) = self.shared.roots.write() {
                *r = Arc::new(roots);
            }
        }
        if let Ok(mut p) = self.shared.providers.write() {
            *p = Providers::with(keep);
        }
        if let Ok(mut c) = self.shared.config.write() {
            *c = Arc::new(new);
        }
        for p in retire {
            self.retire(p);
        }
        tracing::info!(changed = ?changed, "config reloaded");
        self.shared.reloads.record(String::new(), changed.clone());
        Ok(changed)
    }

    /// A replaced provider finishes the turns it runs (they hold it), then stops its processes.
    fn retire(&self, p: Arc<dyn Provider>) {
        if let Ok(mut r) = self.shared.reloads.retired.lock() {
            r.push(p.clone());
        }
        let svc = self.clone();
        self.shared.tasks.spawn(async move {
            loop {
                // Ours, the retired list's and the local `p`: nobody else runs on it.
                if Arc::strong_count(&p) <= 2 {
                    break;
                }
                tokio::select! {
                    _ = svc.shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
            if let Ok(mut r) = svc.shared.reloads.retired.lock() {
                r.retain(|x| !Arc::ptr_eq(x, &p));
            }
            p.shutdown().await;
        });
    }
}
