//! `App::update` on event sequences: deltas, session updates, lag, reconnects.

use super::*;
use crate::test_support::{self as ts, event};
use agentmux_shared::types::{
    Approval, ApprovalReason, ApprovalStatus, Decision, PlanStatus, Role, ToolCallStatus,
    TurnFinished,
};
use pretty_assertions::assert_eq;

fn content(app: &App, session: &str, id: &str) -> Option<String> {
    let t = app.state.transcripts.get(session)?;
    t.get(id).map(|m| m.content.clone())
}

#[test]
fn first_connect_subscribes_at_head_and_lists_sessions() {
    let mut app = App::new();
    let actions = app.update(AppEvent::Connected(ts::info(7)));
    assert_eq!(
        actions,
        vec![
            Action::Subscribe {
                after_seq: 7,
                generation: 1
            },
            Action::ListSessions,
            Action::ListTerminals,
            Action::ListApprovals,
        ]
    );
    assert_eq!(app.state.pending, 3);
    assert!(app.state.is_connected());
}

#[test]
fn sessions_reply_selects_newest_and_loads_its_tail() {
    let mut app = App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    let mut s = ts::session("b", "two", 2);
    s.message_count = 1200;
    let actions = app.update(AppEvent::Reply(Reply::Sessions(vec![
        ts::session("a", "one", 1),
        s,
    ])));
    assert_eq!(app.state.selected.as_deref(), Some("b"));
    assert_eq!(
        actions,
        vec![Action::LoadMessages {
            session_id: "b".into(),
            after_index: 700,
            page_size: HISTORY_PAGE
        }]
    );
}

#[test]
fn deltas_append_to_the_streaming_message() {
    let mut app = ts::app();
    assert_eq!(
        content(&app, "s1", "m3").as_deref(),
        Some("Sure. First, the lexer gets its own module with a Token enum.")
    );
    app.update(event(
        102,
        "s1",
        EventPayload::MessageDelta {
            message_id: "m3".into(),
            text: "!".into(),
        },
    ));
    assert!(content(&app, "s1", "m3").is_some_and(|c| c.ends_with("enum.!")));
    // A replayed (duplicate) delta is ignored by seq.
    app.update(event(
        102,
        "s1",
        EventPayload::MessageDelta {
            message_id: "m3".into(),
            text: "!".into(),
        },
    ));
    assert!(content(&app, "s1", "m3").is_some_and(|c| c.ends_with("enum.!")));
    assert_eq!(app.state.last_seq, 102);
}

#[test]
fn completion_replaces_text_and_marks_other_sessions_unread() {
    let mut app = ts::app();
    let mut done = ts::msg("s1", "m3", 2, Role::Assistant, "final");
    done.status = MessageStatus::Complete;
    app.update(event(
        102,
        "s1",
        EventPayload::MessageCompleted { message: done },
    ));
    assert_eq!(content(&app, "s1", "m3").as_deref(), Some("final"));
    assert!(
        app.state.unread.is_empty(),
        "the selected session is being read"
    );
    let other = ts::msg("s2", "x1", 0, Role::Assistant, "hi");
    app.update(event(
        103,
        "s2",
        EventPayload::MessageCompleted { message: other },
    ));
    assert!(app.state.unread.contains("s2"));
}

#[test]
fn session_updated_replaces_the_session_in_place() {
    let mut app = ts::app();
    let mut s = ts::session("s2", "renamed", 2);
    s.busy = true;
    s.queued = 2;
    s.status = agentmux_shared::types::SessionStatus::Busy;
    app.update(event(
        102,
        "s2",
        EventPayload::SessionUpdated { session: s },
    ));
    let order: Vec<_> = app.state.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(order, ["s1", "s2", "s3"]);
    let s2 = &app.state.sessions[1];
    assert_eq!(
        (s2.title.as_str(), s2.display_status()),
        ("renamed", "queued")
    );
}

#[test]
fn session_created_and_deleted_keep_selection_sane() {
    let mut app = ts::app();
    app.update(event(
        102,
        "s4",
        EventPayload::SessionCreated {
            session: ts::session("s4", "new", 4),
        },
    ));
    assert_eq!(app.state.sessions[0].id, "s4");
    assert_eq!(app.state.selected.as_deref(), Some("s1"));
    app.update(event(
        103,
        "s1",
        EventPayload::SessionDeleted { id: "s1".into() },
    ));
    // The row below moves up under the cursor.
    assert_eq!(app.state.selected.as_deref(), Some("s2"));
    assert!(!app.state.transcripts.contains_key("s1"));
}

#[test]
fn turn_finished_sets_message_status() {
    let mut app = ts::app();
    app.update(event(
        102,
        "s1",
        EventPayload::TurnFinished(TurnFinished {
            user_message_id: "m2".into(),
            assistant_message_id: "m3".into(),
            status: MessageStatus::Cancelled,
            stop_reason: String::new(),
            error: String::new(),
            usage: Default::default(),
            cost_usd: 0.0,
        }),
    ));
    let status = app.state.transcripts["s1"].get("m3").map(|m| m.status);
    assert_eq!(status, Some(MessageStatus::Cancelled));
}

#[test]
fn lagged_resubscribes_from_resume_seq_and_ignores_stale_streams() {
    let mut app = ts::app();
    let gen0 = app.state.stream_gen;
    let actions = app.update(AppEvent::Stream {
        generation: gen0,
        item: StreamItem::Lagged {
            resume_after_seq: 101,
        },
    });
    assert_eq!(
        actions,
        vec![Action::Subscribe {
            after_seq: 101,
            generation: gen0 + 1
        }]
    );
    // The abandoned stream's end must not trigger a reconnect.
    let actions = app.update(AppEvent::StreamEnded {
        generation: gen0,
        error: "x".into(),
    });
    assert_eq!(actions, vec![]);
    assert!(app.state.is_connected());
}

#[test]
fn reconnect_resubscribes_after_the_last_seen_seq() {
    let mut app = ts::app();
    let generation = app.state.stream_gen;
    let actions = app.update(AppEvent::StreamEnded {
        generation,
        error: "broken pipe".into(),
    });
    assert_eq!(
        actions,
        vec![Action::Connect {
            attempt: 0,
            delay: backoff(0),
            autostart: false
        }]
    );
    assert!(!app.state.is_connected());
    // Retries back off.
    let actions = app.update(AppEvent::ConnectFailed {
        attempt: 0,
        error: "refused".into(),
    });
    assert_eq!(
        actions,
        vec![Action::Connect {
            attempt: 1,
            delay: backoff(1),
            autostart: false
        }]
    );
    // The restarted daemon's head moved on; we continue from what we saw, not from its head.
    let actions = app.update(AppEvent::Connected(ts::info(150)));
    assert_eq!(actions.iter().find_map(ts::is_subscribe), Some(101));
    assert!(actions.contains(&Action::ListSessions));
    assert_eq!(
        app.state.transcripts["s1"].messages.len(),
        3,
        "history is kept"
    );
}

#[test]
fn a_wiped_daemon_resets_the_mirror() {
    let mut app = ts::app();
    let generation = app.state.stream_gen;
    app.update(AppEvent::StreamEnded {
        generation,
        error: "gone".into(),
    });
    let actions = app.update(AppEvent::Connected(ts::info(3)));
    assert_eq!(actions.iter().find_map(ts::is_subscribe), Some(3));
    // Only the selected session's history, being fetched afresh.
    let t = &app.state.transcripts;
    assert_eq!(t.len(), 1);
    assert!(t["s1"].messages.is_empty() && t["s1"].loading);
}

#[test]
fn unavailable_call_triggers_reconnect_and_send_failure_keeps_the_text() {
    let mut app = ts::app();
    let call = Action::Send {
        session_id: "s1".into(),
        content: "hello".into(),
    };
    app.state.pending = 1;
    let actions = app.update(AppEvent::CallFailed {
        call,
        error: agentmux_shared::Error::unavailable("connection refused"),
    });
    assert!(matches!(actions.as_slice(), [Action::Connect { .. }]));
    assert_eq!(app.state.composer.text, "hello");
    assert_eq!(app.state.pending, 0);
}

#[test]
fn keys_drive_actions() {
    use crossterm::event::{KeyCode, KeyModifiers};
    let key = |c: KeyCode| AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let mut app = ts::app();
    assert_eq!(
        app.update(key(KeyCode::Char('n'))),
        vec![Action::ListProviders]
    );
    assert_eq!(
        app.update(key(KeyCode::Char('c'))),
        vec![Action::Cancel {
            id: "s1".into(),
            hard: false
        }]
    );
    app.update(key(KeyCode::Char('r')));
    for _ in 0..30 {
        app.update(key(KeyCode::Backspace));
    }
    for c in "lexer".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Action::Rename {
            id: "s1".into(),
            title: "lexer".into()
        }]
    );
    app.update(key(KeyCode::Char('d')));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        vec![Action::Delete { id: "s1".into() }]
    );
    // Compose: Enter focuses, typing, Alt-Enter newline, Enter sends.
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('h')));
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::ALT,
    )));
    app.update(key(KeyCode::Char('i')));
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Action::Send {
            session_id: "s1".into(),
            content: "h\ni".into()
        }]
    );
    assert_eq!(app.state.composer.text, "");
}

#[test]
fn turn_started_completes_the_queued_user_message() {
    let mut app = ts::app();
    let mut q = ts::msg("s1", "m4", 3, Role::User, "next");
    q.status = MessageStatus::Queued;
    app.update(event(
        102,
        "s1",
        EventPayload::MessageCreated { message: q.clone() },
    ));
    app.update(event(
        103,
        "s1",
        EventPayload::TurnStarted {
            user_message_id: "m4".into(),
            assistant_message_id: "m5".into(),
        },
    ));
    // The late send reply (still saying queued) must not roll that back.
    app.state.pending = 1;
    app.update(AppEvent::Reply(Reply::Sent(Box::new(
        agentmux_shared::types::SendResult {
            message: q,
            queued: true,
            reply: None,
        },
    ))));
    let status = app.state.transcripts["s1"].get("m4").map(|m| m.status);
    assert_eq!(status, Some(MessageStatus::Complete));
}

#[test]
fn page_up_at_the_top_fetches_the_previous_page() {
    use crossterm::event::{KeyCode, KeyModifiers};
    let mut app = App::new();
    app.update(AppEvent::Connected(ts::info(0)));
    let mut s = ts::session("big", "big", 1);
    s.message_count = 1200;
    app.update(AppEvent::Reply(Reply::Sessions(vec![s])));
    let tail = (700..1200u64)
        .map(|i| ts::msg("big", &format!("m{i}"), i, Role::User, "x"))
        .collect();
    app.update(AppEvent::Reply(Reply::Messages {
        session_id: "big".into(),
        after_index: 700,
        page: MessagePage {
            messages: tail,
            next_index: 0,
            more: false,
            last_seq: 0,
        },
    }));
    app.update(AppEvent::Drawn {
        view_rows: 20,
        max_scroll: 30,
        term_size: (20, 50),
    });
    let pgup = AppEvent::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
    assert_eq!(app.update(pgup.clone()), vec![]);
    assert_eq!(app.state.scroll, 19);
    app.update(pgup.clone());
    assert_eq!(app.state.scroll, 30, "clamped at the top");
    assert_eq!(
        app.update(pgup),
        vec![Action::LoadMessages {
            session_id: "big".into(),
            after_index: 200,
            page_size: 500
        }]
    );
}

fn key(c: char) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    ))
}

fn code(c: crossterm::event::KeyCode) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::new(
        c,
        crossterm::event::KeyModifiers::NONE,
    ))
}

fn requested(seq: u64, a: &Approval) -> AppEvent {
    event(
        seq,
        &a.session_id,
        EventPayload::ApprovalRequested {
            approval: a.clone(),
        },
    )
}

fn modal_id(app: &App) -> Option<String> {
    let v = app.views.top_as::<crate::ui::approval::ApprovalView>()?;
    Some(v.id.clone())
}

#[test]
fn an_approval_on_the_viewed_session_opens_the_modal_and_y_allows_once() {
    let mut app = ts::app();
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    assert_eq!(app.state.approvals_of("s1"), 1);
    assert_eq!(modal_id(&app).as_deref(), Some("apr_1"));
    let actions = app.update(key('y'));
    assert_eq!(
        actions,
        vec![Action::Decide {
            id: "apr_1".into(),
            decision: Decision::AllowOnce,
            message: String::new(),
        }]
    );
    assert!(!app.views.has_modal());
    // Pending until the daemon says it is resolved.
    assert_eq!(app.state.approvals_of("s1"), 1);
    let mut done = ts::approval("apr_1", "s1");
    done.status = ApprovalStatus::Allowed;
    app.update(AppEvent::Reply(Reply::Decided(Box::new(done))));
    assert_eq!(app.state.approvals_of("s1"), 0);
}

#[test]
fn deny_asks_for_a_message_and_sends_it() {
    let mut app = ts::app();
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    assert!(app.update(key('n')).is_empty());
    for c in "not now".chars() {
        app.update(key(c));
    }
    // Esc in the prompt goes back to the approval, still undecided.
    app.update(code(crossterm::event::KeyCode::Esc));
    assert_eq!(modal_id(&app).as_deref(), Some("apr_1"));
    app.update(key('n'));
    app.update(AppEvent::Paste("use tmp/".into()));
    let actions = app.update(code(crossterm::event::KeyCode::Enter));
    assert_eq!(
        actions,
        vec![Action::Decide {
            id: "apr_1".into(),
            decision: Decision::Deny,
            message: "use tmp/".into(),
        }]
    );
}

#[test]
fn always_and_decide_later() {
    let mut app = ts::app();
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    assert!(app.update(code(crossterm::event::KeyCode::Esc)).is_empty());
    assert!(!app.views.has_modal(), "Esc leaves it pending");
    assert_eq!(app.state.approvals_of("s1"), 1);
    // `a` in the list brings it back; `A` allows always.
    app.update(key('a'));
    assert_eq!(modal_id(&app).as_deref(), Some("apr_1"));
    let actions = app.update(key('A'));
    assert_eq!(
        actions,
        vec![Action::Decide {
            id: "apr_1".into(),
            decision: Decision::AllowAlways,
            message: String::new(),
        }]
    );
}

#[test]
fn keys_typed_in_the_composer_never_decide_an_approval() {
    let mut app = ts::app();
    app.update(key('i'));
    assert_eq!(app.state.focus, Focus::Composer);
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    assert!(!app.views.has_modal());
    assert!(
        app.state
            .notice
            .as_deref()
            .unwrap_or("")
            .contains("approval needed")
    );
    let actions = app.update(key('y'));
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(app.state.composer.text, "y");
}

#[test]
fn resolved_elsewhere_closes_the_modal_and_shows_the_next() {
    let mut app = ts::app();
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    app.update(requested(103, &ts::approval("apr_2", "s1")));
    assert_eq!(modal_id(&app).as_deref(), Some("apr_1"));
    let mut a = ts::approval("apr_1", "s1");
    a.status = ApprovalStatus::Expired;
    a.reason = Some(ApprovalReason::TimedOut);
    app.update(event(
        104,
        "s1",
        EventPayload::ApprovalResolved { approval: a },
    ));
    assert_eq!(modal_id(&app).as_deref(), Some("apr_2"));
    assert!(
        app.state
            .notice
            .as_deref()
            .unwrap_or("")
            .contains("expired"),
        "{:?}",
        app.state.notice
    );
    // Another session's approval shows as a badge, not over this one.
    app.update(requested(105, &ts::approval("apr_3", "s2")));
    assert_eq!(modal_id(&app).as_deref(), Some("apr_2"));
    assert_eq!(app.state.approvals_of("s2"), 1);
}

#[test]
fn a_reconnect_replaces_the_pending_set() {
    let mut app = ts::app();
    app.update(requested(102, &ts::approval("apr_1", "s1")));
    app.update(AppEvent::Reply(Reply::Approvals(vec![ts::approval(
        "apr_9", "s2",
    )])));
    assert_eq!(modal_id(&app), None, "its approval is gone");
    assert_eq!(app.state.approvals_of("s1"), 0);
    assert_eq!(app.state.approvals_of("s2"), 1);
}

#[test]
fn tool_calls_changes_and_plan_land_on_the_answer_being_written() {
    let mut app = ts::app();
    let call = |status: &str, input: &str| {
        EventPayload::ToolCall(agentmux_shared::types::ToolCall {
            id: "t1".into(),
            name: if input.is_empty() { "" } else { "Write" }.into(),
            input_json: input.into(),
            status: ToolCallStatus::parse(status).unwrap(),
            output: String::new(),
        })
    };
    app.update(event(
        102,
        "s1",
        call("started", r#"{"file_path":"/w/a.rs"}"#),
    ));
    app.update(event(103, "s1", call("finished", "")));
    app.update(event(
        104,
        "s1",
        EventPayload::FileChanged {
            path: "/w/a.rs".into(),
            diff: "@@ -1 +1 @@\n-a\n+b\n".into(),
        },
    ));
    app.update(event(
        105,
        "s1",
        EventPayload::PlanUpdated {
            entries: vec![agentmux_shared::types::PlanEntry {
                content: "Write a.rs".into(),
                status: PlanStatus::Completed,
                priority: String::new(),
            }],
        },
    ));
    let m = app.state.transcripts["s1"].get("m3").unwrap();
    assert_eq!(m.tools.len(), 1);
    assert_eq!(m.tools[0].status, "finished");
    assert_eq!(m.tools[0].name, "Write", "an update keeps the start's name");
    assert_eq!(m.changes.len(), 1);
    assert_eq!(m.plan.len(), 1);
    // Another session's (unloaded) activity is ignored, not misfiled.
    app.update(event(106, "s2", call("started", "{}")));
    assert_eq!(
        app.state.transcripts["s1"].get("m3").unwrap().tools.len(),
        1
    );
}

#[test]
fn new_session_picks_a_provider_and_a_policy() {
    use agentmux_shared::types::ProviderHealth;
    let p = |id: &str, available: bool| ProviderHealth {
        id: id.into(),
        available,
        detail: String::new(),
    };
    let mut app = ts::app();
    assert_eq!(app.update(key('n')), vec![Action::ListProviders]);
    app.update(AppEvent::Reply(Reply::Providers(vec![
        p("claude", false),
        p("codex", true),
        p("openai", true),
    ])));
    // The first ready provider is preselected.
    let picker = app.views.top_as::<crate::ui::new_session::NewSessionView>();
    assert_eq!(picker.map(|v| v.index), Some(1));
    app.update(key('j'));
    // Tab moves through the fields: title, directory, workspace, model, policy.
    app.update(code(crossterm::event::KeyCode::Tab));
    for c in "Fix CI".chars() {
        app.update(key(c));
    }
    app.update(code(crossterm::event::KeyCode::Down));
    app.update(code(crossterm::event::KeyCode::Down));
    // Its own worktree.
    app.update(code(crossterm::event::KeyCode::Right));
    app.update(code(crossterm::event::KeyCode::Down));
    for c in "big-model".chars() {
        app.update(key(c));
    }
    app.update(code(crossterm::event::KeyCode::Tab));
    app.update(code(crossterm::event::KeyCode::Right));
    assert_eq!(
        app.update(code(crossterm::event::KeyCode::Enter)),
        vec![Action::CreateSession {
            provider: "openai".into(),
            approval_policy: "auto-edit".into(),
            title: "Fix CI".into(),
            cwd: String::new(),
            model: "big-model".into(),
            workspace: "worktree".into(),
        }]
    );
    assert!(!app.views.has_modal());
    // Esc creates nothing.
    app.update(key('n'));
    app.update(AppEvent::Reply(Reply::Providers(vec![p("codex", true)])));
    assert!(app.update(code(crossterm::event::KeyCode::Esc)).is_empty());
    assert!(!app.views.has_modal());
}

/// Ctrl-C clears a draft instead of quitting; with nothing to clear it asks for a second
/// Ctrl-C, and any other key in between starts over.
#[test]
fn ctrl_c_clears_the_draft_then_quits_on_a_second_press() {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl_c = || AppEvent::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    let mut app = ts::app();
    app.state.focus = Focus::Composer;
    for c in "half a thought".chars() {
        app.update(AppEvent::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    app.update(ctrl_c());
    assert_eq!(app.state.composer.text, "");
    assert!(!app.state.quit, "a draft's Ctrl-C only clears it");
    app.update(ctrl_c());
    assert!(
        !app.state.quit,
        "the first Ctrl-C on an empty composer asks"
    );
    assert_eq!(
        app.state.notice.as_deref(),
        Some("press Ctrl-C again to quit")
    );
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('x'),
        KeyModifiers::NONE,
    )));
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Backspace,
        KeyModifiers::NONE,
    )));
    app.update(ctrl_c());
    assert!(!app.state.quit, "another key in between disarms");
    app.update(ctrl_c());
    assert!(app.state.quit);
}
