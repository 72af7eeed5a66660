//! The scripting CLI (`agentmux`) against a real daemon: exit codes and errors as JSON, the
//! message from stdin, the shell's directory as a new session's, `log`, and `send --wait`
//! streaming the answer as it arrives.

use super::{start, wait_session};
use agentmux_tests::daemon::{Daemon, client_bin};
use agentmux_tests::fake_openai::{Script, Step};
use pretty_assertions::assert_eq;
use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const TIMEOUT: Duration = Duration::from_secs(60);

fn cli(d: &Daemon, args: &[&str]) -> Command {
    let mut cmd = Command::new(client_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .current_dir(d.work_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs to completion, feeding `stdin` when given.
async fn run_in(mut cmd: Command, stdin: Option<&str>) -> Output {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn agentmux");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("agentmux finished in time")
        .expect("agentmux ran")
}

async fn run(d: &Daemon, args: &[&str]) -> Output {
    run_in(cli(d, args), None).await
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Runs and requires success; returns stdout.
async fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = run(d, args).await;
    assert!(o.status.success(), "agentmux {args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

#[tokio::test]
async fn exit_codes_tell_failures_apart_and_json_errors_are_json() {
    let (_fake, d) = start(|o| o).await;
    let o = run(&d, &["session", "show", "ses_nope"]).await;
    assert_eq!(code(&o), 3, "not found: {}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("error: not_found:"),
        "{}",
        text(&o.stderr)
    );

    let o = run(&d, &["--json", "session", "show", "ses_nope"]).await;
    assert_eq!(code(&o), 3);
    let err: Value = serde_json::from_slice(&o.stderr).expect("stderr is one JSON object");
    assert_eq!(err["error"]["code"], "not_found");
    assert_eq!(err["error"]["exit"], 3);
    assert_eq!(err["error"]["exit_name"], "not_found");
    assert!(o.stdout.is_empty());

    // Bad usage, caught by the grammar or by the daemon.
    assert_eq!(code(&run(&d, &["session", "bogus"]).await), 2);
    assert_eq!(
        code(&run(&d, &["events", "--all", "--after", "1"]).await),
        2
    );
    let o = run(&d, &["session", "new", "--approval-policy", "sometimes"]).await;
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));

    // Completions and the manual need no daemon and name the subcommands.
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&d, &["completions", shell]).await;
        assert!(
            out.contains("session") && out.contains("approvals"),
            "{shell}: {out}"
        );
    }
    let man = ok(&d, &["man"]).await;
    assert!(man.contains(".TH agentmux 1"), "{man}");

    // No daemon there, and none to start for `status`.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let mut cmd = Command::new(client_bin());
    cmd.arg("--socket").arg(&sock).args(["daemon", "status"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = run_in(cmd, None).await;
    assert_eq!(code(&o), 6, "{}", text(&o.stderr));
}

#[tokio::test]
async fn messages_come_from_stdin_sessions_start_here_and_log_prints_the_transcript() {
    let (_fake, d) = start(|o| o).await;
    let here = tempfile::tempdir().unwrap();
    let mut cmd = cli(&d, &["--json", "session", "new", "--title", "cli"]);
    cmd.current_dir(here.path());
    let o = run_in(cmd, None).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = here.path().canonicalize().unwrap();
    assert_eq!(
        Path::new(s["cwd"].as_str().unwrap()),
        want,
        "a session starts in the shell's directory"
    );
    let id = s["id"].as_str().unwrap().to_string();

    let o = run_in(
        cli(&d, &["send", &id, "-", "--wait"]),
        Some("hello from stdin"),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "echo: hello from stdin\n");
    // No argument and a pipe: stdin too.
    let o = run_in(cli(&d, &["send", &id]), Some("piped")).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("msg_"), "{}", text(&o.stdout));
    wait_session(&d.rest(), &id, 10, "idle after the piped message", |s| {
        s["busy"] == false && s["message_count"] == 4
    })
    .await;

    let log = ok(&d, &["log", &id]).await;
    for want in [
        "## you #0",
        "hello from stdin",
        "## assistant (fake-model) #1",
        "echo: hello from stdin",
        "## you #2",
        "echo: piped",
    ] {
        assert!(log.contains(want), "{want:?} missing from:\n{log}");
    }
    let lines: Vec<Value> = ok(&d, &["--json", "log", &id])
        .await
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON message per line"))
        .collect();
    let roles: Vec<&str> = lines.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn send_wait_streams_the_answer_before_it_is_complete() {
    let (fake, d) = start(|o| o).await;
    let id =
        serde_json::from_str::<Value>(&ok(&d, &["--json", "session", "new"]).await).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    fake.push(Script::new(vec![
        Step::Text {
            text: "first part".into(),
            delay: Duration::ZERO,
        },
        Step::Text {
            text: " second part".into(),
            delay: Duration::from_secs(3),
        },
    ]));
    let mut child = cli(&d, &["send", &id, "go", "--wait"]).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    tokio::time::timeout(TIMEOUT, async {
        while !text(&got).contains("first part") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "stdout closed before the first part: {}", text(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the first part arrived");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first part was printed while the answer was still being written"
    );
    stdout.read_to_end(&mut got).await.unwrap();
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert_eq!(text(&got), "first part second part\n");
}

#[tokio::test]
async fn a_failed_turn_exits_8_with_the_upstream_reason() {
    let (fake, d) = start(|o| o).await;
    let id =
        serde_json::from_str::<Value>(&ok(&d, &["--json", "session", "new"]).await).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    fake.push(Script::http_error(529, "overloaded right now"));
    let o = run(&d, &["send", &id, "hi", "--wait"]).await;
    assert_eq!(code(&o), 8, "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("529") || err.contains("overloaded"), "{err}");

    fake.push(Script::http_error(529, "overloaded right now"));
    let o = run(&d, &["--json", "send", &id, "again", "--wait"]).await;
    assert_eq!(code(&o), 8);
    let events: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let last = events.last().expect("the turn's events");
    assert_eq!(last["type"], "turn.finished", "{last}");
    let err: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["error"]["exit_name"], "turn_failed");
}

#[tokio::test]
async fn sessions_answer_to_names_made_from_their_titles() {
    let (_fake, d) = start(|o| o).await;
    let new = |args: &'static [&'static str]| {
        let d = &d;
        async move {
            let mut a = vec!["--json", "session", "new"];
            a.extend_from_slice(args);
            serde_json::from_str::<Value>(&ok(d, &a).await).unwrap()
        }
    };
    let first = new(&["--title", "Parser Refactor!"]).await;
    assert_eq!(first["name"], "parser-refactor");
    let second = new(&["--title", "parser refactor"]).await;
    assert_eq!(second["name"], "parser-refactor-2", "names stay unique");
    let o = run(&d, &["session", "new", "--name", "parser-refactor"]).await;
    assert_eq!(
        code(&o),
        4,
        "a taken name is a conflict: {}",
        text(&o.stderr)
    );

    // Every command takes the name, or a unique prefix of it.
    let shown: Value =
        serde_json::from_str(&ok(&d, &["--json", "session", "show", "parser-refactor-2"]).await)
            .unwrap();
    assert_eq!(shown["id"], second["id"]);
    let out = ok(&d, &["send", "parser-refactor-2", "hello", "--wait"]).await;
    assert_eq!(out, "echo: hello\n");
    let o = run(&d, &["session", "show", "parser"]).await;
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("ambiguous"), "{}", text(&o.stderr));

    // Untitled: called by the end of its id until a title is given, then by the title.
    let untitled = new(&[]).await;
    let id = untitled["id"].as_str().unwrap();
    let tail = &id[id.len() - 6..];
    assert_eq!(untitled["name"], tail);
    ok(&d, &["session", "show", tail]).await;
    let renamed: Value =
        serde_json::from_str(&ok(&d, &["--json", "session", "rename", tail, "Flaky CI"]).await)
            .unwrap();
    assert_eq!(renamed["name"], "flaky-ci");
    ok(&d, &["session", "show", "flaky-ci"]).await;
    let o = run(&d, &["session", "show", tail]).await;
    assert_eq!(code(&o), 3, "the old name is free again");

    // A deleted session's name can be taken again, and names survive a restart.
    ok(&d, &["session", "rm", "parser-refactor"]).await;
    let again = new(&["--name", "parser-refactor"]).await;
    assert_eq!(again["name"], "parser-refactor");
    let mut d = d;
    d.sigterm().await;
    d.restart().await;
    let shown: Value =
        serde_json::from_str(&ok(&d, &["--json", "session", "show", "parser-refactor"]).await)
            .unwrap();
    assert_eq!(shown["id"], again["id"]);
}

/// `daemon reload` (SIGHUP) applies a changed provider to the next turn without interrupting
/// the one running, and a config that does not parse changes nothing.
#[tokio::test]
async fn reload_applies_a_new_config_without_interrupting_the_running_turn() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = super::id_of(&super::create_session(&rest, "reload").await);
    fake.push(Script::new(vec![
        Step::Text {
            text: "part one".into(),
            delay: Duration::ZERO,
        },
        Step::Text {
            text: " part two".into(),
            delay: Duration::from_secs(2),
        },
    ]));
    super::send(&rest, &id, "slow").await;
    wait_session(&rest, &id, 10, "the slow turn running", |s| {
        s["busy"] == true
    })
    .await;

    let config = std::fs::read_to_string(&d.config_file).unwrap();
    std::fs::write(&d.config_file, config.replace("fake-key", "second-key")).unwrap();
    let out = ok(&d, &["daemon", "reload"]).await;
    assert_eq!(out, "config reloaded (changed: providers.openai)\n");

    let s = wait_session(&rest, &id, 20, "the slow turn done", |s| s["busy"] == false).await;
    assert_eq!(s["status"], "idle", "{s}");
    let msgs = super::messages(&rest, &id).await;
    assert_eq!(msgs[1]["content"], "part one part two");
    assert_eq!(msgs[1]["status"], "complete");
    let r = super::send_wait(&rest, &id, "after").await;
    assert_eq!(r["reply"]["content"], "echo: after");
    let auth: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.authorization.clone())
        .collect();
    assert_eq!(auth, ["Bearer fake-key", "Bearer second-key"]);

    // A broken file is refused with its reason; the daemon keeps the config it had.
    std::fs::write(&d.config_file, "[daemon\n").unwrap();
    let o = run(&d, &["daemon", "reload"]).await;
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not reloaded"),
        "{}",
        text(&o.stderr)
    );
    let r = super::send_wait(&rest, &id, "still").await;
    assert_eq!(r["reply"]["content"], "echo: still");
    assert_eq!(
        fake.requests().last().map(|r| r.authorization.clone()),
        Some("Bearer second-key".to_string())
    );
}

/// A `send --wait` whose message a hard cancel drops from the queue ends at once (exit 9),
/// rather than waiting for a turn that never comes.
#[tokio::test]
async fn send_wait_ends_when_its_queued_message_is_dropped() {
    let (fake, d) = start(|o| o).await;
    let rest = d.rest();
    let id = super::id_of(&super::create_session(&rest, "cancel").await);
    fake.push(Script::new(vec![
        Step::Text {
            text: "working".into(),
            delay: Duration::ZERO,
        },
        Step::Hang,
    ]));
    super::send(&rest, &id, "first").await;
    wait_session(&rest, &id, 10, "the first turn running", |s| {
        s["busy"] == true
    })
    .await;
    let waiting = cli(&d, &["send", &id, "second", "--wait"]).output();
    let cancel = async {
        wait_session(&rest, &id, 10, "the second message queued", |s| {
            s["queued"] == 1
        })
        .await;
        let r = rest
            .post(
                &format!("/v1/sessions/{id}/cancel"),
                serde_json::json!({"clear_queue": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    };
    let (o, ()) = tokio::join!(
        async { tokio::time::timeout(TIMEOUT, waiting).await },
        cancel
    );
    let o = o.expect("send --wait ended").expect("agentmux ran");
    assert_eq!(code(&o), 9, "{}", text(&o.stderr));
}
