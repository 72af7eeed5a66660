//! One file's diff on screen, unified or side by side. Rows are found by counting, never
//! built for the whole file: a frame draws the rows in view, whatever the diff's size.

use super::theme;
use agentmux_shared::types::{DiffFile, DiffHunk, DiffLine};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// What a row of the diff shows.
enum Row<'a> {
    Hunk(&'a DiffHunk),
    /// Unified: one line.
    Line(&'a DiffLine),
    /// Side by side: the old line and the new one (either may be missing).
    Pair(Option<&'a DiffLine>, Option<&'a DiffLine>),
}

/// Rows of a hunk shown side by side: context lines pair with themselves; a run of removed
/// lines pairs with the run of added lines after it.
fn pairs(h: &DiffHunk) -> Vec<(Option<&DiffLine>, Option<&DiffLine>)> {
    let mut out = Vec::new();
    let lines = &h.lines;
    let mut i = 0;
    while i < lines.len() {
        if !matches!(lines[i].kind.as_str(), "removed" | "added") {
            out.push((Some(&lines[i]), Some(&lines[i])));
            i += 1;
            continue;
        }
        let del_start = i;
        while i < lines.len() && lines[i].kind == "removed" {
            i += 1;
        }
        let add_start = i;
        while i < lines.len() && lines[i].kind == "added" {
            i += 1;
        }
        let (dels, adds) = (&lines[del_start..add_start], &lines[add_start..i]);
        for k in 0..dels.len().max(adds.len()) {
            out.push((dels.get(k), adds.get(k)));
        }
    }
    out
}

fn hunk_rows(h: &DiffHunk, side: bool) -> usize {
    1 + if side { pairs(h).len() } else { h.lines.len() }
}

/// How many rows the file's diff takes.
pub fn rows(f: &DiffFile, side: bool) -> usize {
    f.hunks.iter().map(|h| hunk_rows(h, side)).sum()
}

/// The row where the hunk after (`dir` 1) or before (`dir` -1) row `at` starts.
pub fn hunk_start(f: &DiffFile, side: bool, at: usize, dir: isize) -> usize {
    let mut starts = Vec::with_capacity(f.hunks.len());
    let mut row = 0;
    for h in &f.hunks {
        starts.push(row);
        row += hunk_rows(h, side);
    }
    if dir > 0 {
        starts.into_iter().find(|s| *s > at).unwrap_or(at)
    } else {
        starts.into_iter().rev().find(|s| *s < at).unwrap_or(0)
    }
}

/// The first row at or after `from` (wrapping) whose text holds `query` (any case).
pub fn find(f: &DiffFile, side: bool, from: usize, query: &str) -> Option<usize> {
    let q = query.to_lowercase();
    let mut hits = Vec::new();
    let mut row = 0;
    for h in &f.hunks {
        row += 1;
        if side {
            for (a, b) in pairs(h) {
                if [a, b]
                    .into_iter()
                    .flatten()
                    .any(|l| l.text.to_lowercase().contains(&q))
                {
                    hits.push(row);
                }
                row += 1;
            }
        } else {
            for l in &h.lines {
                if l.text.to_lowercase().contains(&q) {
                    hits.push(row);
                }
                row += 1;
            }
        }
    }
    hits.iter()
        .find(|r| **r >= from)
        .or_else(|| hits.first())
        .copied()
}

/// The rows `skip..skip + n`, found by skipping whole hunks.
fn visible(f: &DiffFile, side: bool, skip: usize, n: usize) -> Vec<Row<'_>> {
    let mut out = Vec::with_capacity(n);
    let mut row = 0;
    for h in &f.hunks {
        let len = hunk_rows(h, side);
        if row + len <= skip {
            row += len;
            continue;
        }
        if row >= skip {
            out.push(Row::Hunk(h));
        }
        row += 1;
        if side {
            for (a, b) in pairs(h) {
                if row >= skip {
                    out.push(Row::Pair(a, b));
                }
                row += 1;
                if out.len() >= n {
                    return out;
                }
            }
        } else {
            let from = skip.saturating_sub(row).min(h.lines.len());
            for l in &h.lines[from..] {
                out.push(Row::Line(l));
                if out.len() >= n {
                    return out;
                }
            }
            row += h.lines.len();
        }
        if out.len() >= n {
            break;
        }
    }
    out.truncate(n);
    out
}

fn style_of(kind: &str) -> Style {
    match kind {
        "added" => theme::diff_add(),
        "removed" => theme::diff_del(),
        _ => Style::default(),
    }
}

/// The text with tabs as spaces, and `query` (any case) marked.
fn text_spans(text: &str, style: Style, query: &str) -> Vec<Span<'static>> {
    let text = text.replace('\t', "    ");
    if query.is_empty() {
        return vec![Span::styled(text, style)];
    }
    let lower = text.to_lowercase();
    let q = query.to_lowercase();
    // Lowercasing can change byte lengths; mark only where it did not.
    if lower.len() != text.len() {
        return vec![Span::styled(text, style)];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find(&q).map(|i| i + at) {
        if !text.is_char_boundary(i) || !text.is_char_boundary(i + q.len()) {
            break;
        }
        spans.push(Span::styled(text[at..i].to_string(), style));
        spans.push(Span::styled(
            text[i..i + q.len()].to_string(),
            style.add_modifier(Modifier::REVERSED),
        ));
        at = i + q.len();
    }
    spans.push(Span::styled(text[at..].to_string(), style));
    spans
}

fn number(n: u32, w: usize) -> String {
    if n == 0 {
        " ".repeat(w)
    } else {
        format!("{n:>w$}")
    }
}

/// Draws rows `scroll..` of the file's diff in `area`.
pub fn render(f: &DiffFile, side: bool, scroll: usize, query: &str, area: Rect, buf: &mut Buffer) {
    let last = f.hunks.last().map_or(0, |h| {
        (h.old_start + h.old_lines).max(h.new_start + h.new_lines)
    });
    let w = last.to_string().len().max(3);
    let half = usize::from(area.width) / 2;
    for (i, row) in visible(f, side, scroll, usize::from(area.height))
        .into_iter()
        .enumerate()
    {
        let y = area.y + u16::try_from(i).unwrap_or(u16::MAX);
        match row {
            Row::Hunk(h) => {
                let head = format!(
                    "@@ -{},{} +{},{} @@ {}",
                    h.old_start, h.old_lines, h.new_start, h.new_lines, h.section
                );
                buf.set_line(
                    area.x,
                    y,
                    &Line::styled(head, theme::diff_hunk()),
                    area.width,
                );
            }
            Row::Line(l) => {
                let sign = match l.kind.as_str() {
                    "added" => "+",
                    "removed" => "-",
                    _ => " ",
                };
                let style = style_of(&l.kind);
                let mut spans = vec![Span::styled(
                    format!("{} {} ", number(l.old_line, w), number(l.new_line, w)),
                    theme::dim(),
                )];
                spans.push(Span::styled(sign.to_string(), style));
                spans.extend(text_spans(&l.text, style, query));
                buf.set_line(area.x, y, &Line::from(spans), area.width);
            }
            Row::Pair(a, b) => {
                for (k, l) in [a, b].into_iter().enumerate() {
                    let x = area.x + u16::try_from(k * half).unwrap_or(0);
                    let width = u16::try_from(half.saturating_sub(1)).unwrap_or(0);
                    let Some(l) = l else {
                        continue;
                    };
                    let n = if k == 0 { l.old_line } else { l.new_line };
                    let style = if l.kind == "context" {
                        Style::default()
                    } else {
                        style_of(&l.kind)
                    };
                    let sign = match l.kind.as_str() {
                        "added" => "+",
                        "removed" => "-",
                        _ => " ",
                    };
                    let mut spans = vec![
                        Span::styled(format!("{} ", number(n, w)), theme::dim()),
                        Span::styled(sign.to_string(), style),
                    ];
                    spans.extend(text_spans(&l.text, style, query));
                    buf.set_line(x, y, &Line::from(spans), width);
                }
                let bar = area.x + u16::try_from(half.saturating_sub(1)).unwrap_or(0);
                buf.set_string(bar, y, "│", theme::dim());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: &str, text: &str, old: u32, new: u32) -> DiffLine {
        DiffLine {
            kind: kind.into(),
            text: text.into(),
            old_line: old,
            new_line: new,
        }
    }

    fn file() -> DiffFile {
        DiffFile {
            hunks: vec![
                DiffHunk {
                    old_start: 1,
                    old_lines: 3,
                    new_start: 1,
                    new_lines: 3,
                    lines: vec![
                        line("context", "a", 1, 1),
                        line("removed", "b", 2, 0),
                        line("added", "B", 0, 2),
                        line("added", "B2", 0, 3),
                        line("context", "c", 3, 4),
                    ],
                    ..DiffHunk::default()
                },
                DiffHunk {
                    old_start: 10,
                    old_lines: 1,
                    new_start: 11,
                    new_lines: 1,
                    lines: vec![line("removed", "x", 10, 0)],
                    ..DiffHunk::default()
                },
            ],
            ..DiffFile::default()
        }
    }

    #[test]
    fn rows_pair_a_removed_run_with_the_added_run_after_it() {
        let f = file();
        assert_eq!(rows(&f, false), 1 + 5 + 1 + 1);
        // a | a, b | B, - | B2, c | c; then the second hunk's x | -.
        assert_eq!(rows(&f, true), 1 + 4 + 1 + 1);
        assert_eq!(hunk_start(&f, false, 0, 1), 6);
        assert_eq!(hunk_start(&f, true, 6, -1), 5);
        assert_eq!(find(&f, false, 0, "b2"), Some(4));
        assert_eq!(find(&f, false, 5, "a"), Some(1), "wraps around");
    }

    #[test]
    fn only_the_rows_in_view_are_taken() {
        let f = file();
        let v = visible(&f, false, 3, 3);
        assert!(matches!(v[0], Row::Line(l) if l.text == "B"));
        assert!(matches!(v[2], Row::Line(l) if l.text == "c"));
        let v = visible(&f, false, 6, 10);
        assert_eq!(v.len(), 2);
        assert!(matches!(v[0], Row::Hunk(_)));
    }
}
