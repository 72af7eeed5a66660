//! The review view driven through `App::update`: what it asks the daemon for, how replies and
//! `workspace.changed` keep it fresh, and what its keys send.

use super::*;
use crate::action::GitChange;
use crate::test_support as ts;
use agentmux_shared::types::{GitFile, GitStatus};
use crossterm::event::{KeyCode, KeyModifiers};
use pretty_assertions::assert_eq;

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.update(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn status() -> GitStatus {
    GitStatus {
        branch: "agentmux/refactor".into(),
        files: vec![GitFile {
            path: "src/lib.rs".into(),
            unstaged: "M".into(),
            ..GitFile::default()
        }],
        ..GitStatus::default()
    }
}

fn reviewing() -> App {
    let mut app = ts::app();
    let out = key(&mut app, KeyCode::Char('v'));
    assert_eq!(
        out,
        vec![
            Action::GitStatus {
                session: "s1".into()
            },
            Action::GitDiff {
                session: "s1".into(),
                path: String::new()
            }
        ]
    );
    assert!(
        app.views
            .top_as::<crate::ui::review::ReviewView>()
            .is_some()
    );
    app.update(AppEvent::Reply(Reply::GitStatus {
        session: "s1".into(),
        status: Box::new(status()),
    }));
    app.update(AppEvent::Reply(Reply::GitDiff {
        session: "s1".into(),
        path: String::new(),
        diff: Box::new(ts::diff()),
    }));
    app
}

#[test]
fn v_opens_the_review_and_a_change_while_loading_asks_again_once() {
    let mut app = reviewing();
    let g = &app.state.git["s1"];
    assert!(g.reviewing && g.diff.is_some() && !g.diff_loading);
    // A burst of changes: one call each, and one more after the answers.
    let change = |seq| {
        ts::event(
            seq,
            "s1",
            EventPayload::WorkspaceChanged {
                reason: "files".into(),
                paths: vec!["src/lib.rs".into()],
                truncated: false,
            },
        )
    };
    assert_eq!(app.update(change(200)).len(), 2);
    assert!(
        app.update(change(201)).is_empty(),
        "in flight: marked, not sent"
    );
    let again = app.update(AppEvent::Reply(Reply::GitDiff {
        session: "s1".into(),
        path: String::new(),
        diff: Box::new(ts::diff()),
    }));
    assert_eq!(
        again,
        vec![Action::GitDiff {
            session: "s1".into(),
            path: String::new()
        }]
    );
    key(&mut app, KeyCode::Esc);
    assert!(!app.views.has_modal());
    assert!(!app.state.git["s1"].reviewing && app.state.git["s1"].diff.is_none());
}

#[test]
fn review_keys_stage_commit_merge_and_discard() {
    let mut app = reviewing();
    // The first file is src/lib.rs (unstaged): s stages it.
    assert_eq!(
        key(&mut app, KeyCode::Char('s')),
        vec![Action::Git {
            session: "s1".into(),
            change: GitChange::Stage(vec!["src/lib.rs".into()])
        }]
    );
    key(&mut app, KeyCode::Char('c'));
    for c in "fix it".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Action::Git {
            session: "s1".into(),
            change: GitChange::Commit {
                message: "fix it".into(),
                staged: false
            }
        }]
    );
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(
        key(&mut app, KeyCode::Char('s')),
        vec![Action::Git {
            session: "s1".into(),
            change: GitChange::Merge("squash".into())
        }]
    );
    key(&mut app, KeyCode::Char('d'));
    assert!(
        key(&mut app, KeyCode::Char('n')).is_empty(),
        "anything but y keeps it"
    );
    key(&mut app, KeyCode::Char('d'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Action::Git {
            session: "s1".into(),
            change: GitChange::Discard(vec!["src/lib.rs".into()])
        }]
    );
    // What a change did is shown, and the work is fetched again.
    let out = app.update(AppEvent::Reply(Reply::GitChanged {
        session: "s1".into(),
        note: "committed abc fix it".into(),
    }));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(
        app.state.git["s1"].note.as_deref(),
        Some("committed abc fix it")
    );
    // A file the first load cut short is fetched whole on Enter.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Action::GitDiff {
            session: "s1".into(),
            path: "big.txt".into()
        }]
    );
}
