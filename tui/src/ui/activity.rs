//! What an agent did besides talking, drawn under its answer: the plan, each tool call with its
//! status, and each file change as a coloured diff (long diffs are cut).

use super::text::{truncate, wrap};
use super::theme::{self, INDENT as BODY_INDENT};
use agentmux_shared::types::{Message, ToolCall};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Diff lines shown per file change before the rest is elided.
const MAX_DIFF_LINES: usize = 40;

pub fn lines(m: &Message, width: usize, out: &mut Vec<Line<'static>>) {
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
        out.push(tool_line(t, width));
    }
    for c in &m.changes {
        out.push(Line::from(vec![
            Span::raw(BODY_INDENT),
            Span::styled("✎ ", theme::busy()),
            Span::styled(c.path.clone(), theme::bold()),
        ]));
        let diff: Vec<&str> = c
            .diff
            .lines()
            .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
            .collect();
        for l in diff.iter().take(MAX_DIFF_LINES) {
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
        if diff.len() > MAX_DIFF_LINES {
            out.push(Line::from(Span::styled(
                format!(
                    "{BODY_INDENT}  … {} more lines",
                    diff.len() - MAX_DIFF_LINES
                ),
                theme::dim(),
            )));
        }
    }
}

/// `⚙ Write hello.txt · finished` on one line, cut to the width.
fn tool_line(t: &ToolCall, width: usize) -> Line<'static> {
    let style = match t.status.as_str() {
        "failed" => theme::failed(),
        "finished" | "completed" => theme::dim(),
        _ => theme::busy(),
    };
    let what = describe(&t.input_json);
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
