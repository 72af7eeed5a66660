//! Snapshot tests of the transcript at 80x24 and 160x48: a markdown answer, tool calls that
//! failed or were denied, and a long diff collapsed and expanded.

use super::*;
use crate::app::{AppEvent, Reply};
use crate::test_support as ts;
use agentmux_shared::types::{FileChange, MessagePage, Role, Session, ToolCall, ToolCallStatus};
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &crate::app::App, w: u16, h: u16) -> String {
    let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
    if let Err(e) = term.draw(|f| {
        draw(f, &app.state, &app.keymap, &app.views);
    }) {
        panic!("draw: {e}");
    }
    term.backend().to_string()
}

const ANSWER: &str = "## The fix\n\nThe parser **dropped** indentation; `wrap()` now keeps it:\n\n```rust\nfn wrap(text: &str) {\n    for line in text.lines() {\n        if line.is_empty() {\n            continue;\n        }\n    }\n}\n```\n\n- kept: leading spaces\n  - nested: tabs as four spaces\n- see [the docs](https://docs.rs/ratatui)\n\n> Quoted: nothing else changed.\n\n| case | before | after |\n|------|-------:|------:|\n| code | 0 | 4 |\n";

/// One session in /work/app with a question and `answer`.
fn app_with(answer: agentmux_shared::types::Message) -> crate::app::App {
    let mut app = crate::app::App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    let s = Session {
        cwd: "/work/app".into(),
        message_count: 2,
        ..ts::session("s1", "indentation", 1)
    };
    app.update(AppEvent::Reply(Reply::Sessions(vec![s])));
    app.update(AppEvent::Reply(Reply::Terminals(vec![])));
    app.update(AppEvent::Reply(Reply::Approvals(vec![])));
    app.update(AppEvent::Reply(Reply::Messages {
        session_id: "s1".into(),
        after_index: 0,
        page: MessagePage {
            messages: vec![
                ts::msg("s1", "m1", 0, Role::User, "Why is my code flattened?"),
                answer,
            ],
            next_index: 0,
            more: false,
            last_seq: 0,
        },
    }));
    app
}

fn markdown_app() -> crate::app::App {
    app_with(ts::msg("s1", "m2", 1, Role::Assistant, ANSWER))
}

#[test]
fn markdown_answer_80x24() {
    let app = markdown_app();
    let screen = render(&app, 80, 24);
    // Markup is gone; the code keeps every leading space.
    assert!(
        !screen.contains("**dropped**") && !screen.contains("## The fix"),
        "{screen}"
    );
    assert!(
        screen.contains("▏         if line.is_empty() {"),
        "{screen}"
    );
    assert_snapshot!(screen);
}

#[test]
fn markdown_answer_160x48() {
    assert_snapshot!(render(&markdown_app(), 160, 48));
}

fn tools_app() -> crate::app::App {
    let mut m = ts::msg("s1", "m2", 1, Role::Assistant, "I tried three things.");
    let call = |id: &str, name: &str, input: &str, status, output: &str| ToolCall {
        id: id.into(),
        name: name.into(),
        input_json: input.into(),
        status,
        output: output.into(),
    };
    m.tools = vec![
        call(
            "t1",
            "Write",
            r#"{"file_path":"/work/app/src/main.rs"}"#,
            ToolCallStatus::Failed,
            "File has not been read yet. Read it first before writing to it.",
        ),
        call(
            "t2",
            "Bash",
            r#"{"command":"rm -rf build"}"#,
            ToolCallStatus::Denied,
            "The user denied this: keep the build directory.",
        ),
        call(
            "t3",
            "Bash",
            r#"{"command":"cargo test"}"#,
            ToolCallStatus::Finished,
            "running 2 tests\ntest a ... ok\ntest b ... ok",
        ),
    ];
    let body: String = (1..=60).map(|i| format!("+line {i}\n")).collect();
    m.changes = vec![FileChange {
        path: "/work/app/src/lib.rs".into(),
        diff: format!("--- /dev/null\n+++ b/src/lib.rs\n@@ -0,0 +1,60 @@\n{body}"),
    }];
    app_with(m)
}

#[test]
fn failed_and_denied_tools_with_reasons_80x24() {
    let app = tools_app();
    let screen = render(&app, 80, 24);
    // Scrolled to the end: the diff's tail is cut while collapsed.
    assert!(screen.contains("more lines (Ctrl-O shows all)"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn failed_and_denied_tools_with_reasons_160x48() {
    let mut app = tools_app();
    // Show the top of the answer, where the tools are.
    app.state.scroll = 1000;
    let screen = render(&app, 160, 48);
    assert!(screen.contains("⚙ Write src/main.rs · failed"), "{screen}");
    assert!(screen.contains("└ File has not been read yet."), "{screen}");
    assert!(screen.contains("⚙ Bash rm -rf build · denied"), "{screen}");
    assert!(
        screen.contains("└ The user denied this: keep the build directory."),
        "{screen}"
    );
    assert!(screen.contains("✎ src/lib.rs"), "{screen}");
    // A finished tool's output waits for Ctrl-O.
    assert!(!screen.contains("test a ... ok"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn long_diff_expanded_160x48() {
    let mut app = tools_app();
    app.state.expanded = true;
    let screen = render(&app, 160, 48);
    assert!(screen.contains("+line 60"), "{screen}");
    assert!(!screen.contains("more lines"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn long_diff_expanded_80x24_shows_tool_output() {
    let mut app = tools_app();
    app.state.expanded = true;
    app.state.scroll = 1000;
    let screen = render(&app, 80, 24);
    assert!(screen.contains("│ test a ... ok"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn reasoning_folds_to_one_line_until_expanded() {
    let mut m = ts::msg("s1", "m2", 1, Role::Assistant, "The answer.");
    m.reasoning = "First I read the file.\nThen I compared.\nDone.".into();
    let mut app = app_with(m);
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("✻ thinking (3 lines, Ctrl-O): First I read the file."),
        "{screen}"
    );
    assert!(!screen.contains("Then I compared."), "{screen}");
    app.state.expanded = true;
    let screen = render(&app, 80, 24);
    assert!(screen.contains("┊ Then I compared."), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn ctrl_f_jumps_to_the_newest_match_and_enter_to_older_ones() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = crate::app::App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    let s = Session {
        message_count: 300,
        ..ts::session("s1", "long", 1)
    };
    app.update(AppEvent::Reply(Reply::Sessions(vec![s])));
    let messages = (0..300u64)
        .map(|i| {
            let text = if i % 100 == 7 {
                format!("needle in message {i}")
            } else {
                format!("message {i}")
            };
            ts::msg("s1", &format!("m{i:03}"), i, Role::Assistant, &text)
        })
        .collect();
    app.update(AppEvent::Reply(Reply::Messages {
        session_id: "s1".into(),
        after_index: 0,
        page: MessagePage {
            messages,
            next_index: 0,
            more: false,
            last_seq: 0,
        },
    }));
    let key = |app: &mut crate::app::App, code, mods| {
        app.update(AppEvent::Key(KeyEvent::new(code, mods)));
    };
    key(&mut app, KeyCode::Char('f'), KeyModifiers::CONTROL);
    for c in "NEEDLE".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    // What the loop does with a draw that jumped.
    let frame = |app: &mut crate::app::App| {
        let Ok(mut term) = Terminal::new(TestBackend::new(80, 24));
        let mut jumped = None;
        let _ = term.draw(|f| jumped = draw(f, &app.state, &app.keymap, &app.views).jumped);
        if let Some(j) = jumped {
            app.update(AppEvent::Jumped(j));
        }
        term.backend().to_string()
    };
    let screen = frame(&mut app);
    let top: Vec<&str> = screen.lines().skip(1).take(3).collect();
    assert!(
        top.iter().any(|l| l.contains("needle in message 207")),
        "the newest match at the top: {screen}"
    );
    assert!(screen.contains("1 of 3"), "{screen}");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let screen = frame(&mut app);
    let top: Vec<&str> = screen.lines().skip(1).take(3).collect();
    assert!(
        top.iter().any(|l| l.contains("needle in message 107")),
        "{screen}"
    );
    assert!(screen.contains("2 of 3"), "{screen}");
    // Esc closes and the view stays where the search left it.
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(app.state.scroll > 0);
}

#[test]
fn a_worktree_session_shows_its_repository_and_branch() {
    let mut app = markdown_app();
    if let Some(s) = app.state.sessions.first_mut() {
        s.workspace = Some(agentmux_shared::types::Workspace {
            repo: "/home/me/src/shop".into(),
            path: "/data/worktrees/s1".into(),
            branch: "agentmux/indentation".into(),
            state: "ready".into(),
            ..Default::default()
        });
    }
    let screen = render(&app, 160, 48);
    assert!(screen.contains("⎇ agentmux/indentation"), "{screen}");
    assert!(screen.contains("shop · idle"), "{screen}");
}
