//! Terminals end to end: real programs in the daemon's PTYs, attached over gRPC and WebSocket.

use agentmux_proto::v1 as pb;
use agentmux_tests::daemon::{Daemon, DaemonOptions};
use agentmux_tests::term::Attached;
use agentmux_tests::within;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn daemon() -> Daemon {
    Daemon::start(DaemonOptions::default()).await
}

/// A quiet interactive bash with a fixed prompt.
async fn bash(d: &Daemon, name: &str) -> pb::Terminal {
    let mut env = std::collections::HashMap::new();
    env.insert("PS1".to_string(), "$ ".to_string());
    d.grpc()
        .await
        .terminals()
        .create_terminal(pb::CreateTerminalRequest {
            name: name.into(),
            command: "bash".into(),
            args: vec!["--norc".into(), "--noprofile".into(), "-i".into()],
            env,
            rows: 24,
            cols: 80,
            ..Default::default()
        })
        .await
        .expect("create terminal")
        .into_inner()
}

#[tokio::test]
async fn bash_attach_type_detach_reattach() {
    let d = daemon().await;
    let g = d.grpc().await;
    let t = bash(&d, "sh").await;
    assert_eq!(t.status, pb::TerminalStatus::Running as i32);
    assert!(t.pid > 0);

    let mut a = Attached::attach(&g, "sh", 24, 80).await;
    a.wait_for("$ ", WAIT).await;
    a.input("echo hello-$((6*7))\r").await;
    a.wait_for("hello-42", WAIT).await;
    drop(a);

    // Reattaching by id prefix shows the same screen at once: the snapshot, plus any output
    // the daemon had read but not yet parsed, sent right behind it. No new input is sent, so
    // what shows comes from the daemon's copy of the screen.
    let mut b = Attached::attach(&g, &t.id[..t.id.len() - 2], 0, 0).await;
    b.wait_for("hello-42", Duration::from_secs(2)).await;
}

#[tokio::test]
async fn two_clients_see_the_same_output_and_a_stalled_one_does_not_block() {
    let d = daemon().await;
    let g = d.grpc().await;
    bash(&d, "sh").await;
    let mut a = Attached::attach(&g, "sh", 24, 80).await;
    let mut b = Attached::attach(&g, "sh", 24, 80).await;
    // Never reads: its queues fill, and it must not hold up the PTY or the others.
    let mut stalled = Attached::attach(&g, "sh", 24, 80).await;
    a.wait_for("$ ", WAIT).await;
    a.input("seq 1 700000; echo done-$((1+1))\r").await;
    a.wait_for("done-2\n$ ", Duration::from_secs(30)).await;
    b.wait_for("done-2\n$ ", Duration::from_secs(30)).await;
    assert_eq!(a.screen(), b.screen());
    // The stalled client catches up with a fresh snapshot instead of a backlog.
    stalled.wait_for("done-2", Duration::from_secs(30)).await;
    assert!(
        stalled.snapshots >= 2,
        "expected a fresh snapshot after lagging"
    );
}

#[tokio::test]
async fn resize_reaches_the_program() {
    let d = daemon().await;
    let g = d.grpc().await;
    bash(&d, "sh").await;
    let mut a = Attached::attach(&g, "sh", 24, 80).await;
    a.wait_for("$ ", WAIT).await;
    a.resize(33, 97).await;
    a.input("clear; stty size\r").await;
    a.wait_for("33 97", WAIT).await;
    let t = g
        .terminals()
        .get_terminal(pb::GetTerminalRequest { id: "sh".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((t.rows, t.cols), (33, 97));
}

#[tokio::test]
async fn exit_status_is_reported_and_the_screen_stays() {
    let d = daemon().await;
    let g = d.grpc().await;
    let t = bash(&d, "sh").await;
    let mut a = Attached::attach(&g, "sh", 24, 80).await;
    a.wait_for("$ ", WAIT).await;
    a.input("echo last-words; exit 3\r").await;
    let exit = a.wait_exit().await;
    assert_eq!(exit.exit_code, 3);
    let rest = d.rest();
    let got = agentmux_tests::poll_until("exited record", WAIT, || async {
        let t = rest.get_ok(&format!("/v1/terminals/{}", t.id)).await;
        (t["status"] == "exited").then_some(t)
    })
    .await;
    assert_eq!(got["exit_code"], 3);
    // An exited terminal still shows its final screen, then says it exited.
    let mut b = Attached::attach(&g, "sh", 0, 0).await;
    assert!(b.screen().contains("last-words"), "{}", b.screen());
    assert_eq!(b.wait_exit().await.exit_code, 3);
    // Restart runs the command again.
    let r = rest
        .post(&format!("/v1/terminals/{}/restart", t.id), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "running");
}

#[tokio::test]
async fn kill_escalates_and_remove_forgets() {
    let d = daemon().await;
    let rest = d.rest();
    // Ignores SIGHUP and SIGTERM: only SIGKILL ends it.
    let r = rest
        .post(
            "/v1/terminals",
            json!({"name": "stubborn", "command": "bash", "args": ["-c", "trap '' HUP TERM; while :; do sleep 1; done"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Let bash install its traps before the signals come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let k = rest.post("/v1/terminals/stubborn/kill", json!({})).await;
    assert_eq!(k.status, 200, "{}", k.text());
    assert_eq!(k.json()["status"], "exited", "{}", k.text());
    assert_eq!(k.json()["exit_signal"], "SIGKILL", "{}", k.text());
    let del = rest.delete("/v1/terminals/stubborn").await;
    assert_eq!(del.status, 200);
    rest.get("/v1/terminals/stubborn")
        .await
        .assert_error(404, "not_found");
    // Bad input: a program that is not there (404), an unknown preset, an absurd size.
    rest.post("/v1/terminals", json!({"command": "/no/such/program"}))
        .await
        .assert_error(404, "not_found");
    rest.post("/v1/terminals", json!({"preset": "nope"}))
        .await
        .assert_error(400, "invalid_argument");
    rest.post("/v1/terminals", json!({"command": "bash", "rows": 100000}))
        .await
        .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn kill_9_then_restart_shows_the_terminal_exited_with_its_screen() {
    let mut d = daemon().await;
    {
        let g = d.grpc().await;
        bash(&d, "sh").await;
        let mut a = Attached::attach(&g, "sh", 24, 80).await;
        a.wait_for("$ ", WAIT).await;
        a.input("echo remember-$((40+2))\r").await;
        a.wait_for("remember-42", WAIT).await;
        // Screens are saved every 2 s while they change.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    d.kill9().await;
    d.restart().await;
    let g = d.grpc().await;
    let t = g
        .terminals()
        .get_terminal(pb::GetTerminalRequest { id: "sh".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.status, pb::TerminalStatus::Exited as i32);
    let mut a = Attached::attach(&g, "sh", 0, 0).await;
    assert!(a.screen().contains("remember-42"), "{}", a.screen());
    a.wait_exit().await;
}

#[tokio::test]
async fn vim_draws_the_same_screen_through_the_daemon() {
    let d = daemon().await;
    let g = d.grpc().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("poem.txt");
    std::fs::write(&file, "roses are red\nviolets are blue\n").unwrap();
    g.terminals()
        .create_terminal(pb::CreateTerminalRequest {
            name: "vim".into(),
            command: "vim".into(),
            args: vec![
                "-u".into(),
                "NONE".into(),
                "-N".into(),
                file.display().to_string(),
            ],
            rows: 20,
            cols: 60,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut a = Attached::attach(&g, "vim", 20, 60).await;
    let screen = a.wait_for("violets are blue", WAIT).await;
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines[0], "roses are red");
    assert_eq!(lines[1], "violets are blue");
    assert!(lines[2].starts_with('~'), "{screen}");
    assert!(
        a.parser.screen().alternate_screen(),
        "vim uses the alternate screen"
    );
    // A second client joining later gets the same screen from the snapshot.
    let mut b = Attached::attach(&g, "vim", 0, 0).await;
    // Either may still have output in flight (the snapshot can have a backlog behind it):
    // read both until they agree.
    let t0 = std::time::Instant::now();
    while b.screen() != a.screen() && t0.elapsed() < WAIT {
        let _ = tokio::time::timeout(Duration::from_millis(100), a.step()).await;
        let _ = tokio::time::timeout(Duration::from_millis(100), b.step()).await;
    }
    assert_eq!(b.screen(), a.screen());
    a.input(":q!\r").await;
    a.wait_exit().await;
}

#[tokio::test]
async fn websocket_attach_carries_output_input_and_resize() {
    let d = daemon().await;
    bash(&d, "sh").await;
    let sock = d.socket.clone();
    let stream = within("connect", tokio::net::UnixStream::connect(&sock))
        .await
        .unwrap();
    let (mut ws, _) = within(
        "ws handshake",
        tokio_tungstenite::client_async(
            "ws://agentmux.local/v1/terminals/sh/attach?rows=24&cols=80",
            stream,
        ),
    )
    .await
    .expect("websocket attach");
    use tokio_tungstenite::tungstenite::Message;
    let mut parser = vt100::Parser::new(
        std::num::NonZeroU16::new(24).unwrap(),
        std::num::NonZeroU16::new(80).unwrap(),
        0,
    );
    let mut saw_snapshot_header = false;
    ws.send(Message::Binary(
        "echo ws-$((2*21))\r".as_bytes().to_vec().into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({"type": "resize", "rows": 30, "cols": 90})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    while !parser.screen().contents().contains("ws-42") {
        assert!(t0.elapsed() < WAIT, "{}", parser.screen().contents());
        match within("ws frame", ws.next()).await {
            Some(Ok(Message::Binary(b))) => parser.process(&b),
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "snapshot" {
                    saw_snapshot_header = true;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("websocket ended: {other:?}"),
        }
    }
    assert!(saw_snapshot_header);
    let t = d.rest().get_ok("/v1/terminals/sh").await;
    assert_eq!(
        (t["rows"].as_u64(), t["cols"].as_u64()),
        (Some(30), Some(90))
    );
    // An unknown terminal is a plain 404 before any upgrade; a request without an upgrade
    // gets the error envelope.
    let stream = tokio::net::UnixStream::connect(&sock).await.unwrap();
    match tokio_tungstenite::client_async("ws://agentmux.local/v1/terminals/nope/attach", stream)
        .await
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 404),
        other => panic!("expected a 404 handshake failure, got {other:?}"),
    }
    d.rest()
        .get("/v1/terminals/nope/attach")
        .await
        .assert_error(404, "not_found");
    d.rest()
        .get("/v1/terminals/sh/attach")
        .await
        .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn credential_values_are_masked_for_clients_but_reach_the_program() {
    let d = daemon().await;
    let rest = d.rest();
    let r = rest
        .post(
            "/v1/terminals",
            json!({"name": "env", "command": "bash", "args": ["--norc", "--noprofile", "-i"],
                   "env": {"API_TOKEN": "s3cret-value", "PS1": "$ "}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    for t in [
        r.json(),
        rest.get_ok("/v1/terminals/env").await,
        rest.get_ok("/v1/terminals").await["terminals"][0].clone(),
    ] {
        assert_eq!(t["env"]["API_TOKEN"], "<redacted>", "{t}");
        assert_eq!(t["env"]["PS1"], "$ ", "{t}");
    }
    let mut sse = rest.sse("/v1/events", None).await;
    loop {
        match within("terminal.created", sse.next_item()).await {
            Some(agentmux_tests::client::Item::Event(e)) => {
                if let agentmux_shared::types::EventPayload::TerminalCreated { terminal } =
                    e.payload
                {
                    assert_eq!(terminal.env["API_TOKEN"], "<redacted>");
                    break;
                }
            }
            Some(_) => {}
            None => panic!("the stream ended"),
        }
    }
    let g = d.grpc().await;
    let mut a = Attached::attach(&g, "env", 24, 80).await;
    a.wait_for("$ ", WAIT).await;
    a.input("echo got-$API_TOKEN\r").await;
    a.wait_for("got-s3cret-value", WAIT).await;
}
