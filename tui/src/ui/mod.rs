//! Views: pure functions of `&State` (plus the transcript's wrap cache) onto a frame.

pub mod activity;
pub mod approval;
pub mod composer;
pub mod layout;
pub mod overlay;
pub mod sessions;
pub mod status;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod transcript;

#[cfg(test)]
mod terminal_tests;
#[cfg(test)]
mod tests;

use crate::keymap::KeyMap;
use crate::state::State;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
pub use transcript::{Measure, TranscriptCache};

/// Draws the whole screen and reports the transcript's measurements for scrolling.
pub fn draw(frame: &mut Frame, state: &State, km: &KeyMap, cache: &mut TranscriptCache) -> Measure {
    let area = frame.area();
    let [main, status_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let list_w = (main.width / 3).clamp(12, 30);
    let [list, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(1)]).areas(main);
    // The pane replaces transcript and composer; its size is measured either way, so an
    // attach can start at the size it will be shown at.
    let term_area = ratatui::layout::Rect {
        x: right.x + 1,
        width: right.width.saturating_sub(1),
        ..right
    };
    let term_screen = terminal::screen_area(term_area);
    let term_size = (term_screen.height, term_screen.width);
    if state.selected_terminal().is_some() {
        let buf = frame.buffer_mut();
        sessions::render(state, list, buf);
        status::render(state, km, status_area, buf);
        terminal::render(state, km, term_area, frame);
        if let Some(modal) = &state.modal {
            overlay::render(modal, state, km, area, frame);
        }
        return Measure {
            rows: state.view_rows,
            max_scroll: state.max_scroll.unwrap_or(0),
            term_size,
        };
    }
    let [transcript_area, composer_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(composer::height(state)),
    ])
    .areas(right);
    // One column of air between the list's border and the transcript.
    let transcript_area = ratatui::layout::Rect {
        x: transcript_area.x + 1,
        width: transcript_area.width.saturating_sub(1),
        ..transcript_area
    };
    let buf = frame.buffer_mut();
    sessions::render(state, list, buf);
    let mut measure = transcript::render(state, transcript_area, buf, cache);
    measure.term_size = term_size;
    status::render(state, km, status_area, buf);
    composer::render(state, composer_area, frame);
    if let Some(modal) = &state.modal {
        overlay::render(modal, state, km, area, frame);
    }
    measure
}
