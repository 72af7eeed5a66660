//! `agentmux approvals ls|rules|revoke`, `agentmux approve ID [--always]`, `agentmux deny ID
//! [--message M]`.

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

/// A session's "allow always" rules: one tool a line (a table for people).
pub async fn rules(c: &Client, out: &mut Out, session: &str) -> Result<()> {
    let s = c.get_session(session).await?;
    if out.json {
        return out.json_value(&s.rules);
    }
    if s.rules.is_empty() {
        return out.line(&format!("{}: no rules (every request asks)", s.name));
    }
    let now = output::now_ms();
    let rows: Vec<Vec<String>> = s
        .rules
        .iter()
        .map(|r| vec![r.tool.clone(), output::ago(now, r.created_at_ms)])
        .collect();
    out.raw(&output::table(&["TOOL", "ALLOWED"], &rows))
}

pub async fn revoke(c: &Client, out: &mut Out, session: &str, tool: &str) -> Result<()> {
    let s = c.revoke_rule(session, tool).await?;
    if out.json {
        return out.json_value(&s);
    }
    out.line(&format!("{}: {tool} asks again", s.name))
}
