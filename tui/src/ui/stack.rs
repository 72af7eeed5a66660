//! The views on screen: the main `Screen` at the bottom and modals stacked above it. The top
//! view gets a key first and may take it, pass it down, or close itself; the status bar
//! shows the hints of the view that has the keys.

use super::screen::Screen;
use super::status;
use super::transcript::Measure;
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::keymap::{Hint, KeyMap};
use crate::state::State;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use std::any::Any;

#[derive(Debug, Default)]
pub struct ViewStack {
    pub screen: Screen,
    /// Bottom first.
    modals: Vec<Box<dyn View>>,
}

impl ViewStack {
    pub fn push(&mut self, view: Box<dyn View>) {
        self.modals.push(view);
    }

    pub fn pop(&mut self) -> Option<Box<dyn View>> {
        self.modals.pop()
    }

    pub fn has_modal(&self) -> bool {
        !self.modals.is_empty()
    }

    /// The top modal, if it is a `T`.
    pub fn top_as<T: View>(&self) -> Option<&T> {
        let top: &dyn View = self.modals.last()?.as_ref();
        (top as &dyn Any).downcast_ref::<T>()
    }

    pub fn top_as_mut<T: View>(&mut self) -> Option<&mut T> {
        let top: &mut dyn View = self.modals.last_mut()?.as_mut();
        (top as &mut dyn Any).downcast_mut::<T>()
    }

    /// Offers the key to each view from the top down until one takes it.
    pub fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> Vec<Intent> {
        self.route(cx, |v, cx| v.handle_key(k, cx))
    }

    pub fn handle_paste(&mut self, text: &str, cx: &Ctx) -> Vec<Intent> {
        self.route(cx, |v, cx| v.handle_paste(text, cx))
    }

    fn route(
        &mut self,
        cx: &Ctx,
        mut offer: impl FnMut(&mut dyn View, &Ctx) -> KeyOutcome,
    ) -> Vec<Intent> {
        for i in (0..self.modals.len()).rev() {
            let Some(view) = self.modals.get_mut(i) else {
                continue;
            };
            match offer(view.as_mut(), cx) {
                KeyOutcome::Pass => {}
                KeyOutcome::Consumed(intents) => return intents,
                KeyOutcome::Close(intents) => {
                    self.modals.remove(i);
                    return intents;
                }
            }
        }
        // The screen cannot close; what it passes on is nobody's.
        match offer(&mut self.screen, cx) {
            KeyOutcome::Pass => Vec::new(),
            KeyOutcome::Consumed(intents) | KeyOutcome::Close(intents) => intents,
        }
    }

    /// The status bar's hints: the top view's. A modal with none lists its keys in its own
    /// frame and leaves the bar to the view below (what the approval snapshots show).
    pub fn hints(&self, cx: &Ctx) -> Vec<Hint> {
        self.modals
            .iter()
            .rev()
            .map(|m| m.hints(cx))
            .find(|h| !h.is_empty())
            .unwrap_or_else(|| self.screen.hints(cx))
    }

    /// Draws the whole screen: panes, status bar, then the modals bottom first.
    pub fn draw(&self, state: &State, km: &KeyMap, frame: &mut Frame) -> Measure {
        let area = frame.area();
        let [main, status_area] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
        let cx = Ctx {
            top: self.modals.is_empty(),
            ..Ctx::new(state, km)
        };
        let measure = self.screen.draw(&cx, main, frame);
        status::render(state, km, &self.hints(&cx), status_area, frame.buffer_mut());
        for (i, m) in self.modals.iter().enumerate() {
            let cx = Ctx {
                top: i + 1 == self.modals.len(),
                ..cx
            };
            m.render(&cx, area, frame);
        }
        measure
    }
}
