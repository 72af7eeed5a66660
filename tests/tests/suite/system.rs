//! What standard tooling and a local user see: gRPC health and reflection, Info, the socket's mode,
//! the log file.

use super::start;
use agentmux_tests::within;
use pretty_assertions::assert_eq;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn grpc_health_reflection_info_socket_mode_and_log_file() {
    let (_fake, d) = start(|o| o).await;
    let g = d.grpc().await;

    // Standard gRPC health.
    let resp = HealthClient::new(g.channel())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status(), ServingStatus::Serving);

    // Server reflection lists the agentmux services.
    let mut refl = ServerReflectionClient::new(g.channel());
    let reqs = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "agentmux.v1.SessionService".into(),
            )),
        },
    ];
    let mut stream = refl
        .server_reflection_info(futures_util::stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let first = within("reflection list", stream.message())
        .await
        .unwrap()
        .unwrap();
    let services: BTreeSet<String> = match first.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("ListServices answered {other:?}"),
    };
    for s in [
        "agentmux.v1.SystemService",
        "agentmux.v1.SessionService",
        "agentmux.v1.MessageService",
        "agentmux.v1.EventService",
        "agentmux.v1.KeyService",
        "grpc.health.v1.Health",
    ] {
        assert!(services.contains(s), "reflection lacks {s}: {services:?}");
    }
    let second = within("reflection file", stream.message())
        .await
        .unwrap()
        .unwrap();
    match second.message_response {
        Some(MessageResponse::FileDescriptorResponse(f)) => {
            assert!(!f.file_descriptor_proto.is_empty())
        }
        other => panic!("FileContainingSymbol answered {other:?}"),
    }

    // Info.
    let info = d.info().await;
    assert!(!info["version"].as_str().unwrap().is_empty(), "{info}");
    assert_eq!(info["pid"], d.pid());
    assert_eq!(info["socket"], d.socket.display().to_string());
    assert_eq!(info["tcp_listen"], "", "TCP is off by default");
    let data_dir = std::fs::canonicalize(&d.data_dir).unwrap();
    let reported = std::fs::canonicalize(info["data_dir"].as_str().unwrap()).unwrap();
    assert_eq!(reported, data_dir);
    assert!(info["schema_version"].as_u64().unwrap() >= 1, "{info}");
    assert!(info["started_at_ms"].as_i64().unwrap() > 0, "{info}");

    // The socket is private to its user.
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");

    // Logs go to a file in the data dir.
    assert!(
        !d.log_tail(5).is_empty(),
        "no log file with content in {}",
        d.data_dir.display()
    );
}
