//! The TCP listener under abuse: a flood of idle sockets cannot freeze the daemon, and a
//! revoked key loses every stream and attachment it opened at once.

use super::{create_session, start};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Auth, Item, SseItem};
use agentmux_tests::{poll_until, within};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// True once the peer has closed `s` (EOF or reset) within `wait`, reading and dropping whatever
/// it still sends; false if it is still open then.
async fn closed_by_peer<S: tokio::io::AsyncRead + Unpin>(s: &mut S, wait: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_flood_of_idle_sockets_cannot_freeze_the_daemon() {
    // 256 descriptors: the daemon keeps a reserve and holds at most 192 TCP connections.
    let (_fake, d) = start(|o| {
        o.tcp()
            .open_files(256)
            .daemon("unauthenticated_timeout_secs = 2")
            .daemon("idle_timeout_secs = 2")
    })
    .await;
    let addr = d.tcp_addr.clone().unwrap();
    let (_, secret) = d.create_key("steady").await;
    // A client that authenticated before the flood keeps its stream through it.
    let steady = d.tcp_rest(Auth::Bearer(secret.clone()));
    let mut sse = steady.sse("/v1/events", None).await;

    let mut flood = Vec::new();
    for _ in 0..1000 {
        match TcpStream::connect(&addr).await {
            Ok(s) => flood.push(s),
            Err(e) => panic!("the kernel refused a connection ({e}): the listener died"),
        }
    }

    // The Unix socket answers at once, and so do TCP clients with a key on new connections.
    let t0 = Instant::now();
    let health = d.rest().get("/v1/health").await;
    assert_eq!(health.status, 200, "{}", health.text());
    let unix_ms = t0.elapsed().as_millis();
    assert!(
        unix_ms < 2000,
        "health on the Unix socket took {unix_ms} ms"
    );
    let fresh = d.tcp_rest(Auth::Bearer(secret.clone()));
    let r = fresh.get("/v1/health").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = create_session(&d.rest(), "after the flood").await;
    loop {
        match within("the steady stream", sse.next_item()).await {
            Some(Item::Event(e)) if e.session_id == s["id"].as_str().unwrap() => break,
            Some(_) => {}
            None => panic!("the authenticated stream was closed by the flood"),
        }
    }

    // Every flood socket is closed by the daemon: evicted for newer ones or timed out.
    let mut open = 0;
    for s in &mut flood {
        if !closed_by_peer(s, Duration::from_secs(5)).await {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} idle sockets without a key were left open");
    let log = poll_until("the limits are logged", Duration::from_secs(5), || async {
        let log = d.log_tail(400);
        log.contains("connection limits are biting").then_some(log)
    })
    .await;
    assert!(log.contains("evicted_unauthenticated"), "{log}");

    // An authenticated keep-alive connection that goes quiet is closed too.
    let mut raw = TcpStream::connect(&addr).await.unwrap();
    let req =
        format!("GET /v1/health HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {secret}\r\n\r\n");
    raw.write_all(req.as_bytes()).await.unwrap();
    let mut got = vec![0u8; 4096];
    let n = within("the health answer", raw.read(&mut got))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&got[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_by_peer(&mut raw, Duration::from_secs(8)).await,
        "an idle authenticated connection stays open past idle_timeout_secs"
    );
    assert_eq!(fresh.get("/v1/health").await.status, 200);
}

#[tokio::test]
async fn a_socket_that_sends_half_a_request_is_closed() {
    let (_fake, d) = start(|o| o.tcp().daemon("unauthenticated_timeout_secs = 1")).await;
    let addr = d.tcp_addr.clone().unwrap();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    assert!(closed_by_peer(&mut s, Duration::from_secs(8)).await);
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn revoking_a_key_ends_its_streams_and_attachments_at_once() {
    let (_fake, d) = start(|o| o.tcp()).await;
    let addr = d.tcp_addr.clone().unwrap();
    let (key_id, secret) = d.create_key("doomed").await;
    let (_, other) = d.create_key("kept").await;
    let dir = tempfile::tempdir().unwrap();
    d.rest()
        .post(
            "/v1/terminals",
            serde_json::json!({"name": "sh", "command": "bash",
                "args": ["--norc", "--noprofile", "-i"], "cwd": dir.path()}),
        )
        .await;

    let mut sse = d
        .tcp_rest(Auth::Bearer(secret.clone()))
        .sse("/v1/events", None)
        .await;
    let mut kept = d
        .tcp_rest(Auth::Bearer(other.clone()))
        .sse("/v1/events", None)
        .await;
    let g = d.tcp_grpc(Auth::Bearer(secret.clone())).await;
    let mut sub = g
        .events()
        .subscribe(pb::SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut req = format!("ws://{addr}/v1/terminals/sh/attach?rows=24&cols=80")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut ws, _) = within("attach", tokio_tungstenite::client_async(req, stream))
        .await
        .unwrap();
    ws.send(Message::Binary(b"echo before-$((6*7))\r".to_vec().into()))
        .await
        .unwrap();
    let mut screen = String::new();
    while !screen.contains("before-42") {
        match within("terminal output", ws.next()).await {
            Some(Ok(Message::Binary(b))) => screen.push_str(&String::from_utf8_lossy(&b)),
            Some(Ok(_)) => {}
            other => panic!("attachment ended early: {other:?}"),
        }
    }

    let t0 = Instant::now();
    let r = d.rest().delete(&format!("/v1/keys/{key_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // SSE: an error event naming the reason, then the end.
    let mut said = false;
    loop {
        match within("the SSE stream to end", sse.try_next_raw()).await {
            Ok(Some(SseItem::Event { event, data, .. })) if event == "error" => {
                assert!(
                    data.contains("unauthenticated") && data.contains("revoked"),
                    "{data}"
                );
                said = true;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(said, "the SSE stream ended without saying why");
    let sse_ms = t0.elapsed().as_millis();

    // gRPC: UNAUTHENTICATED.
    let err = loop {
        match within("the gRPC stream to end", sub.message()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the gRPC stream ended without a status"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");

    // WebSocket: closed with 1008, and input sent after that runs nothing.
    let marker = dir.path().join("after");
    let _ = ws
        .send(Message::Binary(
            format!("touch {}\r", marker.display()).into_bytes().into(),
        ))
        .await;
    loop {
        match within("the attachment to end", ws.next()).await {
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1008, "{f:?}");
                break;
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let all_ms = t0.elapsed().as_millis();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists(), "input sent after the revocation ran");
    // Generous bounds: "at once" means well under the heartbeat interval.
    assert!(sse_ms < 3000 && all_ms < 3000, "{sse_ms} ms, {all_ms} ms");

    // The other key's stream goes on.
    let s = create_session(&d.rest(), "still watched").await;
    loop {
        match within("the other key's stream", kept.next_item()).await {
            Some(Item::Event(e)) if e.session_id == s["id"].as_str().unwrap() => break,
            Some(_) => {}
            None => panic!("revoking one key ended another key's stream"),
        }
    }
    d.tcp_rest(Auth::Bearer(secret))
        .get("/v1/health")
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_off() {
    let (_fake, d) = start(|o| o.tcp().daemon("stalled_write_timeout_secs = 2")).await;
    let addr = d.tcp_addr.clone().unwrap();
    let (_, secret) = d.create_key("stalls").await;
    let rest = d.rest();
    let s = super::id_of(&create_session(&rest, "big history").await);
    // About 10 MB of events: more than the socket buffers hold (the reader's is kept small;
    // the daemon's send buffer grows to 4 MB on Linux).
    let big = "z".repeat(300 * 1024);
    for _ in 0..12 {
        super::send_wait(&rest, &s, &big).await;
    }
    let get = "GET /v1/events HTTP/1.1\r\nhost: x\r\n";
    let mut unix = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    unix.write_all(format!("{get}\r\n").as_bytes())
        .await
        .unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut tcp = sock.connect(addr.parse().unwrap()).await.unwrap();
    tcp.write_all(format!("{get}authorization: Bearer {secret}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Nobody reads for longer than the limit.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        closed_by_peer(&mut unix, Duration::from_secs(10)).await,
        "a stalled reader on the Unix socket was not cut off"
    );
    assert!(
        closed_by_peer(&mut tcp, Duration::from_secs(10)).await,
        "a stalled reader over TCP was not cut off"
    );
    let log = d.log_tail(400);
    assert!(log.contains("its peer stopped reading"), "{log}");
    // A reader that keeps up is not cut: a full replay arrives through SSE.
    let mut sse = d.rest().sse("/v1/events", None).await;
    let head = d.last_seq().await;
    agentmux_tests::client::read_contiguous(&mut sse, 0, head).await;
    assert_eq!(d.rest().get("/v1/health").await.status, 200);
}

#[tokio::test]
async fn event_streams_are_capped_per_key_and_in_all() {
    let (_fake, d) = start(|o| {
        o.tcp()
            .daemon("max_streams_per_key = 2")
            .daemon("max_streams = 3")
    })
    .await;
    let (_, a) = d.create_key("a").await;
    let (_, b) = d.create_key("b").await;
    let ra = d.tcp_rest(Auth::Bearer(a.clone()));
    let s1 = ra.sse("/v1/events", None).await;
    let _s2 = ra.sse("/v1/events", None).await;
    let r = ra.get("/v1/events").await;
    r.assert_error(429, "resource_exhausted");
    assert!(r.text().contains("this API key"), "{}", r.text());
    let g = d.tcp_grpc(Auth::Bearer(a)).await;
    let err = g
        .events()
        .subscribe(pb::SubscribeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Another key may open one more: the third stream in all.
    let rb = d.tcp_rest(Auth::Bearer(b));
    let _s3 = rb.sse("/v1/events", None).await;
    let r = d.rest().get("/v1/events").await;
    r.assert_error(429, "resource_exhausted");
    assert!(r.text().contains("the daemon holds"), "{}", r.text());
    // A closed stream gives its place back.
    drop(s1);
    poll_until(
        "the closed stream's place",
        Duration::from_secs(10),
        || async {
            let r = d.rest().get("/v1/health").await;
            assert_eq!(r.status, 200);
            let probe = reqwest_probe(&d).await;
            probe.then_some(())
        },
    )
    .await;
}

/// True when a new SSE stream over the Unix socket is accepted now (its headers only).
async fn reqwest_probe(d: &agentmux_tests::daemon::Daemon) -> bool {
    let mut s = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
    s.write_all(b"GET /v1/events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = within("the stream's answer", s.read(&mut buf))
        .await
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}
