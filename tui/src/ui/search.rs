//! Searching the transcript (`/` in the list, Ctrl-F anywhere): the view jumps to the newest message containing what is
//! typed; Enter or ↓ goes to the next older match, ↑ back to a newer one, Esc closes and stays.

use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::keymap::Hint;
use crate::state::Input;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

#[derive(Debug, Default)]
pub struct SearchView {
    pub input: Input,
}

impl SearchView {
    fn find(&self, step: isize) -> Intent {
        Intent::Search {
            query: self.input.text.clone(),
            step,
        }
    }
}

impl View for SearchView {
    /// A prompt on the row above the status bar.
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        if area.height < 2 {
            return;
        }
        let row = Rect {
            y: area.y + area.height - 2,
            height: 1,
            ..area
        };
        let found = match &cx.state.search {
            Some(s) if s.hits.is_empty() && !s.query.is_empty() => "  no match".to_string(),
            Some(s) if !s.hits.is_empty() => format!("  {} of {}", s.at + 1, s.hits.len()),
            _ => String::new(),
        };
        let line = Line::from(vec![
            Span::styled("search: ", theme::attention()),
            Span::raw(self.input.text.clone()),
            Span::styled(found, theme::dim()),
            Span::styled("   Enter/↓ older  ↑ newer  Esc close", theme::dim()),
        ]);
        frame.render_widget(Clear, row);
        frame.render_widget(Paragraph::new(line), row);
        let col = 8 + Span::raw(&self.input.text[..self.input.cursor]).width();
        frame.set_cursor_position(Position {
            x: row.x + u16::try_from(col).unwrap_or(0).min(row.width),
            y: row.y,
        });
    }

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        match k.code {
            KeyCode::Esc => KeyOutcome::Close(Vec::new()),
            KeyCode::Enter | KeyCode::Down => KeyOutcome::intent(self.find(1)),
            KeyCode::Up => KeyOutcome::intent(self.find(-1)),
            _ => {
                edit(&mut self.input, k);
                KeyOutcome::intent(self.find(0))
            }
        }
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        paste_line(&mut self.input, text);
        KeyOutcome::intent(self.find(0))
    }

    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        vec![
            Hint {
                key: "Enter".into(),
                help: "older match",
            },
            Hint {
                key: "Esc".into(),
                help: "close",
            },
        ]
    }
}
