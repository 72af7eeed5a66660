//! Workflow definitions, shared type ↔ wire message.

use crate::v1 as pb;
use agentmux_shared::types::{
    LoopDef, NodeDef, WorkflowDef, WorkflowInfo, WorkflowPreview, WorkflowSettings,
};

mirror!(WorkflowInfo <=> WorkflowInfo { name, description, source, nodes, error });
mirror!(WorkflowSettings <=> WorkflowSettings { max_parallel });
mirror!(LoopDef <=> LoopDef { back_to, until, max });

impl From<NodeDef> for pb::NodeDef {
    fn from(n: NodeDef) -> Self {
        pb::NodeDef {
            id: n.id,
            kind: n.kind,
            needs: n.needs,
            provider: n.provider,
            model: n.model,
            approval_policy: n.approval_policy,
            prompt: n.prompt,
            workspace: n.workspace,
            output: n.output,
            retries: n.retries,
            retry_backoff_secs: n.retry_backoff_secs,
            fallback: n.fallback,
            timeout_secs: n.timeout_secs,
            on_fail: n.on_fail,
            when: n.when,
            r#loop: n.repeat.map(Into::into),
            for_each: n.for_each,
            from: n.from,
        }
    }
}

impl From<pb::NodeDef> for NodeDef {
    fn from(n: pb::NodeDef) -> Self {
        NodeDef {
            id: n.id,
            kind: n.kind,
            needs: n.needs,
            provider: n.provider,
            model: n.model,
            approval_policy: n.approval_policy,
            prompt: n.prompt,
            workspace: n.workspace,
            output: n.output,
            retries: n.retries,
            retry_backoff_secs: n.retry_backoff_secs,
            fallback: n.fallback,
            timeout_secs: n.timeout_secs,
            on_fail: n.on_fail,
            when: n.when,
            repeat: n.r#loop.map(Into::into),
            for_each: n.for_each,
            from: n.from,
        }
    }
}

impl From<WorkflowDef> for pb::WorkflowDef {
    fn from(d: WorkflowDef) -> Self {
        pb::WorkflowDef {
            name: d.name,
            description: d.description,
            settings: Some(d.settings.into()),
            nodes: d.nodes.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<pb::WorkflowDef> for WorkflowDef {
    fn from(d: pb::WorkflowDef) -> Self {
        WorkflowDef {
            name: d.name,
            description: d.description,
            settings: d.settings.map(Into::into).unwrap_or_default(),
            nodes: d.nodes.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<WorkflowPreview> for pb::WorkflowPreview {
    fn from(p: WorkflowPreview) -> Self {
        pb::WorkflowPreview {
            workflow: Some(p.workflow.into()),
            order: p.order,
            layers: p
                .layers
                .into_iter()
                .map(|nodes| pb::WorkflowLayer { nodes })
                .collect(),
        }
    }
}

impl From<pb::WorkflowPreview> for WorkflowPreview {
    fn from(p: pb::WorkflowPreview) -> Self {
        WorkflowPreview {
            workflow: p.workflow.map(Into::into).unwrap_or_default(),
            order: p.order,
            layers: p.layers.into_iter().map(|l| l.nodes).collect(),
        }
    }
}
