//! Small modals: the rename prompt, the delete confirmation and the new-session picker. Each
//! holds what it edits; what it decides goes out as an `Action` when it closes.

use super::layout::centered;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::action::Action;
use crate::state::Input;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// Renaming a session: Enter saves, Esc cancels.
#[derive(Debug)]
pub struct RenameView {
    pub id: String,
    pub input: Input,
}

impl RenameView {
    pub fn new(id: &str, title: &str) -> RenameView {
        RenameView {
            id: id.to_string(),
            input: Input::with_text(title),
        }
    }
}

impl View for RenameView {
    fn render(&self, _cx: &Ctx, area: Rect, frame: &mut Frame) {
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
        let before = Span::raw(&self.input.text[..self.input.cursor]).width();
        // Show the tail when the title is wider than the box.
        let skip = before.saturating_sub(usize::from(inner.width.saturating_sub(1)));
        let shown: String = self.input.text.chars().skip(skip).collect();
        frame.render_widget(Paragraph::new(shown), inner);
        frame.set_cursor_position(Position {
            x: inner.x + u16::try_from(before - skip).unwrap_or(0),
            y: inner.y,
        });
    }

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        match k.code {
            KeyCode::Esc => KeyOutcome::Close(Vec::new()),
            KeyCode::Enter => KeyOutcome::Close(vec![Intent::Call(Action::Rename {
                id: self.id.clone(),
                title: self.input.text.trim().to_string(),
            })]),
            _ => {
                edit(&mut self.input, k);
                KeyOutcome::done()
            }
        }
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        paste_line(&mut self.input, text);
        KeyOutcome::done()
    }
}

/// Deleting a session and its history, once confirmed.
#[derive(Debug)]
pub struct ConfirmDeleteView {
    pub id: String,
    pub title: String,
}

impl View for ConfirmDeleteView {
    fn render(&self, _cx: &Ctx, area: Rect, frame: &mut Frame) {
        let rect = centered(area, 50, 4);
        let block = Block::bordered()
            .border_style(theme::failed())
            .title(Span::styled("Delete session", theme::bold()));
        frame.render_widget(Clear, rect);
        let name = if self.title.is_empty() {
            "(untitled)"
        } else {
            self.title.as_str()
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

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        match k.code {
            KeyCode::Char('y') | KeyCode::Enter => {
                KeyOutcome::Close(vec![Intent::Call(Action::Delete {
                    id: self.id.clone(),
                })])
            }
            KeyCode::Char('n') | KeyCode::Esc => KeyOutcome::Close(Vec::new()),
            _ => KeyOutcome::done(),
        }
    }
}
