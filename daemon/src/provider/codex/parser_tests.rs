//! Parser tests over the recorded `codex app-server` runs in tests/fixtures/cli/codex.

use super::*;

/// Feeds the CLI's side of a recorded run through one parser (as one process would see it; a
/// `restart` line starts a new parser that already knows the thread, like a resumed process).
fn replay(name: &str) -> Vec<Item> {
    let path = format!(
        "{}/../tests/fixtures/cli/codex/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut p = Parser::new("/WORK");
    let mut items = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["dir"].as_str() {
            Some("out") => {
                let got = p.line(&v["msg"].to_string());
                for it in &got {
                    if let Item::Response { result: Ok(r), .. } = it {
                        if r["thread"].is_object() {
                            p.thread_opened(r);
                        }
                        if let Some(t) = r["turn"]["id"].as_str() {
                            p.begin_turn();
                            p.turn_id = t.to_string();
                        }
                    }
                }
                items.extend(got);
            }
            Some("restart") => {
                let thread = p.thread_id.clone();
                p = Parser::new("/WORK");
                p.thread_id = thread;
            }
            _ => {}
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

fn warnings(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::Warning(w)) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

fn changed(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(ProviderEvent::FileChanged { path, diff }) => {
                Some((path.clone(), diff.clone()))
            }
            _ => None,
        })
        .collect()
}

fn approvals(items: &[Item]) -> Vec<Approval> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Approval(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn turn_ends(items: &[Item]) -> Vec<&Result<TurnEnd>> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::TurnDone { result, .. } => Some(result),
            _ => None,
        })
        .collect()
}

#[test]
fn plain_streams_text_and_ends_with_usage() {
    let items = replay("plain");
    assert_eq!(text(&items), "Hello from the fake model.");
    assert_eq!(warnings(&items), Vec::<String>::new());
    assert!(tool_calls(&items).is_empty());
    let ends = turn_ends(&items);
    assert_eq!(ends.len(), 1);
    let Ok(end) = ends[0] else {
        panic!("the turn completed: {:?}", ends[0]);
    };
    assert_eq!(end.stop_reason, "end_turn");
    assert_eq!(end.model, "gpt-5.5");
    assert_eq!((end.usage.input_tokens, end.usage.output_tokens), (11, 7));
    // Answers to initialize, thread/start and turn/start.
    let responses = items
        .iter()
        .filter(|i| matches!(i, Item::Response { result: Ok(_), .. }))
        .count();
    assert_eq!(responses, 3);
}

#[test]
fn write_allow_asks_with_the_diff_then_reports_the_change_once() {
    let items = replay("write_allow");
    let a = approvals(&items);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a.id, json!(0));
    assert_eq!(a.tool, PATCH_TOOL);
    assert!(a.edit);
    assert_eq!(a.summary, "apply_patch /WORK/hello.txt");
    assert!(
        a.diff.starts_with("--- /dev/null\n+++ b/hello.txt\n"),
        "{}",
        a.diff
    );
    assert!(a.diff.contains("\n+hi\n"), "{}", a.diff);
    let input: Value = serde_json::from_str(&a.input_json).unwrap();
    assert_eq!(input["changes"][0]["kind"], "add");
    let allow = approval_response(
        &a.id,
        Some(&ApprovalAnswer {
            decision: Decision::AllowAlways,
            message: String::new(),
        }),
    );
    assert_eq!(
        allow,
        json!({"id": 0, "result": {"decision": "acceptForSession"}})
    );

    let calls = tool_calls(&items);
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.name.as_str(), c.status.as_str()))
            .collect::<Vec<_>>(),
        vec![(PATCH_TOOL, "started"), (PATCH_TOOL, "finished")]
    );
    assert_eq!(calls[0].id, "call_fake_1");
    // turn/diff/updated came three times: still one file.changed.
    let ch = changed(&items);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!(ch[0].0, "/WORK/hello.txt");
    assert_eq!(ch[0].1, a.diff);
    assert_eq!(text(&items), "I'll create the file.Finished.");
    let ends = turn_ends(&items);
    let Ok(end) = ends[0] else { panic!() };
    // Two model requests in the turn.
    assert_eq!((end.usage.input_tokens, end.usage.output_tokens), (22, 14));
}

#[test]
fn write_deny_fails_the_tool_and_changes_nothing() {
    let items = replay("write_deny");
    let a = approvals(&items);
    assert_eq!(
        approval_response(&a[0].id, None),
        json!({"id": 0, "result": {"decision": "decline"}}),
        "no answer declines"
    );
    let deny = approval_response(
        &a[0].id,
        Some(&ApprovalAnswer {
            decision: Decision::Deny,
            message: "no".into(),
        }),
    );
    assert_eq!(deny["result"]["decision"], "decline");
    let calls = tool_calls(&items);
    let last = calls.last().unwrap();
    assert_eq!(last.status, "denied");
    assert!(last.output.contains("declined"), "{last:?}");
    assert!(changed(&items).is_empty());
    assert!(matches!(turn_ends(&items)[..], [Ok(_)]));
}

#[test]
fn cancel_ends_the_turn_as_interrupted() {
    let items = replay("cancel");
    assert_eq!(text(&items), "Working");
    let ends = turn_ends(&items);
    let [Err(e)] = ends[..] else {
        panic!("{ends:?}")
    };
    assert!(e.message.contains("interrupted"), "{e}");
}

#[test]
fn resume_counts_only_the_new_turns_usage() {
    let items = replay("resume");
    assert_eq!(text(&items), "First answer.Second answer.");
    let ends = turn_ends(&items);
    assert_eq!(ends.len(), 2);
    for end in ends {
        let Ok(end) = end else { panic!("{end:?}") };
        // The resumed process repeats the first turn's usage before the second turn starts.
        assert_eq!((end.usage.input_tokens, end.usage.output_tokens), (11, 7));
    }
    assert!(warnings(&items).is_empty(), "{:?}", warnings(&items));
}

#[test]
fn truncated_and_garbage_lines_are_warnings() {
    let mut p = Parser::new("/w");
    let good = r#"{"method":"item/agentMessage/delta","params":{"threadId":"t","turnId":"u","itemId":"m","delta":"ok"}}"#;
    assert_eq!(warnings(&p.line(&good[..good.len() / 2])).len(), 1);
    assert_eq!(warnings(&p.line("\u{1b}[31mgarbage\u{0}")).len(), 1);
    assert_eq!(warnings(&p.line(r#"{"what":"no method, no id"}"#)).len(), 1);
    assert_eq!(warnings(&p.line("[1,2]")).len(), 1);
    assert!(p.line("   ").is_empty());
    // Unknown notifications are ignored quietly.
    assert!(p.line(r#"{"method":"brand/new","params":{}}"#).is_empty());
    assert_eq!(text(&p.line(good)), "ok");
    // Unknown server requests are refused, with the id echoed back.
    let items = p.line(r#"{"method":"item/tool/requestUserInput","id":"r7","params":{}}"#);
    let [Item::Unsupported { id, method }] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(method, "item/tool/requestUserInput");
    let r = unsupported_response(id, method);
    assert_eq!(r["id"], "r7");
    assert_eq!(r["error"]["code"], -32601);
    // An error answer to one of our requests.
    let items = p.line(r#"{"id":3,"error":{"code":-32600,"message":"no rollout found"}}"#);
    assert!(
        matches!(&items[..], [Item::Response { id, result: Err(m) }] if *id == json!(3) && m == "no rollout found")
    );
}

#[test]
fn commands_ask_with_the_command_and_report_output() {
    let mut p = Parser::new("/w");
    let items = p.line(
        r#"{"method":"item/commandExecution/requestApproval","id":1,"params":{"threadId":"t","turnId":"u","itemId":"c1","startedAtMs":0,"command":"touch x.txt","cwd":"/w","reason":null}}"#,
    );
    let a = approvals(&items);
    assert_eq!(a[0].summary, "touch x.txt");
    assert_eq!(a[0].tool, EXEC_TOOL);
    assert!(!a[0].edit);
    assert_eq!(
        approval_response(
            &a[0].id,
            Some(&ApprovalAnswer {
                decision: Decision::AllowOnce,
                message: String::new()
            })
        )["result"]["decision"],
        "accept"
    );
    p.line(r#"{"method":"item/started","params":{"item":{"type":"commandExecution","id":"c1","command":"false","cwd":"/w","commandActions":[],"status":"inProgress"}}}"#);
    let items = p.line(r#"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"c1","command":"false","cwd":"/w","commandActions":[],"status":"failed","aggregatedOutput":"boom","exitCode":1}}}"#);
    let c = &tool_calls(&items)[0];
    assert_eq!((c.name.as_str(), c.status.as_str()), (EXEC_TOOL, "failed"));
    assert_eq!(c.output, "boom\n(exit code 1)");
    let items = p.line(r#"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"c2","command":"rm -rf /","cwd":"/w","commandActions":[],"status":"declined"}}}"#);
    assert_eq!(tool_calls(&items)[0].output, "declined by the user");
}

#[test]
fn updates_plans_reasoning_and_errors() {
    let mut p = Parser::new("/w");
    // An update's diff gets headers relative to the session directory; the path is made absolute.
    p.line(r#"{"method":"item/started","params":{"item":{"type":"fileChange","id":"f1","status":"inProgress","changes":[{"path":"a.txt","kind":{"type":"update","move_path":null},"diff":"@@ -1 +1 @@\n-a\n+b\n"}]}}}"#);
    let items = p.line(r#"{"method":"item/completed","params":{"item":{"type":"fileChange","id":"f1","status":"completed","changes":[{"path":"a.txt","kind":{"type":"update","move_path":null},"diff":"@@ -1 +1 @@\n-a\n+b\n"}]}}}"#);
    assert_eq!(
        changed(&items),
        vec![(
            "/w/a.txt".to_string(),
            "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n".to_string()
        )]
    );
    let items = p.line(r#"{"method":"turn/plan/updated","params":{"threadId":"t","turnId":"u","explanation":null,"plan":[{"step":"Read","status":"completed"},{"step":"Write","status":"inProgress"}]}}"#);
    let [Item::Event(ProviderEvent::Plan(plan))] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(
        plan.iter()
            .map(|e| (e.content.as_str(), e.status.as_str()))
            .collect::<Vec<_>>(),
        vec![("Read", "completed"), ("Write", "in_progress")]
    );
    let items = p.line(r#"{"method":"item/reasoning/summaryTextDelta","params":{"threadId":"t","turnId":"u","itemId":"r","summaryIndex":0,"delta":"hmm"}}"#);
    assert!(matches!(&items[..], [Item::Event(ProviderEvent::Reasoning(t))] if t == "hmm"));
    let items = p.line(r#"{"method":"error","params":{"threadId":"t","turnId":"u","willRetry":true,"error":{"message":"stream disconnected"}}}"#);
    assert_eq!(
        warnings(&items),
        vec!["codex: stream disconnected (retrying)"]
    );
    assert!(p.line(r#"{"method":"error","params":{"threadId":"t","turnId":"u","willRetry":false,"error":{"message":"quota exceeded"}}}"#).is_empty());
    let items = p.line(r#"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u","items":[],"status":"failed","error":null}}}"#);
    let [
        Item::TurnDone {
            turn_id,
            result: Err(e),
        },
    ] = &items[..]
    else {
        panic!("{items:?}")
    };
    assert_eq!(turn_id, "u");
    assert_eq!(e.message, "codex: quota exceeded");
}
