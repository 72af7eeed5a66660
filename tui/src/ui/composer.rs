//! The message composer at the bottom of the transcript, a few lines tall.

use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, pasted};
use crate::keymap::{Hint, Scope};
use crate::state::{Focus, Input, State};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Rows shown before the composer scrolls its own text.
const MAX_ROWS: usize = 6;

/// Height including the border line.
pub fn height(state: &State) -> u16 {
    let rows = state.composer.text.split('\n').count().clamp(1, MAX_ROWS);
    u16::try_from(rows + 1).unwrap_or(2)
}

/// The composer pane: its text lives in `State` (a failed send gives it back), so its keys
/// are edits for `App::update` to make.
#[derive(Debug, Default)]
pub struct ComposerPane;

impl View for ComposerPane {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        render(
            cx.state,
            cx.top && cx.state.focus == Focus::Composer,
            area,
            frame,
        );
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let km = cx.km;
        KeyOutcome::intent(if km.leave_composer.matches(&k) {
            Intent::Focus(Focus::Sessions)
        } else if km.newline.matches(&k) {
            Intent::Insert("\n".into())
        } else if km.send.matches(&k) {
            Intent::Send
        } else if km.editor.matches(&k) {
            Intent::OpenEditor
        } else if km.recall_older.matches(&k) && on_first_line(&cx.state.composer) {
            Intent::Recall(-1)
        } else if km.recall_newer.matches(&k) && on_last_line(&cx.state.composer) {
            Intent::Recall(1)
        } else {
            Intent::Edit(k)
        })
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        KeyOutcome::Consumed(vec![
            Intent::Focus(Focus::Composer),
            Intent::Insert(pasted(text)),
        ])
    }

    fn hints(&self, cx: &Ctx) -> Vec<Hint> {
        cx.km.hints(Scope::Composer)
    }
}

fn render(state: &State, focused: bool, area: Rect, frame: &mut Frame) {
    let title = if focused {
        Span::styled("Message", theme::bold())
    } else {
        Span::styled("Message (Tab to write)", theme::dim())
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme::dim())
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let view = layout(
        &state.composer,
        usize::from(inner.width),
        usize::from(inner.height),
    );
    let lines: Vec<Line> = view.lines.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines), inner);
    if focused {
        let (row, col) = view.cursor;
        frame.set_cursor_position(Position {
            x: inner.x + u16::try_from(col).unwrap_or(0),
            y: inner.y + u16::try_from(row).unwrap_or(0),
        });
    }
}

fn on_first_line(input: &Input) -> bool {
    !input.text[..input.cursor].contains('\n')
}

fn on_last_line(input: &Input) -> bool {
    !input.text[input.cursor..].contains('\n')
}

struct Visible {
    lines: Vec<String>,
    /// Row and column of the cursor inside the view.
    cursor: (usize, usize),
}

/// Picks the rows and horizontal offset that keep the cursor visible.
fn layout(input: &Input, width: usize, rows: usize) -> Visible {
    let before = &input.text[..input.cursor];
    let cur_row = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = input.text[line_start..input.cursor]
        .chars()
        .map(|c| Span::raw(&*c.encode_utf8(&mut [0; 4])).width())
        .sum();
    let first_row = cur_row.saturating_sub(rows - 1);
    let hscroll = col.saturating_sub(width.saturating_sub(1));
    let lines = input
        .text
        .split('\n')
        .skip(first_row)
        .take(rows)
        .map(|l| skip_columns(l, hscroll))
        .collect();
    Visible {
        lines,
        cursor: (cur_row - first_row, col - hscroll),
    }
}

fn skip_columns(s: &str, n: usize) -> String {
    let mut w = 0;
    s.chars()
        .skip_while(|c| {
            let skip = w < n;
            w += Span::raw(&*c.encode_utf8(&mut [0; 4])).width();
            skip
        })
        .collect()
}
