//! `App::update` with terminals: events mirrored into the list, the attachment following the
//! selection, keys and paste into the pane, resizes, exits, resyncs and reconnects.

use super::*;
use crate::client::{ScreenSnapshot, TerminalExit};
use crate::state::Focus;
use crate::term_view::Link;
use crate::test_support::{self as ts, event};
use agentmux_shared::types::TerminalStatus;
use crossterm::event::{KeyCode, KeyModifiers};
use pretty_assertions::assert_eq;

fn key(code: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn attach(id: &str, (rows, cols): (u16, u16), generation: u64) -> Action {
    Action::Attach {
        terminal_id: id.into(),
        rows,
        cols,
        generation,
    }
}

fn snapshot(generation: u64, text: &str) -> AppEvent {
    AppEvent::Term {
        generation,
        event: AttachEvent::Snapshot(Box::new(ScreenSnapshot {
            rows: 24,
            cols: 80,
            screen: text.as_bytes().to_vec(),
            ..ScreenSnapshot::default()
        })),
    }
}

fn output(generation: u64, bytes: &[u8]) -> AppEvent {
    AppEvent::Term {
        generation,
        event: AttachEvent::Output(bytes.to_vec().into()),
    }
}

fn contents(app: &App) -> String {
    app.state
        .term
        .as_ref()
        .map(|v| v.screen().contents())
        .unwrap_or_default()
}

fn created(seq: u64, id: &str, name: &str) -> AppEvent {
    event(
        seq,
        "",
        EventPayload::TerminalCreated {
            terminal: ts::terminal(id, name, TerminalStatus::Running),
        },
    )
}

#[test]
fn terminal_events_maintain_the_list() {
    let mut app = ts::app();
    assert_eq!(app.update(created(102, "term_b", "two")), vec![]);
    app.update(created(103, "term_a", "one"));
    let names: Vec<_> = app
        .state
        .terminals
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["one", "two"], "ordered by id");
    let mut exited = ts::terminal("term_b", "two", TerminalStatus::Exited);
    exited.exit_code = 3;
    app.update(event(
        104,
        "",
        EventPayload::TerminalUpdated { terminal: exited },
    ));
    assert_eq!(app.state.terminals[1].exit_code, 3);
    app.update(event(
        105,
        "",
        EventPayload::TerminalRemoved {
            id: "term_a".into(),
        },
    ));
    assert_eq!(app.state.terminals.len(), 1);
    // Creating a terminal elsewhere does not steal the selection.
    assert_eq!(app.state.selected.as_deref(), Some("s1"));
    assert!(app.state.term.is_none());
}

#[test]
fn selecting_a_terminal_attaches_and_leaving_it_detaches() {
    let mut app = ts::app();
    app.update(created(102, "term_a", "sh"));
    app.state.term_area = (20, 50);
    // s1, s2, s3, then the terminal.
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    let actions = app.update(key(KeyCode::Down));
    assert_eq!(actions, vec![attach("term_a", (20, 50), 1)]);
    assert_eq!(app.state.pending, 0, "an attachment is not a call");
    assert_eq!(
        app.state.term.as_ref().map(|v| v.link.clone()),
        Some(Link::Attaching)
    );

    app.update(snapshot(1, "$ ls\r\nfile\r\n$ "));
    app.update(output(1, b"echo"));
    assert_eq!(contents(&app), "$ ls\nfile\n$ echo");
    // Output of an older attachment is ignored.
    app.update(output(0, b"stale"));
    assert_eq!(contents(&app), "$ ls\nfile\n$ echo");

    let actions = app.update(key(KeyCode::Up));
    assert_eq!(actions, vec![Action::Detach]);
    assert!(app.state.term.is_none());
    assert_eq!(app.state.selected.as_deref(), Some("s3"));
}

#[test]
fn keys_go_to_the_program_until_prefix_d() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    let input = |data: &[u8]| {
        vec![Action::TermInput {
            generation: g,
            data: data.to_vec(),
        }]
    };
    assert_eq!(app.update(key(KeyCode::Enter)), vec![]);
    assert_eq!(app.state.focus, Focus::Terminal);
    assert_eq!(app.update(key(KeyCode::Char('l'))), input(b"l"));
    assert_eq!(app.update(key(KeyCode::Enter)), input(b"\r"));
    // Keys the TUI uses elsewhere belong to the program here.
    assert_eq!(app.update(ctrl('c')), input(b"\x03"));
    assert!(!app.state.quit);
    assert_eq!(app.update(key(KeyCode::Tab)), input(b"\t"));
    assert_eq!(app.update(key(KeyCode::Esc)), input(b"\x1b"));
    assert_eq!(app.update(key(KeyCode::Char('q'))), input(b"q"));
    // Prefix twice: one literal prefix.
    assert_eq!(app.update(ctrl('b')), vec![]);
    assert_eq!(app.update(ctrl('b')), input(b"\x02"));
    // Prefix then d: back to the list, nothing sent.
    assert_eq!(app.update(ctrl('b')), vec![]);
    assert_eq!(app.update(key(KeyCode::Char('d'))), vec![]);
    assert_eq!(app.state.focus, Focus::Sessions);
    assert!(app.state.term.is_some(), "still attached, just not focused");
}

#[test]
fn paste_is_bracketed_when_the_program_asked() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    app.update(key(KeyCode::Enter));
    let actions = app.update(AppEvent::Paste("a\nb".into()));
    assert_eq!(
        actions,
        vec![Action::TermInput {
            generation: g,
            data: b"a\rb".to_vec()
        }]
    );
    app.update(output(g, b"\x1b[?2004h"));
    let actions = app.update(AppEvent::Paste("x".into()));
    assert_eq!(
        actions,
        vec![Action::TermInput {
            generation: g,
            data: b"\x1b[200~x\x1b[201~".to_vec()
        }]
    );
}

#[test]
fn pane_size_changes_resize_the_terminal() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    let drawn = |rows, cols| AppEvent::Drawn {
        view_rows: 10,
        max_scroll: 0,
        term_size: (rows, cols),
    };
    assert_eq!(app.update(drawn(20, 50)), vec![]);
    assert_eq!(
        app.update(drawn(30, 70)),
        vec![Action::TermResize {
            generation: g,
            rows: 30,
            cols: 70
        }]
    );
    let size = app.state.term.as_ref().map(|v| v.screen().size());
    assert_eq!(size.map(|(r, c)| (r.get(), c.get())), Some((30, 70)));
    assert_eq!(app.update(drawn(30, 70)), vec![], "sent once");
}

#[test]
fn exit_keeps_the_screen_and_a_restart_reattaches() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    app.update(key(KeyCode::Enter));
    app.update(AppEvent::Term {
        generation: g,
        event: AttachEvent::Exited(TerminalExit {
            code: 3,
            signal: String::new(),
            reason: String::new(),
        }),
    });
    app.update(AppEvent::TermEnded {
        generation: g,
        error: None,
    });
    let v = app.state.term.as_ref();
    assert_eq!(v.map(|v| v.link.clone()), Some(Link::Ended));
    assert_eq!(v.and_then(|v| v.error.clone()), None);
    assert!(
        contents(&app).contains("ls --color"),
        "the final screen stays"
    );
    // Nothing runs: a key goes back to the list.
    assert_eq!(app.update(key(KeyCode::Char('x'))), vec![]);
    assert_eq!(app.state.focus, Focus::Sessions);

    let actions = app.update(event(
        200,
        "",
        EventPayload::TerminalUpdated {
            terminal: ts::terminal("term_1", "sh", TerminalStatus::Running),
        },
    ));
    assert_eq!(actions, vec![attach("term_1", (20, 50), g + 1)]);
}

#[test]
fn leaving_an_unknown_alternate_screen_fetches_a_fresh_snapshot() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    // Attached while vim ran: the snapshot is vim's screen.
    app.update(snapshot(g, "~ vim"));
    let actions = app.update(output(g, b"\x1b[?1049l$ "));
    assert_eq!(actions, vec![attach("term_1", (20, 50), g + 1)]);
    // The new attachment's snapshot replaces the screen.
    app.update(snapshot(g + 1, "$ vim\r\n$ "));
    assert_eq!(contents(&app), "$ vim\n$ ");
}

#[test]
fn reconnect_lists_terminals_and_reattaches() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    let actions = app.update(AppEvent::StreamEnded {
        generation: app.state.stream_gen,
        error: "gone".into(),
    });
    assert!(matches!(actions.as_slice(), [Action::Connect { .. }]));
    assert_eq!(
        app.state.term.as_ref().map(|v| v.link.clone()),
        Some(Link::Ended)
    );
    let actions = app.update(AppEvent::Connected(ts::info(150)));
    assert!(actions.contains(&Action::ListTerminals));
    assert!(actions.contains(&attach("term_1", (20, 50), g + 1)));
    // The session list arriving does not move the selection off the terminal.
    app.update(AppEvent::Reply(Reply::Sessions(vec![ts::session(
        "s1", "x", 1,
    )])));
    assert_eq!(app.state.selected.as_deref(), Some("term_1"));
    // A terminal list without it does, and detaches.
    let actions = app.update(AppEvent::Reply(Reply::Terminals(vec![])));
    assert_eq!(app.state.selected.as_deref(), Some("s1"));
    assert_eq!(actions.first(), Some(&Action::Detach));
}

#[test]
fn attach_errors_show_in_the_pane() {
    let mut app = ts::app_with_terminal(20, 50);
    let g = app.state.term_gen;
    app.update(AppEvent::TermEnded {
        generation: g,
        error: Some(agentmux_shared::Error::not_found("terminal", "term_1")),
    });
    let err = app.state.term.as_ref().and_then(|v| v.error.clone());
    assert!(err.is_some_and(|e| e.starts_with("not_found")));
    assert!(app.state.is_connected());
}
