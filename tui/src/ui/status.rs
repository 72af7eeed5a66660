//! The one-line status bar: connection, event log position, pending calls, notices and hints.

use super::theme;
use crate::keymap::{Hint, KeyMap};
use crate::state::{Conn, State};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// `hints`: the keys of the view that has them (`ViewStack::hints`).
pub fn render(state: &State, km: &KeyMap, hints: &[Hint], area: Rect, buf: &mut Buffer) {
    let mut left = match &state.conn {
        Conn::Connected { version } => vec![
            Span::styled("● ", Style::default().fg(Color::Green)),
            Span::raw(format!("agentmuxd {version}")),
        ],
        Conn::Connecting {
            attempt: 0,
            error: None,
        } => {
            vec![Span::styled("◌ connecting…", theme::busy())]
        }
        Conn::Connecting { .. } => vec![Span::styled("◌ reconnecting…", theme::busy())],
    };
    left.push(Span::styled(
        format!("  seq {}", state.last_seq),
        theme::dim(),
    ));
    if !state.approvals.is_empty() {
        let n = state.approvals.len();
        left.push(Span::styled(
            format!(
                "  {} {n} approval{} ({})",
                theme::APPROVAL,
                if n == 1 { "" } else { "s" },
                km.approvals.label()
            ),
            theme::attention(),
        ));
    }
    if state.pending > 0 {
        left.push(Span::styled(
            format!("  pending {}", state.pending),
            theme::dim(),
        ));
    }
    let right: Vec<Span> = if let Some(n) = &state.notice {
        vec![Span::styled(n.clone(), theme::failed())]
    } else if let Conn::Connecting { error: Some(e), .. } = &state.conn {
        vec![Span::styled(e.clone(), theme::dim())]
    } else {
        Vec::new()
    };
    let left = Line::from(left);
    let used = u16::try_from(left.width()).unwrap_or(area.width);
    let right = if right.is_empty() {
        fitting_hints(hints, usize::from(area.width.saturating_sub(used + 3)))
    } else {
        right
    };
    left.render(area, buf);
    // The right part gets what is left, clipped at the edge rather than wrapped.
    let gap = 3;
    if area.width > used + gap {
        let rest = Rect {
            x: area.x + used + gap,
            width: area.width - used - gap,
            ..area
        };
        buf.set_line(rest.x, rest.y, &Line::from(right), rest.width);
    }
}

/// As many hints as fit whole, in priority order: a cut-off hint helps nobody.
fn fitting_hints(hints: &[Hint], width: usize) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for h in hints {
        let w = Span::raw(&h.key).width() + 1 + Span::raw(h.help).width();
        let gap = if spans.is_empty() { 0 } else { 2 };
        if used + gap + w > width {
            continue;
        }
        if gap > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(h.key.clone(), theme::bold()));
        spans.push(Span::styled(format!(" {}", h.help), theme::dim()));
        used += gap + w;
    }
    spans
}
