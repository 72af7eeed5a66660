//! `agentmux approvals ls`, `agentmux approve ID [--always]`, `agentmux deny ID [--message M]`.

use crate::client::Client;
use crate::output::{self, Out};
use agentmux_shared::Result;
use agentmux_shared::types::{Approval, Decision};

pub async fn list(c: &Client, out: &mut Out, session: Option<String>, all: bool) -> Result<()> {
    let approvals = c
        .list_approvals(session.as_deref().unwrap_or_default(), !all)
        .await?;
    if out.json {
        return out.json_value(&approvals);
    }
    let now = output::now_ms();
    let rows: Vec<Vec<String>> = approvals
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.session_id.clone(),
                a.status.as_str().to_string(),
                a.summary.clone(),
                output::ago(now, a.created_at_ms),
            ]
        })
        .collect();
    out.raw(&output::table(
        &["ID", "SESSION", "STATUS", "REQUEST", "CREATED"],
        &rows,
    ))
}

pub async fn decide(
    c: &Client,
    out: &mut Out,
    id: &str,
    decision: &str,
    message: &str,
) -> Result<()> {
    let a = c
        .decide_approval(id, Decision::parse(decision)?, message)
        .await?;
    if out.json {
        return out.json_value(&a);
    }
    out.line(&line(&a))
}

fn line(a: &Approval) -> String {
    format!("{} {} ({})", a.id, a.status.as_str(), a.summary)
}
