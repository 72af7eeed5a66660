//! Session lifecycle over gRPC and over REST: create, list with paging, get by prefix, rename,
//! fork at an index, reset, delete, and NotFound for unknown ids.

use super::{create_session, get_session, id_of, messages, send_wait, start};
use agentmux_proto::v1 as pb;
use pretty_assertions::assert_eq;
use serde_json::json;
use std::collections::BTreeSet;
use tonic::Code;

fn unique_prefix(id: &str) -> &str {
    &id[..id.len() - 3]
}

#[tokio::test]
async fn grpc_session_lifecycle() {
    let (_fake, d) = start(|o| o).await;
    let g = d.grpc().await;
    let mut s = g.sessions();
    let mut m = g.messages();

    let create = |title: &str, cwd: &str| pb::CreateSessionRequest {
        title: title.into(),
        cwd: cwd.into(),
        ..Default::default()
    };
    let a = s
        .create_session(create("alpha", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.title, "alpha");
    assert_eq!(a.provider, "openai");
    assert_eq!(a.model, "fake-model");
    assert_eq!(a.status(), pb::SessionStatus::Idle);
    assert!(!a.busy);
    assert_eq!((a.queued, a.message_count), (0, 0));
    assert!(a.created_at_ms > 0 && a.updated_at_ms >= a.created_at_ms);
    assert_eq!(a.forked_from, "");
    let b = s
        .create_session(create("beta", "/tmp"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.cwd, "/tmp");
    let c = s.create_session(create("", "")).await.unwrap().into_inner();
    let all: BTreeSet<String> = [&a, &b, &c].iter().map(|x| x.id.clone()).collect();
    assert_eq!(all.len(), 3, "ids are unique");

    // Paging: 2 + 1.
    let p1 = s
        .list_sessions(pb::ListSessionsRequest {
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p1.sessions.len(), 2);
    assert!(!p1.next_page_token.is_empty(), "first page needs a token");
    let p2 = s
        .list_sessions(pb::ListSessionsRequest {
            page_size: 2,
            page_token: p1.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.sessions.len(), 1);
    assert_eq!(p2.next_page_token, "", "last page has no token");
    let listed: BTreeSet<String> = p1
        .sessions
        .iter()
        .chain(&p2.sessions)
        .map(|x| x.id.clone())
        .collect();
    assert_eq!(listed, all);

    // Get by full id and by unique prefix.
    let got = s
        .get_session(pb::GetSessionRequest { id: a.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, a);
    let got = s
        .get_session(pb::GetSessionRequest {
            id: unique_prefix(&a.id).into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.id, a.id);

    // Rename.
    let renamed = s
        .rename_session(pb::RenameSessionRequest {
            id: a.id.clone(),
            title: "alpha two".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.title, "alpha two");
    let got = s
        .get_session(pb::GetSessionRequest { id: a.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.title, "alpha two");

    // Two turns so there is history to fork.
    for text in ["one", "two"] {
        let r = m
            .send_message(pb::SendMessageRequest {
                session_id: a.id.clone(),
                content: text.into(),
                wait: true,
            })
            .await
            .unwrap()
            .into_inner();
        let user = r.message.expect("user message");
        assert_eq!((user.role(), user.content.as_str()), (pb::Role::User, text));
        assert!(!r.queued);
        let reply = r.reply.expect("wait=true returns the reply");
        assert_eq!(reply.role(), pb::Role::Assistant);
        assert_eq!(reply.status(), pb::MessageStatus::Complete);
        assert_eq!(reply.content, format!("echo: {text}"));
        assert_eq!(reply.reply_to, user.id);
    }
    let list = m
        .list_messages(pb::ListMessagesRequest {
            session_id: a.id.clone(),
            page_size: 3,
            after_index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.messages.len(), 3);
    assert!(list.more);
    assert_eq!(list.next_index, 3);
    let rest = m
        .list_messages(pb::ListMessagesRequest {
            session_id: a.id.clone(),
            page_size: 3,
            after_index: list.next_index,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.messages.len(), 1);
    assert!(!rest.more);
    let all_msgs: Vec<(u64, String)> = list
        .messages
        .iter()
        .chain(&rest.messages)
        .map(|x| (x.index, x.content.clone()))
        .collect();
    assert_eq!(
        all_msgs,
        vec![
            (0, "one".to_string()),
            (1, "echo: one".to_string()),
            (2, "two".to_string()),
            (3, "echo: two".to_string())
        ]
    );

    // Fork at index 2 copies the first turn only.
    let f = s
        .fork_session(pb::ForkSessionRequest {
            id: a.id.clone(),
            at_index: 2,
            title: "fork".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(f.id, a.id);
    assert_eq!(
        (f.title.as_str(), f.forked_from.as_str(), f.message_count),
        ("fork", a.id.as_str(), 2)
    );
    let fm = m
        .list_messages(pb::ListMessagesRequest {
            session_id: f.id.clone(),
            page_size: 0,
            after_index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let contents: Vec<&str> = fm.messages.iter().map(|x| x.content.as_str()).collect();
    assert_eq!(contents, vec!["one", "echo: one"]);
    assert!(fm.messages.iter().all(|x| x.session_id == f.id));
    // at_index 0 copies everything.
    let f_all = s
        .fork_session(pb::ForkSessionRequest {
            id: a.id.clone(),
            at_index: 0,
            title: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f_all.message_count, 4);

    // Reset clears the history of that session only.
    let r = s
        .reset_session(pb::ResetSessionRequest { id: a.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.message_count, 0);
    let after_reset = m
        .list_messages(pb::ListMessagesRequest {
            session_id: a.id.clone(),
            page_size: 0,
            after_index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        after_reset.messages.is_empty(),
        "{:?}",
        after_reset.messages
    );
    let f_again = s
        .get_session(pb::GetSessionRequest { id: f.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f_again.message_count, 2, "fork keeps its own history");

    // Delete.
    let del = s
        .delete_session(pb::DeleteSessionRequest {
            id: b.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(del.id, b.id);
    let err = s
        .get_session(pb::GetSessionRequest { id: b.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let listed = s
        .list_sessions(pb::ListSessionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.sessions.iter().all(|x| x.id != b.id));
    assert_eq!(listed.sessions.len(), 4, "a, c and two forks");

    // Every call on an unknown id is NotFound.
    let nope = "ses_doesnotexist".to_string();
    let codes = vec![
        (
            "GetSession",
            s.get_session(pb::GetSessionRequest { id: nope.clone() })
                .await
                .err(),
        ),
        (
            "RenameSession",
            s.rename_session(pb::RenameSessionRequest {
                id: nope.clone(),
                title: "x".into(),
            })
            .await
            .err(),
        ),
        (
            "DeleteSession",
            s.delete_session(pb::DeleteSessionRequest {
                id: nope.clone(),
                ..Default::default()
            })
            .await
            .err(),
        ),
        (
            "ForkSession",
            s.fork_session(pb::ForkSessionRequest {
                id: nope.clone(),
                ..Default::default()
            })
            .await
            .err(),
        ),
        (
            "ResetSession",
            s.reset_session(pb::ResetSessionRequest { id: nope.clone() })
                .await
                .err(),
        ),
        (
            "CancelSession",
            s.cancel_session(pb::CancelSessionRequest {
                id: nope.clone(),
                clear_queue: false,
            })
            .await
            .err(),
        ),
        (
            "SendMessage",
            m.send_message(pb::SendMessageRequest {
                session_id: nope.clone(),
                content: "hi".into(),
                wait: false,
            })
            .await
            .err(),
        ),
        (
            "ListMessages",
            m.list_messages(pb::ListMessagesRequest {
                session_id: nope.clone(),
                ..Default::default()
            })
            .await
            .err(),
        ),
    ];
    for (rpc, err) in codes {
        let code = err.map(|e| e.code());
        assert_eq!(code, Some(Code::NotFound), "{rpc} on an unknown id");
    }

    // Health and info over gRPC agree with the work done.
    let mut sys = g.system();
    let h = sys.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(h.status, "ok");
    assert!(h.last_seq > 0);
    assert!(
        h.providers.iter().any(|p| p.id == "openai"),
        "{:?}",
        h.providers
    );
    let info = sys.info(pb::InfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.pid, d.pid());
    assert_eq!(info.sessions, 4);
    assert!(info.last_seq >= h.last_seq);
    assert_eq!(info.socket, d.socket.display().to_string());
}

#[tokio::test]
async fn rest_session_lifecycle() {
    let (_fake, d) = start(|o| o).await;
    let rest = d.rest();

    let a = create_session(&rest, "alpha").await;
    for field in [
        "id",
        "title",
        "provider",
        "model",
        "cwd",
        "status",
        "busy",
        "queued",
        "message_count",
        "created_at_ms",
        "updated_at_ms",
        "forked_from",
        "last_error",
        "usage",
    ] {
        assert!(a.get(field).is_some(), "Session JSON lacks {field}: {a}");
    }
    assert_eq!(a["title"], "alpha");
    assert_eq!(a["provider"], "openai");
    assert_eq!(a["model"], "fake-model");
    assert_eq!(a["status"], "idle");
    assert_eq!(a["busy"], false);
    let a_id = id_of(&a);
    // Every field optional.
    let r = rest.post("/v1/sessions", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let b_id = id_of(&r.json());
    let c_id = id_of(&create_session(&rest, "gamma").await);

    // Paging.
    let p1 = rest.get_ok("/v1/sessions?page_size=2").await;
    assert_eq!(p1["sessions"].as_array().unwrap().len(), 2, "{p1}");
    let token = p1["next_page_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let p2 = rest
        .get_ok(&format!("/v1/sessions?page_size=2&page_token={token}"))
        .await;
    assert_eq!(p2["sessions"].as_array().unwrap().len(), 1, "{p2}");
    assert_eq!(p2["next_page_token"], "");
    let listed: BTreeSet<String> = p1["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["sessions"].as_array().unwrap())
        .map(id_of)
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([a_id.clone(), b_id.clone(), c_id.clone()])
    );

    // Get by id and prefix.
    assert_eq!(get_session(&rest, &a_id).await, a);
    assert_eq!(id_of(&get_session(&rest, unique_prefix(&a_id)).await), a_id);

    // Rename.
    let r = rest
        .patch(&format!("/v1/sessions/{a_id}"), json!({"title": "renamed"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["title"], "renamed");
    assert_eq!(get_session(&rest, &a_id).await["title"], "renamed");

    // History, then fork at index 2.
    send_wait(&rest, &a_id, "one").await;
    send_wait(&rest, &a_id, "two").await;
    let msgs = messages(&rest, &a_id).await;
    let contents: Vec<&str> = msgs
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["one", "echo: one", "two", "echo: two"]);
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
    let page = rest
        .get_ok(&format!("/v1/sessions/{a_id}/messages?page_size=3"))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);
    assert_eq!(
        (page["more"].clone(), page["next_index"].clone()),
        (json!(true), json!(3))
    );

    let r = rest
        .post(
            &format!("/v1/sessions/{a_id}/fork"),
            json!({"at_index": 2, "title": "forked"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let f = r.json();
    assert_eq!(f["forked_from"], a_id.as_str());
    assert_eq!(f["message_count"], 2);
    assert_eq!(f["title"], "forked");
    let f_id = id_of(&f);
    let fm: Vec<String> = messages(&rest, &f_id)
        .await
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fm, vec!["one", "echo: one"]);

    // Past the end copies everything.
    let r = rest
        .post(
            &format!("/v1/sessions/{a_id}/fork"),
            json!({"at_index": 99}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["message_count"], 4);

    // Reset.
    let r = rest
        .post(&format!("/v1/sessions/{a_id}/reset"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["message_count"], 0);
    assert!(messages(&rest, &a_id).await.is_empty());
    assert_eq!(get_session(&rest, &f_id).await["message_count"], 2);

    // Cancel on an idle session stops nothing.
    let r = rest
        .post(
            &format!("/v1/sessions/{a_id}/cancel"),
            json!({"clear_queue": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"id": a_id, "cancelled_turn": false, "dropped_queued": 0})
    );

    // Delete.
    let r = rest.delete(&format!("/v1/sessions/{b_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"id": b_id}));
    rest.get(&format!("/v1/sessions/{b_id}"))
        .await
        .assert_error(404, "not_found");
    rest.delete(&format!("/v1/sessions/{b_id}"))
        .await
        .assert_error(404, "not_found");

    // Unknown ids: 404 with the envelope on every session route.
    let nope = "ses_doesnotexist";
    let cases = [
        ("GET", format!("/v1/sessions/{nope}"), None),
        (
            "PATCH",
            format!("/v1/sessions/{nope}"),
            Some(json!({"title": "x"})),
        ),
        ("DELETE", format!("/v1/sessions/{nope}"), None),
        ("POST", format!("/v1/sessions/{nope}/fork"), Some(json!({}))),
        (
            "POST",
            format!("/v1/sessions/{nope}/reset"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/v1/sessions/{nope}/cancel"),
            Some(json!({})),
        ),
        ("GET", format!("/v1/sessions/{nope}/messages"), None),
        (
            "POST",
            format!("/v1/sessions/{nope}/messages"),
            Some(json!({"content": "hi"})),
        ),
    ];
    for (method, path, body) in cases {
        let r = rest.request(method.parse().unwrap(), &path, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        r.assert_error(404, "not_found");
    }

    let info = d.info().await;
    assert_eq!(info["sessions"], 4, "{info}");
}
