//! Drafts kept per session (and across a restart), and recall of sent messages.

use super::*;
use crate::test_support as ts;
use crossterm::event::{KeyCode, KeyModifiers};
use pretty_assertions::assert_eq;

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.update(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn each_session_keeps_its_draft_and_a_restart_brings_them_back() {
    let mut app = ts::app();
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "draft for one");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.state.selected.as_deref(), Some("s2"));
    assert_eq!(app.state.composer.text, "", "s2 has no draft yet");
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "for two");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.state.composer.text, "draft for one");
    assert!(app.state.drafts_dirty);

    // What the TUI saves at exit is what a new one starts with.
    let saved = crate::drafts::snapshot(&app.state);
    let mut again = ts::app();
    crate::drafts::restore(&mut again.state, saved);
    key(&mut again, KeyCode::Down);
    key(&mut again, KeyCode::Up);
    assert_eq!(again.state.composer.text, "draft for one");
    key(&mut again, KeyCode::Down);
    assert_eq!(again.state.composer.text, "for two");
}

#[test]
fn up_and_down_recall_sent_messages() {
    let mut app = ts::app();
    key(&mut app, KeyCode::Tab);
    for text in ["first", "second"] {
        typed(&mut app, text);
        let sent = key(&mut app, KeyCode::Enter);
        assert!(matches!(&sent[..], [Action::Send { content, .. }] if content == text));
    }
    typed(&mut app, "unfinished");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.state.composer.text, "second");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.state.composer.text, "first");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.state.composer.text, "first", "the oldest stays");
    key(&mut app, KeyCode::Down);
    assert_eq!(app.state.composer.text, "second");
    key(&mut app, KeyCode::Down);
    assert_eq!(
        app.state.composer.text, "unfinished",
        "past the newest: the draft"
    );
    assert_eq!(app.state.history, ["first", "second"]);
}

#[test]
fn a_draft_cleared_with_ctrl_c_is_not_brought_back_and_the_editor_fills_one_in() {
    let mut app = ts::app();
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "gone soon");
    app.state.drafts_dirty = false;
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.state.drafts_dirty, "the cleared draft is saved as gone");
    assert!(crate::drafts::snapshot(&app.state).drafts.is_empty());

    typed(&mut app, "short");
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('g'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(app.state.edit_request.as_deref(), Some("short"));
    app.update(AppEvent::Edited(Ok("a much longer\nmessage".into())));
    assert_eq!(app.state.composer.text, "a much longer\nmessage");
    app.update(AppEvent::Edited(Err("vi exited with 1".into())));
    assert_eq!(app.state.composer.text, "a much longer\nmessage", "kept");
}
