//! What an agent did besides talking, drawn under its answer: the plan, each tool call with its
//! status (a failure's or refusal's reason under it), and each file change as a coloured diff.
//! Collapsed, long diffs are cut; expanded, every tool's output and every diff line show.

use super::text::{truncate, wrap};
use super::theme::{self, INDENT as BODY_INDENT};
use agentmux_shared::types::{Message, ToolCall, ToolCallStatus};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::path::Path;

/// Diff lines shown per file change while collapsed.
const MAX_DIFF_LINES: usize = 40;

/// How the activity is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    pub width: usize,
    /// Show tool output and diffs in full.
    pub expanded: bool,
    /// The session's directory: paths inside it are shown relative to it.
    pub cwd: &'a str,
}

pub fn lines(m: &Message, lay: Layout, out: &mut Vec<Line<'static>>) {
    let width = lay.width;
    if !m.plan.is_empty() {
        out.push(Line::from(vec![
            Span::raw(BODY_INDENT),
            Span::styled("Plan", theme::dim()),
        ]));
        for p in &m.plan {
            let (mark, style) = match p.status.as_str() {
                "completed" => ("[x]", theme::dim()),
                "in_progress" => ("[>]", theme::busy()),
                _ => ("[ ]", Style::default()),
            };
            for (i, l) in wrap(&p.content, width.saturating_sub(4))
                .into_iter()
                .enumerate()
            {
                let lead = if i == 0 { mark } else { "   " };
                out.push(Line::from(vec![
                    Span::raw(BODY_INDENT),
                    Span::styled(format!("{lead} "), style),
                    Span::styled(l, style),
                ]));
            }
        }
    }
    for t in &m.tools {
        out.push(tool_line(t, width, lay.cwd));
        if lay.expanded {
            tool_input(t, lay, out);
        }
        tool_output(t, lay, out);
    }
    for c in &m.changes {
        out.push(Line::from(vec![
            Span::raw(BODY_INDENT),
            Span::styled("✎ ", theme::busy()),
            Span::styled(relative(lay.cwd, &c.path), theme::bold()),
        ]));
        let diff: Vec<&str> = c
            .diff
            .lines()
            .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
            .collect();
        let shown = if lay.expanded {
            diff.len()
        } else {
            MAX_DIFF_LINES
        };
        for l in diff.iter().take(shown) {
            let style = if l.starts_with('+') {
                theme::diff_add()
            } else if l.starts_with('-') {
                theme::diff_del()
            } else if l.starts_with("@@") {
                theme::diff_hunk()
            } else {
                theme::dim()
            };
            let shown = truncate(&l.replace('\t', "    "), width.saturating_sub(2));
            out.push(Line::from(vec![
                Span::raw(format!("{BODY_INDENT}  ")),
                Span::styled(shown, style),
            ]));
        }
        if diff.len() > shown {
            out.push(Line::from(Span::styled(
                format!(
                    "{BODY_INDENT}  … {} more lines (Ctrl-O shows all)",
                    diff.len() - shown
                ),
                theme::dim(),
            )));
        }
    }
}

/// `path` relative to `cwd` when inside it (as the agent was asked to work there).
pub fn relative(cwd: &str, path: &str) -> String {
    match Path::new(path).strip_prefix(cwd) {
        Ok(rel) if !cwd.is_empty() && !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.to_string(),
    }
}

/// Expanded, a tool's whole input under its line (the line names only its path or
/// command): each field on its own line, long text values as written.
fn tool_input(t: &ToolCall, lay: Layout, out: &mut Vec<Line<'static>>) {
    let Ok(serde_json::Value::Object(fields)) =
        serde_json::from_str::<serde_json::Value>(&t.input_json)
    else {
        return;
    };
    let lead = format!("{BODY_INDENT}  ");
    let width = lay.width.saturating_sub(4).max(8);
    for (k, v) in fields {
        let text = match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        for (i, l) in wrap(&text, width.saturating_sub(k.len() + 2).max(4))
            .into_iter()
            .enumerate()
        {
            let key = if i == 0 {
                format!("{k}: ")
            } else {
                " ".repeat(k.len() + 2)
            };
            out.push(Line::from(vec![
                Span::raw(lead.clone()),
                Span::styled("› ", theme::dim()),
                Span::styled(key, theme::dim()),
                Span::raw(l),
            ]));
        }
    }
}

/// Under a tool line: collapsed, a failure's or refusal's reason (its first line); expanded,
/// the whole output, each line as written behind a bar.
fn tool_output(t: &ToolCall, lay: Layout, out: &mut Vec<Line<'static>>) {
    let output = t.output.trim_end();
    if output.is_empty() {
        return;
    }
    let bad = matches!(t.status, ToolCallStatus::Failed | ToolCallStatus::Denied);
    let style = if bad { theme::failed() } else { theme::dim() };
    let lead = format!("{BODY_INDENT}  ");
    if !lay.expanded {
        if bad {
            let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let more = output.lines().count() > 1;
            let text = format!("└ {}{}", first.trim(), if more { " …" } else { "" });
            out.push(Line::from(vec![
                Span::raw(lead),
                Span::styled(truncate(&text, lay.width.saturating_sub(2)), style),
            ]));
        }
        return;
    }
    for l in wrap(output, lay.width.saturating_sub(4).max(1)) {
        out.push(Line::from(vec![
            Span::raw(lead.clone()),
            Span::styled("│ ", theme::dim()),
            Span::styled(l, style),
        ]));
    }
}

/// `⚙ Write hello.txt · finished` on one line, cut to the width.
fn tool_line(t: &ToolCall, width: usize, cwd: &str) -> Line<'static> {
    let style = match t.status {
        ToolCallStatus::Failed => theme::failed(),
        ToolCallStatus::Denied => theme::denied(),
        ToolCallStatus::Finished => theme::dim(),
        ToolCallStatus::Started | ToolCallStatus::Updated => theme::busy(),
    };
    let what = describe(&t.input_json);
    let what = if what.starts_with('/') {
        relative(cwd, &what)
    } else {
        what
    };
    let text = if what.is_empty() {
        format!("{} · {}", t.name, t.status)
    } else {
        format!("{} {} · {}", t.name, what, t.status)
    };
    Line::from(vec![
        Span::raw(BODY_INDENT),
        Span::styled("⚙ ", style),
        Span::styled(truncate(&text, width.saturating_sub(2)), style),
    ])
}

/// The part of a tool's input a person recognises: a path, a command, a pattern.
fn describe(input: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(input) else {
        return String::new();
    };
    for k in [
        "file_path",
        "filePath",
        "path",
        "command",
        "cmd",
        "pattern",
        "url",
        "query",
    ] {
        match &v[k] {
            serde_json::Value::String(s) => return s.lines().next().unwrap_or("").to_string(),
            serde_json::Value::Array(a) => {
                let parts: Vec<&str> = a.iter().filter_map(|x| x.as_str()).collect();
                if !parts.is_empty() {
                    return parts.join(" ");
                }
            }
            _ => {}
        }
    }
    String::new()
}
