//! The session list: two rows per session (title with an unread marker; provider and status).

use super::theme;
use crate::state::{Focus, State};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let focused = state.focus == Focus::Sessions && state.modal.is_none();
    let title_style = if focused { theme::bold() } else { theme::dim() };
    let block = Block::new()
        .borders(Borders::RIGHT)
        .border_style(theme::dim())
        .title(Span::styled("Sessions", title_style));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let per_page = usize::from(inner.height / 2).max(1);
    let selected = state.selected_index().unwrap_or(0);
    // Keep the selection on screen; the list is short enough to not need smoother paging.
    let first = selected.saturating_sub(per_page - 1);
    let width = usize::from(inner.width);
    for (row, s) in state.sessions.iter().enumerate().skip(first).take(per_page) {
        let y = inner.y + u16::try_from((row - first) * 2).unwrap_or(0);
        let is_sel = state.selected.as_deref() == Some(s.id.as_str());
        let marker = if state.unread.contains(&s.id) {
            Span::styled(theme::UNREAD, theme::assistant())
        } else {
            Span::raw(" ")
        };
        let title = truncate(&theme::title_of(s), width.saturating_sub(2));
        let mut title_span = Span::raw(format!("{title:<w$}", w = width.saturating_sub(2)));
        if is_sel {
            title_span = title_span.style(theme::selected(focused));
        }
        let line1 = Line::from(vec![marker, Span::raw(" "), title_span]);
        let status = s.display_status();
        let mut spans = vec![Span::raw("  ")];
        // The provider only when it fits whole: a cut-off id helps nobody.
        if width >= s.provider.chars().count() + status.len() + 5 {
            spans.push(Span::styled(s.provider.clone(), theme::dim()));
            spans.push(Span::styled(" · ", theme::dim()));
        }
        spans.push(Span::styled(status, theme::status(s)));
        let line2 = Line::from(spans);
        buf.set_line(inner.x, y, &line1, inner.width);
        if y + 1 < inner.y + inner.height {
            buf.set_line(inner.x, y + 1, &line2, inner.width);
        }
    }
    if state.sessions.is_empty() {
        let hint = Line::from(Span::styled(
            "(none)",
            Style::default().fg(ratatui::style::Color::DarkGray),
        ));
        buf.set_line(inner.x + 1, inner.y, &hint, inner.width.saturating_sub(1));
    }
}

/// Cuts to `max` columns, ending with `…` when something was dropped.
pub fn truncate(s: &str, max: usize) -> String {
    if Span::raw(s).width() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = Span::raw(&*c.encode_utf8(&mut [0; 4])).width();
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    if max > 0 {
        out.push('…');
    }
    out
}
