//! `agentmux providers ls`, `agentmux providers install NAME [--version V]` (follows the job's
//! `provider.install` events, printing npm's output) and `agentmux providers jobs`.

use crate::cli::ProvidersCmd;
use crate::client::Client;
use crate::exit::{Exit, Failure};
use crate::output::{self, Out};
use agentmux_shared::types::{EventPayload, InstallJob, InstallState, StreamItem};
use agentmux_shared::{Error, ErrorKind, Result};
use futures_util::StreamExt;

pub async fn run(c: &Client, out: &mut Out, cmd: ProvidersCmd) -> std::result::Result<(), Failure> {
    match cmd {
        ProvidersCmd::Ls => {
            let providers = c.list_providers().await?;
            if out.json {
                return Ok(out.json_value(&providers)?);
            }
            Ok(out.raw(&output::providers_table(&providers))?)
        }
        ProvidersCmd::Jobs => {
            let jobs = c.list_install_jobs().await?;
            if out.json {
                return Ok(out.json_value(&jobs)?);
            }
            Ok(out.raw(&output::install_jobs_table(&jobs, output::now_ms()))?)
        }
        ProvidersCmd::Install { name, version } => {
            install(c, out, &name, version.as_deref().unwrap_or_default())
                .await
                // The install ran and failed: not a conflict, whatever the daemon calls it.
                .map_err(|e| match e.kind {
                    ErrorKind::FailedPrecondition => Failure::new(Exit::Failed, e),
                    _ => Failure::from(e),
                })
        }
    }
}

async fn install(c: &Client, out: &mut Out, name: &str, version: &str) -> Result<()> {
    // The head before the request: following from it replays every event of the new job.
    let head = c.info().await?.last_seq;
    let job = c.install_provider(name, version).await?;
    if !job.state.is_final() {
        progress(
            out,
            &format!(
                "{}: installing {} with npm into {}",
                job.id, job.package, job.prefix
            ),
        )?;
    }
    let job = if job.state.is_final() {
        job
    } else {
        follow(c, out, &job.id, head).await?
    };
    if out.json {
        out.json_value(&job)?;
    }
    match job.state {
        InstallState::Succeeded => {
            if !out.json {
                let version = if job.version.is_empty() {
                    "(version unknown)".to_string()
                } else {
                    job.version.clone()
                };
                out.line(&format!(
                    "installed {} {version} at {}",
                    job.provider, job.path
                ))?;
            }
            Ok(())
        }
        InstallState::Failed | InstallState::Interrupted => Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "install of {} {}: {}",
                job.provider,
                job.state.as_str(),
                job.error
            ),
        )),
        InstallState::Queued | InstallState::Running => Err(Error::internal(format!(
            "install job {} is still {}",
            job.id,
            job.state.as_str()
        ))),
    }
}

/// Progress goes to stdout for people and to stderr with --json (stdout carries only the job).
fn progress(out: &mut Out, line: &str) -> Result<()> {
    if out.json {
        out.err_line(line);
        Ok(())
    } else {
        out.line(line)
    }
}

/// Prints the job's output lines as its events arrive; returns the job once it is over.
async fn follow(c: &Client, out: &mut Out, job_id: &str, mut after: u64) -> Result<InstallJob> {
    loop {
        let mut stream = c.subscribe(after, "").await?;
        let mut resumed = false;
        while let Some(item) = stream.next().await {
            match item? {
                StreamItem::Event(e) => {
                    after = e.seq;
                    if let EventPayload::ProviderInstall { job, lines } = &e.payload
                        && job.id == job_id
                    {
                        for l in lines {
                            progress(out, l)?;
                        }
                        if job.state.is_final() {
                            return Ok(job.clone());
                        }
                    }
                }
                StreamItem::Heartbeat { .. } => {}
                StreamItem::Lagged { resume_after_seq } => {
                    after = resume_after_seq.max(after);
                    resumed = true;
                    break;
                }
            }
        }
        if !resumed {
            // The daemon went away (a restart marks the job interrupted): say what it knows.
            return match c.get_install_job(job_id).await {
                Ok(j) if j.state.is_final() => Ok(j),
                _ => Err(Error::unavailable(format!(
                    "the event stream ended before install job {job_id} did"
                ))),
            };
        }
    }
}
