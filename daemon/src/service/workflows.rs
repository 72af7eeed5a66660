//! Workflow definitions: listed from `<config dir>/workflows` and the built-ins, fetched by
//! name, and checked (a preview: order and layers, or every error with where it is).

use super::Service;
use crate::workflow::{self, check};
use agentmux_shared::types::{PreviewRequest, WorkflowDef, WorkflowInfo, WorkflowPreview};
use agentmux_shared::{Error, ErrorKind, Result};
use std::path::PathBuf;

impl Service {
    fn workflows_dir(&self) -> PathBuf {
        self.shared
            .paths
            .config_file
            .parent()
            .map(|d| d.join("workflows"))
            .unwrap_or_else(|| PathBuf::from("workflows"))
    }

    async fn workflows(&self) -> Result<Vec<(WorkflowInfo, Option<WorkflowDef>)>> {
        let dir = self.workflows_dir();
        tokio::task::spawn_blocking(move || workflow::all(&dir))
            .await
            .map_err(|e| Error::internal(format!("reading workflows: {e}")))
    }

    pub async fn list_workflows(&self) -> Result<Vec<WorkflowInfo>> {
        Ok(self
            .workflows()
            .await?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    pub async fn get_workflow(&self, name: &str) -> Result<WorkflowDef> {
        match self
            .workflows()
            .await?
            .into_iter()
            .find(|(i, _)| i.name == name)
        {
            Some((_, Some(def))) => Ok(def),
            Some((i, None)) => Err(Error::precondition(format!(
                "workflow {name} ({}) cannot be read: {}",
                i.source, i.error
            ))),
            None => Err(Error::new(
                ErrorKind::NotFound,
                format!("no workflow {name:?} (agentmux workflow ls lists them)"),
            )),
        }
    }

    /// A workflow by name or a definition, checked against the providers this daemon has.
    pub async fn preview_workflow(&self, req: PreviewRequest) -> Result<WorkflowPreview> {
        let def = match (req.definition, req.workflow.trim()) {
            (Some(d), "") => d,
            (None, name) if !name.is_empty() => self.get_workflow(name).await?,
            _ => {
                return Err(Error::invalid(
                    "give a workflow's name or a definition (one of the two)",
                ));
            }
        };
        let providers = self.provider_ids();
        // Off the async threads: a definition may be large.
        let (def, checked) = tokio::task::spawn_blocking(move || {
            let r = check::check(
                &def,
                &check::Known {
                    providers: &providers,
                },
            );
            (def, r)
        })
        .await
        .map_err(|e| Error::internal(format!("checking a workflow: {e}")))?;
        checked.map_err(|errs| {
            let said: Vec<String> = errs
                .iter()
                .map(|e| format!("{}: {}", e.location, e.message))
                .collect();
            Error::invalid(format!(
                "workflow {:?} has {} error(s): {}",
                def.name,
                errs.len(),
                said.join("; ")
            ))
        })
    }
}
