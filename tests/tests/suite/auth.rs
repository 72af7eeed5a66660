//! API keys on the TCP listener: no key or a bad key is 401 on every route, a revoked key is 401,
//! a valid key works as Bearer and as X-API-Key; keys are managed over the Unix socket only.

use super::{ROUTES, create_session, id_of, start};
use agentmux_proto::v1 as pb;
use agentmux_tests::client::{Auth, Rest};
use pretty_assertions::assert_eq;
use serde_json::json;
use tonic::Code;

async fn all_routes_401(rest: &Rest, label: &str) {
    for (method, _, path) in ROUTES {
        let body = (*method == "POST" || *method == "PATCH").then(|| json!({}));
        let r = rest.request(method.parse().unwrap(), path, body).await;
        assert_eq!(
            r.status,
            401,
            "{label}: {method} {path} over TCP: {}",
            r.text()
        );
        r.assert_error(401, "unauthenticated");
    }
}

#[tokio::test]
async fn tcp_requires_a_valid_key_on_every_route() {
    let (_fake, d) = start(|o| o.tcp()).await;
    all_routes_401(&d.tcp_rest(Auth::None), "no key").await;
    all_routes_401(
        &d.tcp_rest(Auth::Bearer("amx_not_a_real_key".into())),
        "unknown bearer",
    )
    .await;
    all_routes_401(
        &d.tcp_rest(Auth::ApiKey("amx_not_a_real_key".into())),
        "unknown x-api-key",
    )
    .await;
    all_routes_401(
        &d.tcp_rest(Auth::Header(
            "authorization".into(),
            "Basic dXNlcjpwYXNz".into(),
        )),
        "basic auth",
    )
    .await;
    all_routes_401(&d.tcp_rest(Auth::Bearer(String::new())), "empty bearer").await;

    // gRPC over TCP without a key.
    let g = d.tcp_grpc(Auth::None).await;
    let err = g.system().health(pb::HealthRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = g
        .sessions()
        .list_sessions(pb::ListSessionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // The Unix socket needs nothing.
    assert_eq!(d.rest().get("/v1/sessions").await.status, 200);
}

#[tokio::test]
async fn keys_work_until_revoked() {
    let (_fake, d) = start(|o| o.tcp()).await;
    let (key_id, secret) = d.create_key("ci").await;
    let (_other_id, other_secret) = d.create_key("other").await;

    // Listed without the secret.
    let r = d.rest().get("/v1/keys").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(&secret), "the secret is shown once only");
    let keys = r.json();
    let listed = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .cloned()
        .expect("new key is listed");
    assert_eq!(listed["name"], "ci");
    assert_eq!(listed["revoked_at_ms"], 0);
    let prefix = listed["prefix"].as_str().unwrap();
    assert!(
        !prefix.is_empty() && secret.starts_with(prefix),
        "prefix {prefix:?} of the secret"
    );

    // A valid key works both ways, over REST and gRPC.
    let bearer = d.tcp_rest(Auth::Bearer(secret.clone()));
    let xkey = d.tcp_rest(Auth::ApiKey(secret.clone()));
    assert_eq!(bearer.get("/v1/health").await.status, 200);
    let created = bearer
        .post("/v1/sessions", json!({"title": "over tcp"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = id_of(&created.json());
    let got = xkey.get(&format!("/v1/sessions/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["title"], "over tcp");
    let list = xkey.get_ok("/v1/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    let g = d.tcp_grpc(Auth::Bearer(secret.clone())).await;
    let h = g
        .system()
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, "ok");
    let gx = d.tcp_grpc(Auth::ApiKey(secret.clone())).await;
    let s = gx
        .sessions()
        .get_session(pb::GetSessionRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.title, "over tcp");

    // Keys cannot be managed over TCP, even with a valid key.
    for (method, path) in [
        ("GET", "/v1/keys"),
        ("POST", "/v1/keys"),
        ("DELETE", "/v1/keys/x"),
    ] {
        let body = (method == "POST").then(|| json!({"name": "sneaky"}));
        let r = bearer.request(method.parse().unwrap(), path, body).await;
        assert!(
            r.status == 403 || r.status == 404,
            "{method} {path} over TCP with a key must be refused, got {}: {}",
            r.status,
            r.text()
        );
        let code = r.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            code == "permission_denied" || code == "not_found",
            "{}",
            r.text()
        );
    }
    let err = g
        .keys()
        .create_key(pb::CreateKeyRequest {
            name: "sneaky".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::PermissionDenied | Code::Unimplemented | Code::NotFound
        ),
        "CreateKey over TCP: {err:?}"
    );

    // Revoke over the socket; the key stops working at once, the other key keeps working.
    let r = d.rest().delete(&format!("/v1/keys/{key_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let revoked = r.json();
    assert_eq!(revoked["id"], key_id.as_str());
    assert!(revoked["revoked_at_ms"].as_i64().unwrap() > 0, "{revoked}");
    for rest in [&bearer, &xkey] {
        rest.get("/v1/sessions")
            .await
            .assert_error(401, "unauthenticated");
        rest.get("/v1/health")
            .await
            .assert_error(401, "unauthenticated");
    }
    let err = g.system().health(pb::HealthRequest {}).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "revoked key over gRPC: {err:?}"
    );
    let other = d.tcp_rest(Auth::Bearer(other_secret));
    assert_eq!(other.get("/v1/sessions").await.status, 200);

    // Keys are managed over gRPC on the socket too.
    let local = d.grpc().await;
    let created = local
        .keys()
        .create_key(pb::CreateKeyRequest {
            name: "grpc".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.secret.starts_with("amx_"));
    let k = created.key.expect("key");
    let listed = local
        .keys()
        .list_keys(pb::ListKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.keys.len(), 3);
    assert_eq!(
        d.tcp_rest(Auth::ApiKey(created.secret.clone()))
            .get("/v1/info")
            .await
            .status,
        200
    );
    let revoked = local
        .keys()
        .revoke_key(pb::RevokeKeyRequest { id: k.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked_at_ms > 0);
    d.tcp_rest(Auth::ApiKey(created.secret))
        .get("/v1/info")
        .await
        .assert_error(401, "unauthenticated");
    let _ = create_session(&d.rest(), "still fine over the socket").await;
}

#[tokio::test]
async fn tcp_requests_are_rate_limited_per_key() {
    let (_fake, d) = start(|o| {
        o.tcp()
            .daemon("rate_limit_per_sec = 1")
            .daemon("rate_limit_burst = 3")
    })
    .await;
    let (_, secret) = d.create_key("limited").await;
    let tcp = d.tcp_rest(Auth::Bearer(secret));
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = tcp.get("/v1/health").await;
        if r.status == 429 {
            r.assert_error(429, "resource_exhausted");
        }
        statuses.push(r.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "burst of 3: {statuses:?}"
    );
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    // The Unix socket is not rate limited.
    let local = d.rest();
    for _ in 0..20 {
        assert_eq!(local.get("/v1/health").await.status, 200);
    }
}
