//! Modal views drawn over everything: the help (generated from the `KeyMap`), the rename
//! prompt, the delete confirmation and (in `approval`) a pending approval.

use super::layout::centered;
use super::theme;
use crate::keymap::{KeyMap, Scope};
use crate::state::{Modal, State};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub fn render(modal: &Modal, state: &State, km: &KeyMap, area: Rect, frame: &mut Frame) {
    match modal {
        Modal::Help => help(km, area, frame),
        Modal::NewSession {
            providers,
            index,
            policy,
        } => new_session(providers, *index, *policy, area, frame),
        Modal::Approval { id, deny, scroll } => {
            if let Some(a) = state.approvals.get(id) {
                super::approval::render(a, state, deny.as_ref(), *scroll, km, area, frame);
            }
        }
        Modal::Rename { input, .. } => {
            let rect = centered(area, 50, 3);
            let block = Block::bordered()
                .border_style(theme::dim())
                .title(Span::styled(
                    "Rename (Enter to save, Esc to cancel)",
                    theme::bold(),
                ));
            let inner = block.inner(rect);
            frame.render_widget(Clear, rect);
            frame.render_widget(block, rect);
            let before = Span::raw(&input.text[..input.cursor]).width();
            // Show the tail when the title is wider than the box.
            let skip = before.saturating_sub(usize::from(inner.width.saturating_sub(1)));
            let shown: String = input.text.chars().skip(skip).collect();
            frame.render_widget(Paragraph::new(shown), inner);
            frame.set_cursor_position(Position {
                x: inner.x + u16::try_from(before - skip).unwrap_or(0),
                y: inner.y,
            });
        }
        Modal::ConfirmDelete { title, .. } => {
            let rect = centered(area, 50, 4);
            let block = Block::bordered()
                .border_style(theme::failed())
                .title(Span::styled("Delete session", theme::bold()));
            frame.render_widget(Clear, rect);
            let name = if title.is_empty() {
                "(untitled)"
            } else {
                title
            };
            let text = vec![
                Line::from(format!("Delete {name:?} and its history?")),
                Line::from(Span::styled(
                    "y / Enter: delete    n / Esc: keep",
                    theme::dim(),
                )),
            ];
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
                rect,
            );
        }
    }
}

fn new_session(
    providers: &[agentmux_shared::types::ProviderHealth],
    index: usize,
    policy: usize,
    area: Rect,
    frame: &mut Frame,
) {
    let mut lines = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let (mark, style) = if p.available {
            ("● ", theme::assistant())
        } else {
            ("○ ", theme::dim())
        };
        let name = Span::styled(
            format!("{:<10}", p.id),
            if i == index {
                theme::selected(true)
            } else {
                ratatui::style::Style::default()
            },
        );
        lines.push(Line::from(vec![
            Span::styled(mark, style),
            name,
            Span::styled(format!(" {}", p.detail), theme::dim()),
        ]));
    }
    if providers.is_empty() {
        lines.push(Line::from(Span::styled(
            "no providers configured",
            theme::dim(),
        )));
    }
    lines.push(Line::default());
    let mut pol = vec![Span::styled("policy ", theme::dim())];
    for (i, p) in crate::state::POLICIES.iter().enumerate() {
        let style = if i == policy % crate::state::POLICIES.len() {
            theme::selected(true)
        } else {
            theme::dim()
        };
        pol.push(Span::styled(p.to_string(), style));
        pol.push(Span::raw(" "));
    }
    lines.push(Line::from(pol));
    lines.push(Line::from(Span::styled(
        "↑↓ provider  Tab policy  Enter create  Esc cancel",
        theme::dim(),
    )));
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, 64, h);
    let block = Block::bordered()
        .border_style(theme::dim())
        .title(Span::styled("New session", theme::bold()));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// Every binding, grouped by scope: built from the same struct that dispatches keys.
/// `compact` drops the blank lines between groups, for short terminals.
pub fn help_lines(km: &KeyMap, compact: bool) -> Vec<Line<'static>> {
    let entries = km.entries();
    let key_w = entries
        .iter()
        .map(|(_, b)| b.label().chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for scope in [
        Scope::Global,
        Scope::Sessions,
        Scope::Composer,
        Scope::Terminal,
    ] {
        if !lines.is_empty() && !compact {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(scope.title(), theme::bold())));
        for (_, b) in entries.iter().filter(|(s, _)| *s == scope) {
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<key_w$}", b.label()), theme::user()),
                Span::raw(format!("  {}", b.help)),
            ]));
        }
    }
    lines
}

fn help(km: &KeyMap, area: Rect, frame: &mut Frame) {
    let fits = |lines: &[Line]| {
        let w = lines.iter().map(Line::width).max().unwrap_or(0) + 2;
        lines.len() + 2 <= usize::from(area.height) && w <= usize::from(area.width)
    };
    // Spaced out if that fits, else framed without the blank lines, else the fallback below.
    let mut full = help_lines(km, false);
    if !fits(&full) {
        full = help_lines(km, true);
    }
    let want_w = full.iter().map(Line::width).max().unwrap_or(0) + 2;
    let fits = fits(&full);
    let title = Span::styled("Keys (any key closes)", theme::bold());
    frame.render_widget(Clear, area);
    if fits {
        let rect = centered(
            area,
            u16::try_from(want_w).unwrap_or(u16::MAX),
            u16::try_from(full.len() + 2).unwrap_or(u16::MAX),
        );
        let block = Block::bordered().border_style(theme::dim()).title(title);
        frame.render_widget(Clear, rect);
        frame.render_widget(Paragraph::new(full).block(block), rect);
    } else {
        // Small terminal: the whole screen, no frame, no spacing; long lines are clipped.
        frame.render_widget(Paragraph::new(help_lines(km, true)), area);
    }
}
