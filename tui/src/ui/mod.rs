//! Views: each pane and modal implements `view::View` (draw from `&State`, keys to `Intent`s,
//! key hints); `stack::ViewStack` holds them, the main screen at the bottom.

pub mod activity;
pub mod approval;
pub mod composer;
pub mod diff_view;
pub mod filter;
pub mod help;
pub mod highlight;
pub mod layout;
pub mod markdown;
pub mod new_session;
pub mod overlay;
pub mod palette;
pub mod review;
pub mod rules;
pub mod screen;
pub mod search;
pub mod sessions;
pub mod stack;
pub mod status;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod transcript;
pub mod view;

#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod stack_tests;
#[cfg(test)]
mod terminal_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcript_tests;

use crate::keymap::KeyMap;
use crate::state::State;
use ratatui::Frame;
pub use stack::ViewStack;
pub use transcript::Measure;

/// Draws the whole screen and reports the transcript's measurements for scrolling.
pub fn draw(frame: &mut Frame, state: &State, km: &KeyMap, views: &ViewStack) -> Measure {
    views.draw(state, km, frame)
}

/// Views only read `State` and return intents: no file under `ui/` but tests names the app,
/// the daemon client or the worker.
#[cfg(test)]
#[test]
fn ui_imports_no_app_client_or_worker() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui");
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("{dir}: {e}"),
    };
    let mut checked = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        // Spelled in parts so this file does not match itself.
        for module in ["app", "client", "worker"] {
            let banned = format!("crate::{module}");
            assert!(!text.contains(&banned), "ui/{name} uses {banned}");
        }
        checked += 1;
    }
    assert!(checked > 10, "only {checked} files found in {dir}");
}
