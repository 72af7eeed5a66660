//! The provider registry and install jobs.

use crate::v1 as pb;
use agentmux_shared::types::*;

impl From<ProviderInfo> for pb::ProviderInfo {
    fn from(p: ProviderInfo) -> Self {
        pb::ProviderInfo {
            id: p.id,
            kind: p.kind.as_str().into(),
            protocol: p.protocol,
            registered: p.registered,
            available: p.available,
            detail: p.detail,
            installed: p.installed,
            command: p.command,
            path: p.path,
            source: p.source,
            version: p.version,
            version_error: p.version_error,
            credentials_status: p.credentials_status.as_str().into(),
            credentials: p.credentials,
            npm_package: p.npm_package,
            install_hint: p.install_hint,
            base_url: p.base_url,
            model: p.model,
        }
    }
}

impl From<pb::ProviderInfo> for ProviderInfo {
    fn from(p: pb::ProviderInfo) -> Self {
        ProviderInfo {
            id: p.id,
            kind: ProviderKind::parse(&p.kind),
            protocol: p.protocol,
            registered: p.registered,
            available: p.available,
            detail: p.detail,
            installed: p.installed,
            command: p.command,
            path: p.path,
            source: p.source,
            version: p.version,
            version_error: p.version_error,
            credentials_status: CredentialsStatus::parse(&p.credentials_status),
            credentials: p.credentials,
            npm_package: p.npm_package,
            install_hint: p.install_hint,
            base_url: p.base_url,
            model: p.model,
        }
    }
}

impl From<InstallState> for pb::InstallState {
    fn from(s: InstallState) -> Self {
        match s {
            InstallState::Queued => pb::InstallState::Queued,
            InstallState::Running => pb::InstallState::Running,
            InstallState::Succeeded => pb::InstallState::Succeeded,
            InstallState::Failed => pb::InstallState::Failed,
            InstallState::Interrupted => pb::InstallState::Interrupted,
        }
    }
}

fn install_state(v: i32) -> InstallState {
    match pb::InstallState::try_from(v) {
        Ok(pb::InstallState::Running) => InstallState::Running,
        Ok(pb::InstallState::Succeeded) => InstallState::Succeeded,
        Ok(pb::InstallState::Failed) => InstallState::Failed,
        Ok(pb::InstallState::Interrupted) => InstallState::Interrupted,
        Ok(pb::InstallState::Queued | pb::InstallState::Unspecified) | Err(_) => {
            InstallState::Queued
        }
    }
}

impl From<InstallJob> for pb::InstallJob {
    fn from(j: InstallJob) -> Self {
        pb::InstallJob {
            id: j.id,
            provider: j.provider,
            package: j.package,
            state: pb::InstallState::from(j.state) as i32,
            created_at_ms: j.created_at_ms,
            started_at_ms: j.started_at_ms,
            finished_at_ms: j.finished_at_ms,
            exit_code: j.exit_code,
            error: j.error,
            output_tail: j.output_tail,
            output_lines: j.output_lines,
            prefix: j.prefix,
            path: j.path,
            version: j.version,
            pid: j.pid,
        }
    }
}

impl From<pb::InstallJob> for InstallJob {
    fn from(j: pb::InstallJob) -> Self {
        InstallJob {
            id: j.id,
            provider: j.provider,
            package: j.package,
            state: install_state(j.state),
            created_at_ms: j.created_at_ms,
            started_at_ms: j.started_at_ms,
            finished_at_ms: j.finished_at_ms,
            exit_code: j.exit_code,
            error: j.error,
            output_tail: j.output_tail,
            output_lines: j.output_lines,
            prefix: j.prefix,
            path: j.path,
            version: j.version,
            pid: j.pid,
        }
    }
}
