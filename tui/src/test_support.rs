//! Fixed fixture data for unit and snapshot tests: no clocks, no random ids.

use crate::app::{Action, App, AppEvent, Reply};
use crate::client::{AttachEvent, ScreenSnapshot};
use agentmux_shared::types::{
    Approval, ApprovalStatus, Event, EventPayload, Info, Message, MessagePage, MessageStatus, Role,
    Session, SessionStatus, StreamItem, Terminal, TerminalStatus,
};
use std::sync::Arc;

pub fn info(last_seq: u64) -> Info {
    Info {
        version: "0.1.0".into(),
        pid: 42,
        data_dir: "/data".into(),
        socket: "/data/agentmuxd.sock".into(),
        last_seq,
        ..Info::default()
    }
}

pub fn session(id: &str, title: &str, created: i64) -> Session {
    Session {
        id: id.into(),
        name: match agentmux_shared::types::slug(title) {
            n if n.is_empty() => agentmux_shared::types::default_name(id),
            n => n,
        },
        title: title.into(),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        created_at_ms: created,
        updated_at_ms: created,
        ..Session::default()
    }
}

pub fn msg(session: &str, id: &str, index: u64, role: Role, content: &str) -> Message {
    Message {
        id: id.into(),
        session_id: session.into(),
        index,
        role,
        content: content.into(),
        status: MessageStatus::Complete,
        model: if role == Role::Assistant {
            "gpt-4o-mini".into()
        } else {
            String::new()
        },
        ..Message::default()
    }
}

pub fn event(seq: u64, session_id: &str, payload: EventPayload) -> AppEvent {
    AppEvent::Stream {
        generation: 1,
        item: StreamItem::Event(Arc::new(Event {
            seq,
            ts_ms: 0,
            session_id: session_id.into(),
            payload,
        })),
    }
}

/// An app connected at head 100 with three sessions; "s1" selected with a short history
/// and an answer streaming in.
pub fn app() -> App {
    let mut app = App::new();
    app.update(AppEvent::Connected(info(100)));
    let mut busy = session("s1", "refactor the parser", 3);
    busy.status = SessionStatus::Busy;
    busy.busy = true;
    busy.message_count = 3;
    let mut failed = session("s2", "flaky test hunt", 2);
    failed.status = SessionStatus::Failed;
    failed.last_error = "upstream 500".into();
    let idle = session("s3", "", 1);
    app.update(AppEvent::Reply(Reply::Sessions(vec![idle, failed, busy])));
    app.update(AppEvent::Reply(Reply::Terminals(vec![])));
    app.update(AppEvent::Reply(Reply::Approvals(vec![])));
    let mut streaming = msg("s1", "m3", 2, Role::Assistant, "Sure. First, the lexer");
    streaming.status = MessageStatus::Streaming;
    app.update(AppEvent::Reply(Reply::Messages {
        session_id: "s1".into(),
        after_index: 0,
        page: MessagePage {
            messages: vec![
                msg(
                    "s1",
                    "m1",
                    0,
                    Role::User,
                    "Split the parser into a lexer and a recursive-descent parser, please.",
                ),
                msg(
                    "s1",
                    "m2",
                    1,
                    Role::Assistant,
                    "Plan:\n1. extract tokens\n2. write the parser",
                ),
                streaming,
            ],
            next_index: 0,
            more: false,
            last_seq: 0,
        },
    }));
    app.update(event(
        101,
        "s1",
        EventPayload::MessageDelta {
            message_id: "m3".into(),
            text: " gets its own module with a Token enum.".into(),
        },
    ));
    app
}

/// A pending approval of `session` to write `hello.txt`, with its diff.
/// A session's work against its base: a modified file with two hunks, then a big new file
/// the first load cut short.
pub fn diff() -> agentmux_shared::types::GitDiff {
    use agentmux_shared::types::{DiffFile, DiffHunk, DiffLine, GitDiff};
    let l = |kind: &str, text: &str, old: u32, new: u32| DiffLine {
        kind: kind.into(),
        text: text.into(),
        old_line: old,
        new_line: new,
    };
    GitDiff {
        against: "base".into(),
        from_commit: "0123456789abcdef".into(),
        added: 1003,
        removed: 2,
        truncated: true,
        files: vec![
            DiffFile {
                path: "src/lib.rs".into(),
                status: "modified".into(),
                added: 3,
                removed: 2,
                hunks: vec![
                    DiffHunk {
                        old_start: 1,
                        old_lines: 4,
                        new_start: 1,
                        new_lines: 5,
                        section: String::new(),
                        lines: vec![
                            l("context", "pub fn parse(input: &str) -> Ast {", 1, 1),
                            l("removed", "    let t = lex(input);", 2, 0),
                            l("added", "    let t = lex(input)?;", 0, 2),
                            l("added", "    check(&t)?;", 0, 3),
                            l("context", "    build(t)", 3, 4),
                            l("context", "}", 4, 5),
                        ],
                    },
                    DiffHunk {
                        old_start: 40,
                        old_lines: 2,
                        new_start: 41,
                        new_lines: 2,
                        section: "fn build(t: Tokens) -> Ast {".into(),
                        lines: vec![
                            l("removed", "    todo!()", 40, 0),
                            l("added", "    Ast::from(t)", 0, 41),
                            l("context", "}", 41, 42),
                        ],
                    },
                ],
                ..DiffFile::default()
            },
            DiffFile {
                path: "big.txt".into(),
                status: "added".into(),
                untracked: true,
                added: 1000,
                truncated: true,
                ..DiffFile::default()
            },
        ],
        raw: String::new(),
    }
}

pub fn approval(id: &str, session: &str) -> Approval {
    Approval {
        id: id.into(),
        session_id: session.into(),
        tool: "Write".into(),
        input_json: r#"{"file_path":"/work/hello.txt","content":"hi\n"}"#.into(),
        summary: "Write /work/hello.txt".into(),
        diff: "--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1 @@\n+hi\n".into(),
        options: vec!["allow_once".into(), "allow_always".into(), "deny".into()],
        status: ApprovalStatus::Pending,
        ..Approval::default()
    }
}

pub fn is_subscribe(a: &Action) -> Option<u64> {
    match a {
        Action::Subscribe { after_seq, .. } => Some(*after_seq),
        _ => None,
    }
}

pub fn terminal(id: &str, name: &str, status: TerminalStatus) -> Terminal {
    Terminal {
        id: id.into(),
        name: name.into(),
        command: "bash".into(),
        args: vec!["--norc".into()],
        rows: 24,
        cols: 80,
        status,
        pid: if status == TerminalStatus::Running {
            4242
        } else {
            0
        },
        ..Terminal::default()
    }
}

/// A fixed screen: a prompt, red and RGB text, bold/underline/inverse, wide characters, and
/// the cursor after a second prompt.
pub const SCREEN: &[u8] = b"$ ls --color\r\n\
    \x1b[1;34msrc\x1b[0m  \x1b[31mred.txt\x1b[0m  \x1b[38;2;255;128;0;48;2;0;0;64mrgb\x1b[0m\r\n\
    \x1b[4munder\x1b[0m \x1b[7minverse\x1b[0m \x1b[3mitalic\x1b[0m\r\n\
    \xe4\xb8\xad\xe6\x96\x87 wide|\r\n\
    $ ";

/// `app()` plus two terminals, "sh" (running) selected and attached with `SCREEN`.
pub fn app_with_terminal(rows: u16, cols: u16) -> App {
    let mut app = app();
    app.update(AppEvent::Reply(Reply::Terminals(vec![
        terminal("term_1", "sh", TerminalStatus::Running),
        terminal("term_2", "vim", TerminalStatus::Exited),
    ])));
    app.state.term_area = (rows, cols);
    app.state.selected = Some("term_1".into());
    app.update(AppEvent::Resize);
    let generation = app.state.term_gen;
    app.update(AppEvent::Term {
        generation,
        event: AttachEvent::Snapshot(Box::new(ScreenSnapshot {
            rows,
            cols,
            screen: SCREEN.to_vec(),
            ..ScreenSnapshot::default()
        })),
    });
    app
}
