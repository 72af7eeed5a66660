//! Checking a definition before anything runs: every error at once, each with where it is
//! (ids, needs, cycles, providers, workspaces, templates, conditions, loops, fan-out), and the
//! order and parallel layers of a valid one.

use super::expr;
use agentmux_shared::types::{DefinitionError, NodeDef, WorkflowDef, WorkflowPreview};
use std::collections::{BTreeSet, HashMap, HashSet};

/// What the check needs to know of the daemon: the provider ids it can run.
pub struct Known<'a> {
    pub providers: &'a [String],
}

struct Errors(Vec<DefinitionError>);

impl Errors {
    fn at(&mut self, location: String, message: impl Into<String>) {
        self.0.push(DefinitionError {
            location,
            message: message.into(),
        });
    }
}

/// `{{…}}` references in a template, each trimmed; an unclosed `{{` is an error.
pub fn references(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a `{{` is not closed by `}}`".into());
        };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// Node ids each node depends on, directly or not.
fn ancestors(def: &WorkflowDef) -> HashMap<&str, HashSet<&str>> {
    let by_id: HashMap<&str, &NodeDef> = def.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut out: HashMap<&str, HashSet<&str>> = HashMap::new();
    for n in &def.nodes {
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = n.needs.iter().map(String::as_str).collect();
        while let Some(id) = stack.pop() {
            if seen.insert(id)
                && let Some(up) = by_id.get(id)
            {
                stack.extend(up.needs.iter().map(String::as_str));
            }
        }
        out.insert(n.id.as_str(), seen);
    }
    out
}

/// A path into the run (`input`, `item`, `nodes.ID.output|json…|diff|branch|status`) read by
/// node `n`: it must name a node it depends on (or, in a loop's `until`, any node).
fn check_path(
    e: &mut Errors,
    at: &str,
    path: &[String],
    n: &NodeDef,
    ids: &HashSet<&str>,
    up: Option<&HashSet<&str>>,
) {
    let first = path.first().map(String::as_str).unwrap_or("");
    match first {
        "input" if path.len() == 1 => {}
        "item" if !n.for_each.trim().is_empty() && !at.ends_with(".for_each") => {}
        "item" => e.at(at.into(), "`item` is only set in a node with for_each"),
        "nodes" => {
            let id = path.get(1).map(String::as_str).unwrap_or("");
            let field = path.get(2).map(String::as_str).unwrap_or("");
            if !ids.contains(id) {
                e.at(at.into(), format!("no node {id:?}"));
            } else if up.is_some_and(|u| !u.contains(id)) {
                e.at(
                    at.into(),
                    format!("node {id:?} is not upstream of {:?}: add it to needs", n.id),
                );
            }
            match (field, path.len()) {
                ("output" | "diff" | "branch" | "status", 3) | ("json", _) => {}
                _ => e.at(
                    at.into(),
                    format!(
                        "{}: use nodes.ID.output, .json…, .diff, .branch or .status",
                        path.join(".")
                    ),
                ),
            }
        }
        _ => e.at(
            at.into(),
            format!("{}: use input, item or nodes.ID.…", path.join(".")),
        ),
    }
}

const MAX_NODES: usize = 1000;
const MAX_NEEDS: usize = 64;

pub fn check(def: &WorkflowDef, known: &Known) -> Result<WorkflowPreview, Vec<DefinitionError>> {
    let mut e = Errors(Vec::new());
    if def.name.trim().is_empty() {
        e.at("name".into(), "a workflow needs a name");
    }
    if !(1..=12).contains(&def.settings.max_parallel) {
        e.at("settings.max_parallel".into(), "between 1 and 12");
    }
    if def.nodes.is_empty() {
        e.at("nodes".into(), "a workflow needs at least one node");
    }
    // Bounded, so checking (and later running) a definition costs a bounded amount.
    if def.nodes.len() > MAX_NODES {
        e.at("nodes".into(), format!("at most {MAX_NODES} nodes"));
        return Err(e.0);
    }
    let mut ids = HashSet::new();
    for (i, n) in def.nodes.iter().enumerate() {
        let ok = !n.id.is_empty()
            && n.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !ok {
            e.at(
                format!("nodes[{i}].id"),
                "letters, digits, `_` and `-` only",
            );
        } else if !ids.insert(n.id.as_str()) {
            e.at(
                format!("nodes[{i}].id"),
                format!("{:?} is used twice", n.id),
            );
        }
    }
    let up = ancestors(def);
    for (i, n) in def.nodes.iter().enumerate() {
        let at = |f: &str| format!("nodes[{i}].{f}");
        if n.needs.len() > MAX_NEEDS {
            e.at(at("needs"), format!("at most {MAX_NEEDS}"));
        }
        for need in &n.needs {
            if !ids.contains(need.as_str()) {
                e.at(at("needs"), format!("no node {need:?}"));
            }
        }
        let mine = up.get(n.id.as_str());
        match n.kind.as_str() {
            "" | "agent" => {
                if !n.provider.is_empty() && !known.providers.contains(&n.provider) {
                    e.at(at("provider"), format!("no provider {:?}", n.provider));
                }
                if n.prompt.trim().is_empty() {
                    e.at(at("prompt"), "an agent node needs a prompt");
                }
            }
            "approval" => {}
            "merge" => match n.from.as_str() {
                "" => e.at(at("from"), "a merge node names the node whose branch lands"),
                f if !mine.is_some_and(|u| u.contains(f)) => {
                    e.at(at("from"), format!("{f:?} is not upstream of {:?}", n.id))
                }
                _ => {}
            },
            other => e.at(
                at("kind"),
                format!("{other:?}: use agent, approval or merge"),
            ),
        }
        for f in &n.fallback {
            if !known.providers.contains(f) {
                e.at(at("fallback"), format!("no provider {f:?}"));
            }
        }
        match n.workspace.as_str() {
            "" | "none" | "worktree" => {}
            w => match w.strip_prefix("node:") {
                Some(id) if mine.is_some_and(|u| u.contains(id)) => {}
                Some(id) => e.at(
                    at("workspace"),
                    format!("{id:?} is not a node upstream of {:?}", n.id),
                ),
                None => e.at(
                    at("workspace"),
                    format!("{w:?}: use none, worktree or node:ID"),
                ),
            },
        }
        if !matches!(n.output.as_str(), "" | "text" | "json") {
            e.at(at("output"), format!("{:?}: use text or json", n.output));
        }
        if !matches!(n.on_fail.as_str(), "" | "abort" | "continue") {
            e.at(
                at("on_fail"),
                format!("{:?}: use abort or continue", n.on_fail),
            );
        }
        match references(&n.prompt) {
            Err(m) => e.at(at("prompt"), m),
            Ok(refs) => {
                for r in refs {
                    let path: Vec<String> = r.split('.').map(str::to_string).collect();
                    check_path(&mut e, &at("prompt"), &path, n, &ids, mine);
                }
            }
        }
        if !n.when.trim().is_empty() {
            match expr::parse(&n.when) {
                Err(m) => e.at(at("when"), m),
                Ok(x) => {
                    for p in x.paths() {
                        check_path(&mut e, &at("when"), p, n, &ids, mine);
                    }
                }
            }
        }
        if !n.for_each.trim().is_empty() {
            let path: Vec<String> = n.for_each.trim().split('.').map(str::to_string).collect();
            if path.first().map(String::as_str) != Some("nodes")
                || path.get(2).map(String::as_str) != Some("json")
            {
                e.at(
                    at("for_each"),
                    "a list in an upstream node's JSON answer: nodes.ID.json.…",
                );
            } else {
                check_path(&mut e, &at("for_each"), &path, n, &ids, mine);
            }
        }
        if let Some(l) = &n.repeat {
            if !mine.is_some_and(|u| u.contains(l.back_to.as_str())) {
                e.at(
                    at("loop.back_to"),
                    format!("{:?} is not upstream of {:?}", l.back_to, n.id),
                );
            }
            if l.max == 0 {
                e.at(at("loop.max"), "at least 1");
            }
            match expr::parse(&l.until) {
                Err(m) => e.at(at("loop.until"), m),
                Ok(x) => {
                    for p in x.paths() {
                        check_path(&mut e, &at("loop.until"), p, n, &ids, None);
                    }
                }
            }
        }
    }
    let layers = layers(def, &mut e);
    if !e.0.is_empty() {
        return Err(e.0);
    }
    Ok(WorkflowPreview {
        workflow: def.clone(),
        order: layers.iter().flatten().cloned().collect(),
        layers,
    })
}

/// Kahn's layers: each holds the nodes whose needs the layers before it hold; what is left
/// over is a cycle.
fn layers(def: &WorkflowDef, e: &mut Errors) -> Vec<Vec<String>> {
    let ids: HashSet<&str> = def.nodes.iter().map(|n| n.id.as_str()).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    loop {
        let ready: Vec<String> = def
            .nodes
            .iter()
            .filter(|n| !done.contains(n.id.as_str()))
            // A need that names no node is reported already: it does not hold anything up.
            .filter(|n| {
                n.needs
                    .iter()
                    .all(|d| done.contains(d.as_str()) || !ids.contains(d.as_str()))
            })
            .map(|n| n.id.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for id in &ready {
            if let Some(n) = def.nodes.iter().find(|n| &n.id == id) {
                done.insert(n.id.as_str());
            }
        }
        out.push(ready);
    }
    let left: Vec<&str> = def
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .filter(|id| !done.contains(id))
        .collect();
    if !left.is_empty() {
        e.at(
            "nodes".into(),
            format!("a cycle through needs: {}", left.join(", ")),
        );
    }
    out
}
