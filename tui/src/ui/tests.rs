//! Snapshot tests of whole screens on a `TestBackend` (80x24 and 40x20), from fixed fixtures.

use super::*;
use crate::app::{AppEvent, Reply};
use crate::state::{Conn, Focus, Input};
use crate::test_support as ts;
use crate::ui::approval::ApprovalView;
use crate::ui::help::HelpView;
use crate::ui::new_session::NewSessionView;
use crate::ui::overlay::ConfirmDeleteView;
use agentmux_shared::types::{MessagePage, PlanStatus, Role, ToolCallStatus};
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

#[test]
fn main_view_80x24() {
    let mut app = ts::app();
    app.state.unread.insert("s2".into());
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn main_view_40x20() {
    let mut app = ts::app();
    app.state.unread.insert("s2".into());
    assert_snapshot!(render(&app, 40, 20));
}

#[test]
fn composer_focused_multiline_80x24() {
    let mut app = ts::app();
    app.state.focus = Focus::Composer;
    app.state.composer = Input::with_text("Also add tests\nfor the error paths");
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn help_overlay_80x24() {
    let mut app = ts::app();
    app.views.push(Box::new(HelpView::default()));
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn help_overlay_40x20() {
    let mut app = ts::app();
    app.views.push(Box::new(HelpView::default()));
    assert_snapshot!(render(&app, 40, 20));
}

#[test]
fn delete_confirm_80x24() {
    let mut app = ts::app();
    app.views.push(Box::new(ConfirmDeleteView {
        id: "s1".into(),
        title: "refactor the parser".into(),
    }));
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn disconnected_status_bar_80x24() {
    let mut app = ts::app();
    app.state.conn = Conn::Connecting {
        attempt: 3,
        error: Some("connection refused".into()),
    };
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn disconnected_status_bar_40x20() {
    let mut app = ts::app();
    app.state.conn = Conn::Connecting {
        attempt: 3,
        error: Some("connection refused".into()),
    };
    assert_snapshot!(render(&app, 40, 20));
}

#[test]
fn empty_daemon_80x24() {
    let mut app = crate::app::App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    app.update(AppEvent::Reply(Reply::Sessions(vec![])));
    app.update(AppEvent::Reply(Reply::Terminals(vec![])));
    app.update(AppEvent::Reply(Reply::Approvals(vec![])));
    assert_snapshot!(render(&app, 80, 24));
}

/// 100,000 messages: a frame wraps only what reaches the viewport, and scrolling a page
/// wraps about a page more.
#[test]
fn huge_transcript_renders_only_the_viewport() {
    let mut app = crate::app::App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    let mut s = ts::session("big", "big", 1);
    s.message_count = 100_000;
    app.update(AppEvent::Reply(Reply::Sessions(vec![s])));
    let messages = (0..100_000u64)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            ts::msg(
                "big",
                &format!("m{i:06}"),
                i,
                role,
                &format!("message number {i}"),
            )
        })
        .collect();
    app.update(AppEvent::Reply(Reply::Messages {
        session_id: "big".into(),
        after_index: 0,
        page: MessagePage {
            messages,
            next_index: 0,
            more: false,
            last_seq: 0,
        },
    }));
    let measured = |app: &crate::app::App| app.views.screen.transcript.measured();
    let screen = render(&app, 80, 24);
    assert!(screen.contains("message number 99999"), "{screen}");
    assert!(measured(&app) <= 10, "measured {} messages", measured(&app));
    // Same frame again: everything comes from the cache.
    render(&app, 80, 24);
    assert!(measured(&app) <= 10, "measured {} messages", measured(&app));
    app.state.scroll = 40;
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("message number 99999"), "{screen}");
    assert!(measured(&app) <= 30, "measured {} messages", measured(&app));
}

fn with_approval() -> crate::app::App {
    let mut app = ts::app();
    let mut long = ts::approval("apr_2", "s2");
    long.summary = "Bash: cargo test".into();
    app.update(AppEvent::Reply(Reply::Approvals(vec![
        ts::approval("apr_1", "s1"),
        long,
    ])));
    app
}

#[test]
fn approval_modal_80x24() {
    let app = with_approval();
    assert!(app.views.top_as::<ApprovalView>().is_some());
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn approval_modal_40x20() {
    assert_snapshot!(render(&with_approval(), 40, 20));
}

#[test]
fn approval_deny_prompt_80x24() {
    let mut app = with_approval();
    app.views.pop();
    app.views.push(Box::new(ApprovalView {
        id: "apr_1".into(),
        deny: Some(Input::with_text("write it under tmp/ instead")),
        scroll: 0,
    }));
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn approval_badges_in_the_list_80x24() {
    let mut app = with_approval();
    app.views.pop();
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn transcript_with_tool_calls_diff_and_plan_80x24() {
    use agentmux_shared::types::{FileChange, PlanEntry, ToolCall};
    let mut app = ts::app();
    let t = app.state.transcripts.get_mut("s1").unwrap();
    let m = t.messages.last_mut().unwrap();
    m.plan = vec![
        PlanEntry {
            content: "Extract the lexer".into(),
            status: PlanStatus::Completed,
            priority: String::new(),
        },
        PlanEntry {
            content: "Write the parser".into(),
            status: PlanStatus::InProgress,
            priority: String::new(),
        },
    ];
    m.tools = vec![
        ToolCall {
            id: "t1".into(),
            name: "Write".into(),
            input_json: r#"{"file_path":"src/lexer.rs"}"#.into(),
            status: ToolCallStatus::Finished,
            output: String::new(),
        },
        ToolCall {
            id: "t2".into(),
            name: "Bash".into(),
            input_json: r#"{"command":"cargo test"}"#.into(),
            status: ToolCallStatus::Started,
            output: String::new(),
        },
    ];
    m.changes = vec![FileChange {
        path: "src/lexer.rs".into(),
        diff: "--- a/src/lexer.rs\n+++ b/src/lexer.rs\n@@ -1,2 +1,2 @@\n-pub struct Lexer;\n+pub struct Lexer<'a> { src: &'a str }\n fn main() {}\n".into(),
    }];
    assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn new_session_picker_160x48() {
    use agentmux_shared::types::ProviderHealth;
    let mut app = ts::app();
    let p = |id: &str, available: bool, detail: &str| ProviderHealth {
        id: id.into(),
        available,
        detail: detail.into(),
    };
    let mut v = NewSessionView::new(
        vec![
            p("claude", true, "/usr/bin/claude"),
            p("openai", true, "http://127.0.0.1:8080/v1"),
        ],
        "/home/me/src/agentmux",
    );
    v.field = crate::ui::new_session::Field::Title;
    app.views.push(Box::new(v));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Directory /home/me/src/agentmux"),
        "{screen}"
    );
    assert_snapshot!(screen);
}

#[test]
fn new_session_picker_80x24() {
    use agentmux_shared::types::ProviderHealth;
    let mut app = ts::app();
    let p = |id: &str, available: bool, detail: &str| ProviderHealth {
        id: id.into(),
        available,
        detail: detail.into(),
    };
    let mut v = NewSessionView::new(
        vec![
            p("claude", true, "/usr/bin/claude"),
            p("codex", false, "codex not found on PATH"),
            p("openai", true, "http://127.0.0.1:8080/v1"),
        ],
        "/home/me/src/agentmux",
    );
    v.index = 2;
    v.policy = 1;
    v.field = crate::ui::new_session::Field::Dir;
    v.complete(
        "/home/me/src/agentmux",
        vec![
            "/home/me/src/agentmux".into(),
            "/home/me/src/agentmux-web".into(),
        ],
    );
    app.views.push(Box::new(v));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("agentmux/  agentmux-web/"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn help_scrolls_on_a_short_terminal() {
    let mut app = ts::app();
    app.views.push(Box::new(HelpView { scroll: 100 }));
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("Ctrl-b"),
        "the last binding is reachable: {screen}"
    );
    assert!(screen.contains("k/↑/PgUp: back"), "{screen}");
}

fn filtered(app: &mut crate::app::App, text: &str) {
    for c in std::iter::once('f').chain(text.chars()) {
        app.update(AppEvent::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        )));
    }
}

#[test]
fn filtered_list_160x48() {
    let mut app = ts::app();
    filtered(&mut app, "openai");
    let screen = render(&app, 160, 48);
    assert!(screen.contains("/openai"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn filtered_list_80x24() {
    let mut app = ts::app();
    app.update(AppEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('f'),
        crossterm::event::KeyModifiers::NONE,
    )));
    for c in "flaky".chars() {
        app.update(AppEvent::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        )));
    }
    let screen = render(&app, 80, 24);
    assert!(screen.contains("/flaky"), "{screen}");
    assert!(!screen.contains("refactor the parser  "), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn palette_160x48() {
    let mut app = ts::app();
    app.views.push(Box::new(crate::ui::palette::PaletteView {
        input: Input::with_text("session"),
        index: 1,
    }));
    assert_snapshot!(render(&app, 160, 48));
}

#[test]
fn palette_80x24() {
    let mut app = ts::app();
    app.views.push(Box::new(crate::ui::palette::PaletteView {
        input: Input::with_text("session"),
        index: 0,
    }));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("new session (Session list)"), "{screen}");
    assert_snapshot!(screen);
}
