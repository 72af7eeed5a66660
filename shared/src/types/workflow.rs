//! Workflow definitions: a DAG of nodes (agents, human gates, merges) with templates, conditions,
//! retries, fallbacks, loops and fan-out, as TOML files, built-ins, or JSON in a request.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowDef {
    #[schemars(length(max = 64))]
    pub name: String,
    pub description: String,
    pub settings: WorkflowSettings,
    pub nodes: Vec<NodeDef>,
}

impl WorkflowDef {
    /// A definition from a TOML file's text; its name defaults to `default_name` (the file's).
    pub fn from_toml(text: &str, default_name: &str) -> crate::Result<WorkflowDef> {
        let mut def: WorkflowDef = toml::from_str(text)
            .map_err(|e| crate::Error::invalid(format!("not a workflow: {e}")))?;
        if def.name.trim().is_empty() {
            def.name = default_name.to_string();
        }
        Ok(def)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowSettings {
    /// Nodes running at once in a run (1–12).
    #[schemars(range(max = 12))]
    pub max_parallel: u32,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings { max_parallel: 3 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NodeDef {
    #[schemars(length(max = 64))]
    pub id: String,
    /// `agent` (default): a session answers `prompt`; `approval`: a human gate; `merge`: lands
    /// node `from`'s worktree branch on its base.
    #[schemars(extend("enum" = ["", "agent", "approval", "merge"]))]
    pub kind: String,
    pub needs: Vec<String>,
    pub provider: String,
    pub model: String,
    pub approval_policy: String,
    /// Templates: `{{input}}`, `{{item}}`, `{{nodes.ID.output}}`, `{{nodes.ID.json.a.b}}`,
    /// `{{nodes.ID.diff}}`, `{{nodes.ID.branch}}`.
    pub prompt: String,
    /// `none` (default), `worktree`, or `node:ID` (work in an upstream node's worktree).
    pub workspace: String,
    /// `text` (default) or `json` (the answer must parse).
    #[schemars(extend("enum" = ["", "text", "json"]))]
    pub output: String,
    pub retries: u32,
    pub retry_backoff_secs: u32,
    pub fallback: Vec<String>,
    pub timeout_secs: u32,
    /// `abort` (default) the run, or `continue` (dependents are skipped).
    #[schemars(extend("enum" = ["", "abort", "continue"]))]
    pub on_fail: String,
    /// Skipped when false: `==`, `!=`, `&&`, `||`, `!`, literals, `nodes.ID.…` paths.
    pub when: String,
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub repeat: Option<LoopDef>,
    /// Fan-out: one instance per item of this list (`nodes.ID.json.…`), `{{item}}` in each.
    pub for_each: String,
    /// `merge`: the node whose worktree branch lands.
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoopDef {
    /// The upstream node to go back to while `until` is false.
    pub back_to: String,
    pub until: String,
    /// Iterations at most.
    pub max: u32,
}

/// A workflow as listed: where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowInfo {
    pub name: String,
    pub description: String,
    /// `builtin`, or the file it was read from.
    pub source: String,
    pub nodes: u32,
    /// Why the file could not be used (it is listed, not runnable).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// `POST /v1/workflows/preview`: a name, or a definition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PreviewRequest {
    #[schemars(length(max = 64))]
    pub workflow: String,
    pub definition: Option<WorkflowDef>,
}

/// A definition checked: its nodes in an order they can run in, and the layers that may run
/// in parallel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowPreview {
    pub workflow: WorkflowDef,
    pub order: Vec<String>,
    pub layers: Vec<Vec<String>>,
}

/// One thing wrong with a definition, and where.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DefinitionError {
    /// `nodes[2].needs`, `nodes[0].prompt`, `settings.max_parallel`, …
    pub location: String,
    pub message: String,
}
