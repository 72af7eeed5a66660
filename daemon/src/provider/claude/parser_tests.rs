//! Parser tests over the recorded Claude Code runs in tests/fixtures/cli/claude.

use super::*;

/// Feeds the CLI's side of a recorded run through a parser.
fn replay(name: &str) -> Vec<Item> {
    let path = format!(
        "{}/../tests/fixtures/cli/claude/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut p = Parser::new("/nonexistent-cwd");
    let mut items = Vec::new();
    // Permission requests by id, so the recorded refusals can be told to the parser as the
    // adapter does.
    let mut asked = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["dir"] == "out" {
            for item in p.line(&v["msg"].to_string()) {
                if let Item::Permission(perm) = &item {
                    asked.insert(perm.request_id.clone(), perm.tool_use_id.clone());
                }
                items.push(item);
            }
        } else if v["msg"]["response"]["response"]["behavior"] == "deny" {
            let id = v["msg"]["response"]["request_id"]
                .as_str()
                .unwrap_or_default();
            if let Some(tool_use_id) = asked.get(id) {
                p.denied(tool_use_id);
            }
        }
    }
    items
}

fn text(items: &[Item]) -> String {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn tool_calls(items: &[Item]) -> Vec<ToolCall> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::ToolCall(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn warnings(items: &[Item]) -> usize {
    items
        .iter()
        .filter(|i| matches!(i, Item::Event(ProviderEvent::Warning(_))))
        .count()
}

#[test]
fn plain_streams_text_and_ends() {
    let items = replay("plain");
    assert_eq!(text(&items), "Hello from the fake model.");
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Item::Event(ProviderEvent::SessionId(id)) if !id.is_empty()))
    );
    let Some(Item::Result(Ok(end))) = items.last() else {
        panic!("last item is not a successful result: {:?}", items.last());
    };
    assert_eq!(end.stop_reason, "end_turn");
    assert!(end.usage.output_tokens > 0, "{end:?}");
    assert_eq!(end.model, "claude-opus-4-8");
    assert_eq!(warnings(&items), 0);
}

#[test]
fn write_allow_asks_then_reports_the_change() {
    let items = replay("write_allow");
    let perms: Vec<&Permission> = items
        .iter()
        .filter_map(|i| match i {
            Item::Permission(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(perms.len(), 1);
    let p = perms[0];
    assert_eq!(p.tool, "Write");
    assert_eq!(p.input["content"], "hi\n");
    assert!(p.diff.contains("+hi"), "{}", p.diff);
    assert_eq!(p.summary, "Write /WORK/hello.txt");
    let allow = permission_response(
        p,
        Some(&ApprovalAnswer {
            decision: Decision::AllowAlways,
            message: String::new(),
        }),
    );
    assert_eq!(allow["response"]["request_id"], p.request_id.as_str());
    assert_eq!(allow["response"]["response"]["behavior"], "allow");
    assert_eq!(allow["response"]["response"]["updatedInput"], p.input);
    assert_eq!(
        allow["response"]["response"]["updatedPermissions"][0]["mode"],
        "acceptEdits"
    );
    let calls = tool_calls(&items);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        (calls[0].name.as_str(), calls[0].status.as_str()),
        ("Write", "started")
    );
    assert_eq!(calls[1].status, "finished");
    assert!(calls[1].output.contains("File created"), "{calls:?}");
    let changed: Vec<(&String, &String)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::FileChanged { path, diff }) => Some((path, diff)),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].0, "/WORK/hello.txt");
    assert!(changed[0].1.contains("+hi"));
    assert_eq!(text(&items), "I'll create the file.Finished.");
    assert!(matches!(items.last(), Some(Item::Result(Ok(_)))));
}

#[test]
fn write_deny_marks_the_tool_denied_and_changes_nothing() {
    let items = replay("write_deny");
    let p = items
        .iter()
        .find_map(|i| match i {
            Item::Permission(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    let deny = permission_response(
        &p,
        Some(&ApprovalAnswer {
            decision: Decision::Deny,
            message: String::new(),
        }),
    );
    assert_eq!(deny["response"]["response"]["behavior"], "deny");
    assert_eq!(deny["response"]["response"]["message"], DEFAULT_DENY);
    let calls = tool_calls(&items);
    assert_eq!(calls.last().map(|c| c.status.as_str()), Some("denied"));
    assert!(
        calls
            .last()
            .is_some_and(|c| c.output.contains("denied this write"))
    );
    assert!(
        !items
            .iter()
            .any(|i| matches!(i, Item::Event(ProviderEvent::FileChanged { .. })))
    );
}

#[test]
fn cancel_ends_with_an_error_result() {
    let items = replay("cancel");
    assert!(text(&items).starts_with("Working"), "{}", text(&items));
    let Some(Item::Result(Err(e))) = items.last() else {
        panic!("cancel must end with a failed result: {:?}", items.last());
    };
    assert!(e.message.contains("error_during_execution"), "{e}");
}

#[test]
fn resume_keeps_one_session_id() {
    let items = replay("resume");
    let ids: Vec<&String> = items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::SessionId(id)) => Some(id),
            _ => None,
        })
        .collect();
    // One parser saw both processes: the resumed one reports the same id, so only one event.
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[test]
fn truncated_and_garbage_lines_are_warnings() {
    let mut p = Parser::new("/");
    let good = r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}},"parent_tool_use_id":null}"#;
    let items = p.line(&good[..good.len() / 2]);
    assert_eq!(warnings(&items), 1);
    assert_eq!(warnings(&p.line("\u{1b}[31mgarbage\u{0}")), 1);
    assert_eq!(warnings(&p.line(r#"{"type":"brand_new_kind"}"#)), 1);
    assert!(p.line("   ").is_empty());
    assert_eq!(text(&p.line(good)), "ok");
    // A tool result for a tool never seen still reports, without a change.
    let items =
        p.line(r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"x","content":"done"}]}}"#);
    assert_eq!(tool_calls(&items)[0].status, "finished");
    let items = p.line(
        r#"{"type":"control_request","request_id":"r1","request":{"subtype":"hook_callback"}}"#,
    );
    assert!(
        matches!(&items[..], [Item::Control { request_id, subtype }] if request_id == "r1" && subtype == "hook_callback")
    );
}

#[test]
fn edits_diff_against_the_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    let f = format!("{cwd}/a.txt");
    std::fs::write(&f, "one\ntwo\n").unwrap();
    let (_, d) = file_change(
        cwd,
        "Edit",
        &json!({"file_path": f, "old_string": "two", "new_string": "2"}),
    )
    .unwrap();
    assert!(d.contains("-two\n+2\n"), "{d}");
    let (_, d) = file_change(
        cwd,
        "MultiEdit",
        &json!({"file_path": f, "edits": [{"old_string": "one", "new_string": "1"}, {"old_string": "two", "new_string": "2"}]}),
    )
    .unwrap();
    assert!(d.contains("+1\n+2\n"), "{d}");
    assert!(file_change(cwd, "Bash", &json!({"command": "ls"})).is_none());
}

#[test]
fn only_edits_inside_the_session_directory_are_edits() {
    assert!(is_edit("/w", "Write", &json!({"file_path": "/w/a.txt"})));
    assert!(is_edit(
        "/w",
        "NotebookEdit",
        &json!({"notebook_path": "n.ipynb"})
    ));
    assert!(!is_edit(
        "/w",
        "Write",
        &json!({"file_path": "/etc/profile"})
    ));
    assert!(!is_edit("/w", "Edit", &json!({"file_path": "/w/../x"})));
    assert!(!is_edit("/w", "Bash", &json!({"command": "ls"})));
    assert!(!is_edit("/w", "Write", &json!({})));
}

#[test]
fn todo_write_is_the_plan() {
    let mut p = Parser::new("/w");
    let items = p.line(
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"TodoWrite","input":{"todos":[{"content":"Read","status":"completed","activeForm":"Reading"},{"content":"Write","status":"in_progress","activeForm":"Writing"}]}}]}}"#,
    );
    let plan: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::Plan(e)) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(plan.len(), 1);
    assert_eq!(
        plan[0]
            .iter()
            .map(|e| (e.content.as_str(), e.status.as_str()))
            .collect::<Vec<_>>(),
        vec![("Read", "completed"), ("Write", "in_progress")]
    );
}

#[test]
fn recorded_runs_read_without_warnings() {
    for name in ["plain", "write_allow", "write_deny", "cancel", "resume"] {
        assert_eq!(warnings(&replay(name)), 0, "{name}");
    }
}

#[test]
fn lines_that_do_not_fit_their_type_are_warnings() {
    let mut p = Parser::new("/");
    // A known type with a field of the wrong type: named, not dropped.
    let items = p.line(r#"{"type":"result","subtype":"success","is_error":"yes"}"#);
    assert_eq!(warnings(&items), 1);
    assert!(
        matches!(&items[0], Item::Event(ProviderEvent::Warning(w)) if w.contains("result line")),
        "{items:?}"
    );
    // No type at all, or not an object: unknown, as before.
    assert_eq!(warnings(&p.line(r#"{"foo":1}"#)), 1);
    assert_eq!(warnings(&p.line("42")), 1);
    // A user line with plain string content carries nothing to report.
    assert!(
        p.line(r#"{"type":"user","message":{"role":"user","content":"hi"}}"#)
            .is_empty()
    );
    // Subagent text is not the answer's.
    let sub = r#"{"type":"stream_event","parent_tool_use_id":"t1","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}}"#;
    assert!(p.line(sub).is_empty());
}
