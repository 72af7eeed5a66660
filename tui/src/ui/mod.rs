//! Views: pure functions of `&State` (plus the transcript's wrap cache) onto a frame.

pub mod composer;
pub mod overlay;
pub mod sessions;
pub mod status;
pub mod theme;
pub mod transcript;

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
    let measure = transcript::render(state, transcript_area, buf, cache);
    status::render(state, km, status_area, buf);
    composer::render(state, composer_area, frame);
    if let Some(modal) = &state.modal {
        overlay::render(modal, km, area, frame);
    }
    measure
}
