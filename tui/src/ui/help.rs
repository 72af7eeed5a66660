//! The help modal: every binding, generated from the `KeyMap` that dispatches them.

use super::layout::centered;
use super::theme;
use super::view::{Ctx, KeyOutcome, View};
use crate::keymap::{KeyMap, Scope};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// `scroll`: lines scrolled down, for terminals too short for every binding.
#[derive(Debug, Default)]
pub struct HelpView {
    pub scroll: usize,
}

impl View for HelpView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        help(cx.km, self.scroll, area, frame);
    }

    /// j/k, arrows and PgUp/PgDn scroll; any other key closes it (a transient overlay).
    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        let page = 10;
        self.scroll = match k.code {
            KeyCode::Char('j') | KeyCode::Down => self.scroll + 1,
            KeyCode::Char('k') | KeyCode::Up => self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll + page,
            KeyCode::PageUp => self.scroll.saturating_sub(page),
            _ => return KeyOutcome::Close(Vec::new()),
        };
        KeyOutcome::done()
    }
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

fn help(km: &KeyMap, scroll: usize, area: Rect, frame: &mut Frame) {
    let fits = |lines: &[Line]| {
        let w = lines.iter().map(Line::width).max().unwrap_or(0) + 2;
        lines.len() + 2 <= usize::from(area.height) && w <= usize::from(area.width)
    };
    // Spaced out if that fits, else framed without the blank lines, else scrolled.
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
        return;
    }
    // Short terminal: the whole screen, no frame; the last row says how to see the rest.
    let rows = usize::from(area.height.saturating_sub(1)).max(1);
    let max = full.len().saturating_sub(rows);
    let scroll = scroll.min(max);
    let shown: Vec<Line> = full.into_iter().skip(scroll).take(rows).collect();
    frame.render_widget(Paragraph::new(shown), area);
    let more = if scroll < max {
        format!("↓ {} more: j/↓/PgDn · any other key closes", max - scroll)
    } else {
        "k/↑/PgUp: back · any other key closes".to_string()
    };
    let footer = Rect {
        y: area.y + area.height.saturating_sub(1),
        height: 1,
        ..area
    };
    frame.render_widget(Paragraph::new(Span::styled(more, theme::dim())), footer);
}
