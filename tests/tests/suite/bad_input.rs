//! Bad input gets the right error (REST envelope or gRPC status) and the daemon keeps serving.

use super::{assert_healthy, create_session, id_of, start};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Auth, Rest};
use bytes::Bytes;
use pretty_assertions::assert_eq;
use serde_json::json;
use tonic::Code;

const JSON: &str = "application/json";

#[tokio::test]
async fn bad_rest_input_gets_the_right_error_and_the_daemon_keeps_serving() {
    let (_fake, d) = start(|o| o.daemon("max_body_bytes = 1024").tcp()).await;
    let rest = d.rest();
    let id = id_of(&create_session(&rest, "target").await);
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;

    // (what, reply, status, code)
    let mut cases = Vec::new();
    cases.push((
        "malformed JSON",
        rest.raw(post.clone(), "/v1/sessions", JSON, "{\"title\": ")
            .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "JSON of the wrong shape",
        rest.raw(post.clone(), "/v1/sessions", JSON, r#"{"title": 5}"#)
            .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "malformed JSON on send",
        rest.raw(
            post.clone(),
            &format!("/v1/sessions/{id}/messages"),
            JSON,
            "not json",
        )
        .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "invalid UTF-8 in a JSON string",
        rest.raw(
            post.clone(),
            "/v1/sessions",
            JSON,
            Bytes::from_static(b"{\"title\": \"\xff\xfe bad\"}"),
        )
        .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "invalid UTF-8 message content",
        rest.raw(
            post.clone(),
            &format!("/v1/sessions/{id}/messages"),
            JSON,
            Bytes::from_static(b"{\"content\": \"\xc3\x28\"}"),
        )
        .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "unknown route",
        rest.get("/v1/no/such/route").await,
        404,
        "not_found",
    ));
    cases.push((
        "unknown session",
        rest.get("/v1/sessions/ses_nope").await,
        404,
        "not_found",
    ));
    cases.push((
        "send to an unknown session",
        rest.post("/v1/sessions/ses_nope/messages", json!({"content": "hi"}))
            .await,
        404,
        "not_found",
    ));
    cases.push((
        "title of 121 chars on create",
        rest.post("/v1/sessions", json!({"title": "t".repeat(121)}))
            .await,
        400,
        "invalid_argument",
    ));
    cases.push((
        "title of 121 chars on rename",
        rest.patch(
            &format!("/v1/sessions/{id}"),
            json!({"title": "é".repeat(121)}),
        )
        .await,
        400,
        "invalid_argument",
    ));
    let big = json!({"title": "x", "cwd": "y".repeat(2000)}).to_string();
    cases.push((
        "body over max_body_bytes",
        rest.raw(post.clone(), "/v1/sessions", JSON, big.clone())
            .await,
        413,
        "payload_too_large",
    ));
    cases.push((
        "message over max_body_bytes",
        rest.raw(
            post.clone(),
            &format!("/v1/sessions/{id}/messages"),
            JSON,
            json!({"content": "z".repeat(5000)}).to_string(),
        )
        .await,
        413,
        "payload_too_large",
    ));
    // Chunked, so no Content-Length tells the size up front. Just over the limit, so the whole
    // body is on the wire before the daemon answers (an early answer may otherwise race the upload).
    let just_over = json!({"title": "x", "cwd": "y".repeat(1030)}).to_string();
    let chunks: Vec<Result<Bytes, std::io::Error>> = just_over
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    cases.push((
        "chunked body over max_body_bytes",
        rest.raw(
            patch.clone(),
            &format!("/v1/sessions/{id}"),
            JSON,
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        )
        .await,
        413,
        "payload_too_large",
    ));

    for (what, reply, status, code) in &cases {
        assert_eq!(reply.status, *status, "{what}: {}", reply.text());
        reply.assert_error(*status, code);
        assert_healthy(&rest).await;
    }

    // Over TCP too (with a key): the limit and the envelope are the same.
    let (_, secret) = d.create_key("bad-input").await;
    let tcp = d.tcp_rest(Auth::Bearer(secret));
    tcp.raw(post.clone(), "/v1/sessions", JSON, big)
        .await
        .assert_error(413, "payload_too_large");
    tcp.raw(post.clone(), "/v1/sessions", JSON, "{")
        .await
        .assert_error(400, "invalid_argument");

    // Boundaries that must pass: 120 chars (also multi-byte), nothing was created by the rejects.
    let ok = create_session(&rest, &"t".repeat(120)).await;
    assert_eq!(ok["title"].as_str().unwrap().chars().count(), 120);
    let r = rest
        .patch(
            &format!("/v1/sessions/{id}"),
            json!({"title": "é".repeat(120)}),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "120 two-byte chars is a valid title: {}",
        r.text()
    );
    let list = rest.get_ok("/v1/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(
        rest.get_ok(&format!("/v1/sessions/{id}/messages")).await["messages"],
        json!([]),
        "rejected sends stored nothing"
    );
    assert_healthy(&tcp_ok(&d).await).await;
}

async fn tcp_ok(d: &agentmux_tests::daemon::Daemon) -> Rest {
    let (_, secret) = d.create_key("probe").await;
    d.tcp_rest(Auth::ApiKey(secret))
}

#[tokio::test]
async fn bad_grpc_input_gets_the_right_status() {
    let (_fake, d) = start(|o| o).await;
    let g = d.grpc().await;
    let mut s = g.sessions();
    let err = s
        .create_session(pb::CreateSessionRequest {
            title: "t".repeat(121),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let ok = s
        .create_session(pb::CreateSessionRequest {
            title: "ü".repeat(120),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = s
        .rename_session(pb::RenameSessionRequest {
            id: ok.id.clone(),
            title: "t".repeat(121),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = s
        .get_session(pb::GetSessionRequest {
            id: "ses_nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = s
        .create_session(pb::CreateSessionRequest {
            provider: "no-such-provider".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "unknown provider: {err:?}"
    );
    let h = g
        .system()
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, "ok");
    let list = s
        .list_sessions(pb::ListSessionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.sessions.len(), 1, "rejected creates stored nothing");
}

#[tokio::test]
async fn every_error_is_in_the_envelope_and_a_resume_point_past_the_end_is_refused() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();
    create_session(&rest, "one").await;
    // A query string that does not parse, a method the route lacks.
    rest.get("/v1/sessions?page_size=lots")
        .await
        .assert_error(400, "invalid_argument");
    rest.get("/v1/events?after=-3")
        .await
        .assert_error(400, "invalid_argument");
    let r = rest
        .request(reqwest::Method::PUT, "/v1/sessions", None)
        .await;
    r.assert_error(405, "invalid_argument");
    assert!(r.headers.get("allow").is_some(), "405 without Allow");
    // A resume point past the end of the log is refused, on every stream.
    let head = d.last_seq().await;
    let r = rest.get(&format!("/v1/events?after={}", head + 1000)).await;
    r.assert_error(400, "invalid_argument");
    assert!(r.text().contains("past the end"), "{}", r.text());
    let err = d
        .grpc()
        .await
        .events()
        .subscribe(pb::SubscribeRequest {
            after_seq: head + 1000,
            session_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // The head itself is fine: nothing to replay, then live.
    let mut sse = rest.sse(&format!("/v1/events?after={head}"), None).await;
    create_session(&rest, "two").await;
    loop {
        match sse.next_item().await {
            Some(agentmux_tests::client::Item::Event(e)) => {
                assert_eq!(e.seq, head + 1);
                break;
            }
            Some(_) => {}
            None => panic!("the stream ended"),
        }
    }
    assert_healthy(&rest).await;
}

/// Sends bytes as they are, as a gRPC request message.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[tokio::test]
async fn a_grpc_message_that_does_not_decode_is_an_invalid_argument() {
    let (_fake, d) = start(|o| o).await;
    let mut client = tonic::client::Grpc::new(d.grpc().await.channel());
    client.ready().await.unwrap();
    let err = client
        .unary(
            tonic::Request::new(vec![0xff; 5]),
            "/agentmux.v1.SessionService/GetSession".parse().unwrap(),
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_healthy(&d.rest()).await;
}

/// A field the body does not have is ignored whatever it holds (an integer past 2^53
/// included); the same integer in a field it has is refused.
#[tokio::test]
async fn unknown_fields_are_ignored_even_with_huge_integers() {
    let (_fake, d) = super::start(|o| o).await;
    let rest = d.rest();
    let r = rest
        .raw(
            reqwest::Method::POST,
            "/v1/sessions",
            "application/json",
            br#"{"title": "x", "extra": [{"n": 99999999999999999999}]}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = rest
        .raw(
            reqwest::Method::POST,
            "/v1/sessions",
            "application/json",
            br#"{"approval_timeout_secs": 99999999999999999999}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
}
