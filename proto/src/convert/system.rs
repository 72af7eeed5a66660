//! API keys, health and daemon info.

use crate::v1 as pb;
use agentmux_shared::types::*;

impl From<ApiKey> for pb::ApiKey {
    fn from(k: ApiKey) -> Self {
        pb::ApiKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

impl From<pb::ApiKey> for ApiKey {
    fn from(k: pb::ApiKey) -> Self {
        ApiKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at_ms: k.created_at_ms,
            revoked_at_ms: k.revoked_at_ms,
        }
    }
}

impl From<Health> for pb::HealthResponse {
    fn from(h: Health) -> Self {
        pb::HealthResponse {
            status: h.status,
            last_seq: h.last_seq,
            providers: h
                .providers
                .into_iter()
                .map(|p| pb::ProviderHealth {
                    id: p.id,
                    available: p.available,
                    detail: p.detail,
                })
                .collect(),
        }
    }
}

impl From<Info> for pb::InfoResponse {
    fn from(i: Info) -> Self {
        pb::InfoResponse {
            version: i.version,
            pid: i.pid,
            data_dir: i.data_dir,
            socket: i.socket,
            tcp_listen: i.tcp_listen,
            last_seq: i.last_seq,
            started_at_ms: i.started_at_ms,
            schema_version: i.schema_version,
            sessions: i.sessions,
            config_loaded_at_ms: i.config_loaded_at_ms,
            config_error: i.config_error,
            config_changed: i.config_changed,
            worktrees: i.worktrees,
            worktrees_bytes: i.worktrees_bytes,
            worktrees_measured_at_ms: i.worktrees_measured_at_ms,
        }
    }
}

impl From<pb::InfoResponse> for Info {
    fn from(i: pb::InfoResponse) -> Self {
        Info {
            version: i.version,
            pid: i.pid,
            data_dir: i.data_dir,
            socket: i.socket,
            tcp_listen: i.tcp_listen,
            last_seq: i.last_seq,
            started_at_ms: i.started_at_ms,
            schema_version: i.schema_version,
            sessions: i.sessions,
            config_loaded_at_ms: i.config_loaded_at_ms,
            config_error: i.config_error,
            config_changed: i.config_changed,
            worktrees: i.worktrees,
            worktrees_bytes: i.worktrees_bytes,
            worktrees_measured_at_ms: i.worktrees_measured_at_ms,
        }
    }
}
