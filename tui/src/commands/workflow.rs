//! `agentmux workflow ls|show|preview`.

use crate::cli::WorkflowCmd;
use crate::client::Client;
use crate::output::{self, Out};
use agentmux_shared::types::WorkflowDef;
use agentmux_shared::{Error, Result};
use std::path::Path;

pub async fn run(c: &Client, out: &mut Out, cmd: WorkflowCmd) -> Result<()> {
    match cmd {
        WorkflowCmd::Ls => {
            let all = c.list_workflows().await?;
            if out.json {
                return out.json_value(&all);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|w| {
                    vec![
                        w.name.clone(),
                        w.nodes.to_string(),
                        w.source.clone(),
                        if w.error.is_empty() {
                            w.description.clone()
                        } else {
                            format!("cannot be read: {}", w.error)
                        },
                    ]
                })
                .collect();
            out.raw(&output::table(
                &["NAME", "NODES", "SOURCE", "DESCRIPTION"],
                &rows,
            ))
        }
        WorkflowCmd::Show { name } => {
            let def = c.get_workflow(&name).await?;
            out.json_value(&def)
        }
        WorkflowCmd::Preview { workflow } => {
            // A file on this machine is sent as a definition; anything else is a name.
            let p = c
                .preview_workflow(&name_of(&workflow), definition_of(&workflow)?)
                .await?;
            if out.json {
                return out.json_value(&p);
            }
            out.line(&format!(
                "{}: {} node(s), valid",
                p.workflow.name,
                p.workflow.nodes.len()
            ))?;
            for (i, layer) in p.layers.iter().enumerate() {
                out.line(&format!("  {}. {}", i + 1, layer.join(", ")))?;
            }
            Ok(())
        }
    }
}

fn is_file(arg: &str) -> bool {
    Path::new(arg).is_file()
}

fn name_of(arg: &str) -> String {
    if is_file(arg) {
        String::new()
    } else {
        arg.to_string()
    }
}

/// A `.toml` or `.json` definition file's content.
fn definition_of(arg: &str) -> Result<Option<WorkflowDef>> {
    if !is_file(arg) {
        return Ok(None);
    }
    let p = Path::new(arg);
    let text = std::fs::read_to_string(p)
        .map_err(|e| Error::invalid(format!("cannot read {arg}: {e}")))?;
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if p.extension().is_some_and(|x| x == "json") {
        let mut def: WorkflowDef = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{arg} is not a workflow: {e}")))?;
        if def.name.is_empty() {
            def.name = stem;
        }
        return Ok(Some(def));
    }
    WorkflowDef::from_toml(&text, &stem).map(Some)
}
