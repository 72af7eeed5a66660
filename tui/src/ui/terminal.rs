//! The terminal pane: a header line, then the daemon terminal's screen drawn cell by cell
//! from the local vt100 copy. A frame touches only the cells the pane shows.

use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::keymap::{Hint, KeyMap, Scope};
use crate::output::{command_line, terminal_status};
use crate::state::{Focus, State};
use crate::term_view::Link;
use agentmux_shared::types::TerminalStatus;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// The pane's screen area inside `area` (below the header line).
pub fn screen_area(area: Rect) -> Rect {
    Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(1),
        ..area
    }
}

/// The terminal pane: every key and paste goes to the program; `App::update` runs them
/// through the prefix machine.
#[derive(Debug, Default)]
pub struct TerminalPane;

impl View for TerminalPane {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        let focused = cx.top && cx.state.focus == Focus::Terminal;
        render(cx.state, cx.km, focused, area, frame);
    }

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        KeyOutcome::intent(Intent::TermKey(k))
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        KeyOutcome::intent(Intent::TermPaste(text.to_string()))
    }

    fn hints(&self, cx: &Ctx) -> Vec<Hint> {
        cx.km.hints(Scope::Terminal)
    }
}

fn render(state: &State, km: &KeyMap, focused: bool, area: Rect, frame: &mut Frame) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let header = header(state, km, focused);
    frame
        .buffer_mut()
        .set_line(area.x, area.y, &header, area.width);
    let Some(view) = &state.term else { return };
    let screen = screen_area(area);
    render_screen(view.screen(), screen, frame.buffer_mut());
    let s = view.screen();
    if focused && view.link == Link::Attached && !s.hide_cursor() {
        let (row, col) = s.cursor_position();
        if row < screen.height && col < screen.width {
            frame.set_cursor_position(Position {
                x: screen.x + col,
                y: screen.y + row,
            });
        }
    }
}

fn header(state: &State, km: &KeyMap, focused: bool) -> Line<'static> {
    let Some(t) = state.selected_terminal() else {
        return Line::default();
    };
    let name_style = if focused { theme::bold() } else { theme::dim() };
    let mut spans = vec![
        Span::styled(t.name.clone(), name_style),
        Span::styled(format!("  {}", command_line(t)), theme::dim()),
        Span::raw("  "),
    ];
    let status_style = match t.status {
        TerminalStatus::Running => theme::assistant(),
        TerminalStatus::Exited => theme::failed(),
    };
    spans.push(Span::styled(terminal_status(t), status_style));
    let view = state.term.as_ref();
    if let Some(err) = view.and_then(|v| v.error.as_ref()) {
        spans.push(Span::styled(format!("  {err}"), theme::failed()));
    } else if view.is_some_and(|v| v.link == Link::Attaching) {
        spans.push(Span::styled("  attaching…", theme::busy()));
    }
    let hint = if focused {
        format!("  {} d: back to the list", km.term_prefix.label())
    } else {
        "  Enter: type here".to_string()
    };
    spans.push(Span::styled(hint, theme::dim()));
    Line::from(spans)
}

/// Draws the visible part of `screen` into `area`: rows and columns past either edge are
/// skipped, so the cost is the smaller of the two sizes.
pub fn render_screen(screen: &vt100::Screen, area: Rect, buf: &mut Buffer) {
    let (rows, cols) = screen.size();
    let rows = rows.get().min(area.height);
    let cols = cols.get().min(area.width);
    for row in 0..rows {
        let y = area.y + row;
        for col in 0..cols {
            let x = area.x + col;
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            let Some(out) = buf.cell_mut(Position { x, y }) else {
                continue;
            };
            let style = cell_style(cell);
            if cell.is_wide_continuation() {
                // Covered by the wide character to its left; ratatui skips it when drawing.
                out.reset();
                out.set_style(style);
                continue;
            }
            let text = cell.contents();
            if text.is_empty() || (cell.is_wide() && col + 1 >= cols) {
                // A wide character cut by the pane's edge would spill over it.
                out.set_symbol(" ");
            } else {
                out.set_symbol(text);
            }
            out.set_style(style);
        }
    }
}

fn color(c: vt100::Color) -> Color {
    match c {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(i) => Color::Indexed(i),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

/// A vt100 cell's colours and attributes as a ratatui style (complete, so nothing of what
/// was under the pane shows through).
pub fn cell_style(cell: &vt100::Cell) -> Style {
    let mut m = Modifier::empty();
    for (on, flag) in [
        (cell.bold(), Modifier::BOLD),
        (cell.dim(), Modifier::DIM),
        (cell.italic(), Modifier::ITALIC),
        (cell.underline(), Modifier::UNDERLINED),
        (cell.inverse(), Modifier::REVERSED),
    ] {
        if on {
            m |= flag;
        }
    }
    Style {
        fg: Some(color(cell.fgcolor())),
        bg: Some(color(cell.bgcolor())),
        add_modifier: m,
        sub_modifier: Modifier::all() - m,
        ..Style::default()
    }
}
