//! The help modal: every binding, generated from the `KeyMap` that dispatches them.

use super::layout::centered;
use super::theme;
use super::view::{Ctx, KeyOutcome, View};
use crate::keymap::{KeyMap, Scope};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

#[derive(Debug, Default)]
pub struct HelpView;

impl View for HelpView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        help(cx.km, area, frame);
    }

    /// Any key closes it: it is a transient overlay.
    fn handle_key(&mut self, _k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        KeyOutcome::Close(Vec::new())
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
