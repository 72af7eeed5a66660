//! Typing the session list's filter (`f`): the list narrows as you type (its top row shows
//! the filter); Up/Down move through what matches, Enter keeps the filter, Esc clears it.

use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::keymap::Hint;
use crate::state::Input;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

#[derive(Debug)]
pub struct FilterView {
    pub input: Input,
}

impl FilterView {
    pub fn new(current: &str) -> FilterView {
        FilterView {
            input: Input::with_text(current),
        }
    }

    fn set(&self, typing: bool) -> Intent {
        Intent::Filter {
            text: self.input.text.clone(),
            typing,
        }
    }
}

impl View for FilterView {
    /// The list draws the filter; nothing covers it.
    fn render(&self, _cx: &Ctx, _area: Rect, _frame: &mut Frame) {}

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        match k.code {
            KeyCode::Esc => KeyOutcome::Close(vec![Intent::Filter {
                text: String::new(),
                typing: false,
            }]),
            KeyCode::Enter => KeyOutcome::Close(vec![self.set(false)]),
            KeyCode::Up => KeyOutcome::intent(Intent::Select(-1)),
            KeyCode::Down => KeyOutcome::intent(Intent::Select(1)),
            _ => {
                edit(&mut self.input, k);
                KeyOutcome::intent(self.set(true))
            }
        }
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        paste_line(&mut self.input, text);
        KeyOutcome::intent(self.set(true))
    }

    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        vec![
            Hint {
                key: "Enter".into(),
                help: "keep the filter",
            },
            Hint {
                key: "Esc".into(),
                help: "clear it",
            },
            Hint {
                key: "↑/↓".into(),
                help: "move",
            },
        ]
    }
}
