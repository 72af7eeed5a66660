//! Moving around at scale: the list filter, first/last, the transcript's top and bottom.

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

fn visible(app: &App) -> Vec<String> {
    app.state.item_ids().map(str::to_string).collect()
}

#[test]
fn the_filter_narrows_the_list_as_you_type_and_esc_clears_it() {
    let mut app = ts::app();
    assert_eq!(visible(&app), ["s1", "s2", "s3"]);
    key(&mut app, KeyCode::Char('f'));
    assert!(app.state.filtering);
    typed(&mut app, "FLAKY");
    assert_eq!(visible(&app), ["s2"], "case-insensitive, over titles");
    assert_eq!(
        app.state.selected.as_deref(),
        Some("s2"),
        "the selection follows"
    );
    // Every word must match, in any field: the provider and the status count too.
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "openai busy");
    assert_eq!(visible(&app), ["s1"]);
    typed(&mut app, " nothing-like-this");
    assert!(visible(&app).is_empty());
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        (app.state.filter.as_str(), app.state.filtering),
        ("", false)
    );
    assert_eq!(visible(&app), ["s1", "s2", "s3"]);

    // Enter keeps it; the list keys then move within what matches.
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, "e");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.state.filter, "e");
    assert!(!app.state.filtering);
    assert!(
        app.views
            .top_as::<crate::ui::filter::FilterView>()
            .is_none()
    );
}

#[test]
fn first_and_last_and_the_transcript_ends() {
    let mut app = ts::app();
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.state.selected.as_deref(), Some("s3"));
    key(&mut app, KeyCode::Home);
    assert_eq!(app.state.selected.as_deref(), Some("s1"));
    key(&mut app, KeyCode::End);
    assert_eq!(app.state.selected.as_deref(), Some("s3"));
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.state.selected.as_deref(), Some("s1"));

    app.update(AppEvent::Drawn {
        view_rows: 10,
        max_scroll: 30,
        term_size: (24, 80),
    });
    let ctrl = |code| AppEvent::Key(KeyEvent::new(code, KeyModifiers::CONTROL));
    app.update(ctrl(KeyCode::Home));
    assert_eq!(app.state.scroll, 30, "to the oldest loaded line");
    app.update(ctrl(KeyCode::End));
    assert_eq!(app.state.scroll, 0, "back to following the newest");
}

#[test]
fn the_palette_runs_any_action_by_name() {
    let mut app = ts::app();
    let ctrl_p = AppEvent::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL));
    app.update(ctrl_p.clone());
    assert!(
        app.views
            .top_as::<crate::ui::palette::PaletteView>()
            .is_some()
    );
    typed(&mut app, "new session");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Action::ListProviders]);
    assert!(
        app.views
            .top_as::<crate::ui::palette::PaletteView>()
            .is_none()
    );

    // From the composer, a list action moves the focus there first.
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.state.focus, Focus::Composer);
    typed(&mut app, "a:b");
    assert_eq!(
        app.state.composer.text, "a:b",
        "`:` is text in the composer"
    );
    app.update(ctrl_p);
    typed(&mut app, "rename");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.state.focus, Focus::Sessions);
    assert!(
        app.views
            .top_as::<crate::ui::overlay::RenameView>()
            .is_some()
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "no such action at all");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![], "nothing to run");
}

#[test]
fn s_sorts_the_list_by_directory_then_by_name() {
    let mut app = ts::app();
    for (id, dir) in [("s1", "/w/zeta"), ("s2", "/w/alpha"), ("s3", "/w/zeta")] {
        if let Some(s) = app.state.sessions.iter_mut().find(|s| s.id == id) {
            s.cwd = dir.into();
        }
    }
    assert_eq!(visible(&app), ["s1", "s2", "s3"], "newest first");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(
        visible(&app),
        ["s2", "s1", "s3"],
        "a directory's sessions together"
    );
    key(&mut app, KeyCode::Char('s'));
    // By name: "flaky-test-hunt", "refactor-the-parser", then the untitled one's id end.
    assert_eq!(visible(&app), ["s2", "s1", "s3"]);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(visible(&app), ["s1", "s2", "s3"]);
}

#[test]
fn r_lists_the_sessions_rules_and_d_revokes_one() {
    let mut app = ts::app();
    if let Some(s) = app.state.sessions.iter_mut().find(|s| s.id == "s1") {
        s.rules = vec![agentmux_shared::types::ApprovalRule {
            tool: "Write".into(),
            created_at_ms: 1,
        }];
    }
    key(&mut app, KeyCode::Char('R'));
    assert!(app.views.top_as::<crate::ui::rules::RulesView>().is_some());
    assert_eq!(
        key(&mut app, KeyCode::Char('d')),
        vec![Action::RevokeRule {
            session: "s1".into(),
            tool: "Write".into()
        }]
    );
    key(&mut app, KeyCode::Esc);
    assert!(!app.views.has_modal());
}
