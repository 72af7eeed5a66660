//! Every conversion round-trips: domain → proto → domain gives the same value back.

use crate::v1 as pb;
use agentmux_shared::types::*;
use pretty_assertions::assert_eq;

fn usage() -> Usage {
    Usage {
        input_tokens: 1,
        output_tokens: 2,
        reasoning_tokens: 3,
    }
}

fn session() -> Session {
    Session {
        id: "ses_1".into(),
        name: "t".into(),
        title: "t".into(),
        provider: "claude".into(),
        model: "m".into(),
        cwd: "/w".into(),
        status: SessionStatus::Interrupted,
        busy: true,
        queued: 2,
        message_count: 7,
        created_at_ms: 10,
        updated_at_ms: 11,
        forked_from: "ses_0".into(),
        last_error: "e".into(),
        usage: usage(),
        provider_session_id: "p".into(),
        approval_policy: ApprovalPolicy::AutoEdit,
        approval_timeout_secs: 60,
        env: [("PATH".to_string(), "/bin".to_string())].into(),
        rules: vec![agentmux_shared::types::ApprovalRule {
            tool: "Write".into(),
            created_at_ms: 9,
        }],
        workspace: Some(agentmux_shared::types::Workspace {
            repo: "/r".into(),
            path: "/d/worktrees/ses_1".into(),
            branch: "agentmux/t".into(),
            base: "HEAD".into(),
            base_commit: "abc".into(),
            state: "ready".into(),
            start_commit: "def".into(),
        }),
    }
}

fn message() -> Message {
    Message {
        id: "msg_1".into(),
        session_id: "ses_1".into(),
        index: 3,
        role: Role::Assistant,
        content: "hi".into(),
        status: MessageStatus::Cancelled,
        model: "m".into(),
        usage: usage(),
        created_at_ms: 1,
        completed_at_ms: 2,
        error: "e".into(),
        stop_reason: "cancelled".into(),
        reply_to: "msg_0".into(),
        tools: vec![ToolCall {
            id: "t1".into(),
            name: "Write".into(),
            input_json: "{}".into(),
            status: ToolCallStatus::Failed,
            output: "no".into(),
        }],
        changes: vec![FileChange {
            path: "a.txt".into(),
            diff: "+a".into(),
        }],
        plan: vec![PlanEntry {
            content: "do".into(),
            status: PlanStatus::InProgress,
            priority: "high".into(),
        }],
        reasoning: "hm".into(),
    }
}

fn approval(status: ApprovalStatus) -> Approval {
    Approval {
        id: "apr_1".into(),
        session_id: "ses_1".into(),
        kind: ApprovalKind::ToolCall,
        tool: "Write".into(),
        input_json: "{}".into(),
        summary: "write a.txt".into(),
        diff: "+a".into(),
        options: vec!["allow_once".into(), "reject_always".into()],
        status,
        decision: (status != ApprovalStatus::Pending).then_some(Decision::Deny),
        message: "no".into(),
        reason: (status != ApprovalStatus::Pending).then_some(ApprovalReason::TimedOut),
        created_at_ms: 1,
        resolved_at_ms: 2,
    }
}

fn terminal() -> Terminal {
    Terminal {
        id: "term_1".into(),
        name: "sh".into(),
        command: "bash".into(),
        args: vec!["-l".into()],
        env: [("A".to_string(), "b".to_string())].into(),
        cwd: "/w".into(),
        rows: 24,
        cols: 80,
        status: TerminalStatus::Exited,
        exit_code: 3,
        exit_signal: "SIGTERM".into(),
        pid: 9,
        clients: 2,
        preset: "claude".into(),
        provider_session_id: "p".into(),
        created_at_ms: 1,
        started_at_ms: 2,
        exited_at_ms: 3,
        exit_reason: "daemon stopped".into(),
    }
}

fn job() -> InstallJob {
    InstallJob {
        id: "job_1".into(),
        provider: "codex".into(),
        package: "@openai/codex".into(),
        state: InstallState::Interrupted,
        created_at_ms: 1,
        started_at_ms: 2,
        finished_at_ms: 3,
        exit_code: 1,
        error: "e".into(),
        output_tail: vec!["x".into()],
        output_lines: 5,
        prefix: "/p".into(),
        path: "/p/bin/codex".into(),
        version: "1".into(),
        pid: 4,
    }
}

#[test]
fn resources_round_trip() {
    assert_eq!(Session::from(pb::Session::from(session())), session());
    // A record from before names is called by the end of its id.
    let old = pb::Session {
        id: "ses_06c1q3abcdef".into(),
        ..pb::Session::default()
    };
    assert_eq!(Session::from(old).name, "abcdef");
    assert_eq!(
        Message::try_from(pb::Message::from(message())),
        Ok(message())
    );
    assert_eq!(Terminal::from(pb::Terminal::from(terminal())), terminal());
    assert_eq!(InstallJob::from(pb::InstallJob::from(job())), job());
    let key = ApiKey {
        id: "key_1".into(),
        name: "n".into(),
        prefix: "amx_ab".into(),
        created_at_ms: 1,
        revoked_at_ms: 2,
    };
    assert_eq!(ApiKey::from(pb::ApiKey::from(key.clone())), key);
    let info = Info {
        version: "1".into(),
        pid: 2,
        data_dir: "/d".into(),
        socket: "/s".into(),
        tcp_listen: "127.0.0.1:1".into(),
        last_seq: 3,
        started_at_ms: 4,
        schema_version: 5,
        sessions: 6,
        config_loaded_at_ms: 7,
        config_error: "e".into(),
        config_changed: vec!["providers.claude".into()],
        worktrees: 2,
        worktrees_bytes: 1 << 40,
        worktrees_measured_at_ms: 1_700_000_000_000,
    };
    assert_eq!(Info::from(pb::InfoResponse::from(info.clone())), info);
    let provider = ProviderInfo {
        id: "codex".into(),
        kind: ProviderKind::Http,
        protocol: "p".into(),
        registered: true,
        available: true,
        detail: "d".into(),
        installed: true,
        command: "c".into(),
        path: "/p".into(),
        source: "path".into(),
        version: "1".into(),
        version_error: "v".into(),
        credentials_status: CredentialsStatus::NotNeeded,
        credentials: "env".into(),
        npm_package: "n".into(),
        install_hint: "h".into(),
        base_url: "u".into(),
        model: "m".into(),
    };
    assert_eq!(
        ProviderInfo::from(pb::ProviderInfo::from(provider.clone())),
        provider
    );
}

#[test]
fn approvals_round_trip_in_every_status() {
    for &status in ApprovalStatus::ALL {
        let a = approval(status);
        assert_eq!(Approval::try_from(pb::Approval::from(a.clone())), Ok(a));
    }
}

#[test]
fn approvals_written_as_text_are_read() {
    let old = pb::Approval {
        id: "apr_1".into(),
        legacy_status: "denied".into(),
        legacy_decision: "deny".into(),
        legacy_reason: "decided".into(),
        ..pb::Approval::default()
    };
    let a = Approval::try_from(old).expect("a legacy record decodes");
    assert_eq!(a.kind, ApprovalKind::ToolCall);
    assert_eq!(a.status, ApprovalStatus::Denied);
    assert_eq!(a.decision, Some(Decision::Deny));
    assert_eq!(a.reason, Some(ApprovalReason::Decided));
    let pending = pb::Approval {
        legacy_status: "pending".into(),
        ..pb::Approval::default()
    };
    let a = Approval::try_from(pending).expect("pending decodes");
    assert_eq!((a.decision, a.reason), (None, None));
}

#[test]
fn unknown_approval_values_are_errors() {
    for bad in [
        pb::Approval {
            legacy_status: "maybe".into(),
            ..pb::Approval::default()
        },
        pb::Approval::default(), // no status at all
        pb::Approval {
            status: 99,
            ..pb::Approval::default()
        },
        pb::Approval {
            status: pb::ApprovalStatus::Denied as i32,
            reason: 42,
            ..pb::Approval::default()
        },
        pb::Approval {
            status: pb::ApprovalStatus::Denied as i32,
            legacy_decision: "sure".into(),
            ..pb::Approval::default()
        },
    ] {
        assert!(Approval::try_from(bad.clone()).is_err(), "{bad:?}");
    }
}

#[test]
fn tool_calls_and_plans_written_as_text_are_read() {
    let old = pb::Message {
        tools: vec![pb::ToolCall {
            legacy_status: "finished".into(),
            ..Default::default()
        }],
        plan: vec![pb::PlanEntry {
            legacy_status: "in_progress".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let m = Message::try_from(old).expect("a legacy message decodes");
    assert_eq!(m.tools[0].status, ToolCallStatus::Finished);
    assert_eq!(m.plan[0].status, PlanStatus::InProgress);
    // Older adapters stored an agent's own words: read leniently, never refused.
    let odd = pb::ToolCall {
        legacy_status: "sleeping".into(),
        ..Default::default()
    };
    assert_eq!(
        ToolCall::try_from(odd).unwrap().status,
        ToolCallStatus::Updated
    );
    let odd = pb::PlanEntry {
        legacy_status: "someday".into(),
        ..Default::default()
    };
    assert_eq!(
        PlanEntry::try_from(odd).unwrap().status,
        PlanStatus::Pending
    );
    // A number this build does not know comes from a newer peer: refused.
    let newer = pb::ToolCall {
        status: 40,
        ..Default::default()
    };
    assert!(ToolCall::try_from(newer).is_err());
    // What is written carries the text too, for peers that predate the enums.
    let written = pb::ToolCall::from(message().tools[0].clone());
    assert_eq!(written.legacy_status, "failed");
}

#[test]
fn decide_requests_take_the_enum_or_the_text() {
    let by_enum = pb::DecideApprovalRequest {
        decision: pb::Decision::AllowAlways as i32,
        message: "ok".into(),
        ..Default::default()
    };
    let d = DecideApproval::try_from(by_enum).expect("enum");
    assert_eq!(
        (d.decision, d.message.as_str()),
        (Decision::AllowAlways, "ok")
    );
    let by_text = pb::DecideApprovalRequest {
        legacy_decision: "deny".into(),
        ..Default::default()
    };
    assert_eq!(
        DecideApproval::try_from(by_text).map(|d| d.decision),
        Ok(Decision::Deny)
    );
    for bad in [
        pb::DecideApprovalRequest::default(),
        pb::DecideApprovalRequest {
            legacy_decision: "yes".into(),
            ..Default::default()
        },
        pb::DecideApprovalRequest {
            decision: 7,
            ..Default::default()
        },
    ] {
        assert!(DecideApproval::try_from(bad).is_err());
    }
}

#[test]
fn every_event_payload_round_trips() {
    let payloads = vec![
        EventPayload::SessionCreated { session: session() },
        EventPayload::SessionUpdated { session: session() },
        EventPayload::SessionDeleted { id: "ses_1".into() },
        EventPayload::SessionReset { session: session() },
        EventPayload::MessageCreated { message: message() },
        EventPayload::MessageDelta {
            message_id: "msg_1".into(),
            text: "a".into(),
        },
        EventPayload::ReasoningDelta {
            message_id: "msg_1".into(),
            text: "b".into(),
        },
        EventPayload::MessageCompleted { message: message() },
        EventPayload::TurnStarted {
            user_message_id: "u".into(),
            assistant_message_id: "a".into(),
        },
        EventPayload::TurnFinished(TurnFinished {
            user_message_id: "u".into(),
            assistant_message_id: "a".into(),
            status: MessageStatus::Failed,
            stop_reason: "s".into(),
            error: "e".into(),
            usage: usage(),
            cost_usd: 0.25,
        }),
        EventPayload::Warning {
            message: "w".into(),
        },
        EventPayload::TerminalCreated {
            terminal: terminal(),
        },
        EventPayload::TerminalUpdated {
            terminal: terminal(),
        },
        EventPayload::TerminalRemoved {
            id: "term_1".into(),
        },
        EventPayload::ApprovalRequested {
            approval: approval(ApprovalStatus::Pending),
        },
        EventPayload::ApprovalResolved {
            approval: approval(ApprovalStatus::Expired),
        },
        EventPayload::ToolCall(message().tools[0].clone()),
        EventPayload::FileChanged {
            path: "a".into(),
            diff: "d".into(),
        },
        EventPayload::PlanUpdated {
            entries: message().plan,
        },
        EventPayload::ProviderInstall {
            job: job(),
            lines: vec!["l".into()],
        },
    ];
    for payload in payloads {
        let e = Event {
            seq: 9,
            ts_ms: 10,
            session_id: "ses_1".into(),
            payload,
        };
        assert_eq!(Event::try_from(pb::Event::from(e.clone())), Ok(e));
    }
    assert!(Event::try_from(pb::Event::default()).is_err());
}

#[test]
fn workflow_definitions_round_trip() {
    use agentmux_shared::types::{
        LoopDef, NodeDef, WorkflowDef, WorkflowPreview, WorkflowSettings,
    };
    let def = WorkflowDef {
        name: "w".into(),
        description: "d".into(),
        settings: WorkflowSettings { max_parallel: 4 },
        nodes: vec![
            NodeDef {
                id: "a".into(),
                kind: "agent".into(),
                needs: vec!["b".into()],
                provider: "claude".into(),
                model: "m".into(),
                approval_policy: "ask".into(),
                prompt: "{{input}}".into(),
                workspace: "worktree".into(),
                output: "json".into(),
                retries: 2,
                retry_backoff_secs: 5,
                fallback: vec!["codex".into()],
                timeout_secs: 9,
                on_fail: "continue".into(),
                when: "true".into(),
                repeat: Some(LoopDef {
                    back_to: "b".into(),
                    until: "false".into(),
                    max: 3,
                }),
                for_each: "nodes.b.json.x".into(),
                from: "b".into(),
            },
            NodeDef {
                id: "b".into(),
                ..NodeDef::default()
            },
        ],
    };
    assert_eq!(WorkflowDef::from(pb::WorkflowDef::from(def.clone())), def);
    let p = WorkflowPreview {
        workflow: def,
        order: vec!["b".into(), "a".into()],
        layers: vec![vec!["b".into()], vec!["a".into()]],
    };
    assert_eq!(
        WorkflowPreview::from(pb::WorkflowPreview::from(p.clone())),
        p
    );
}
