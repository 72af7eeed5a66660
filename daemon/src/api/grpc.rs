//! gRPC handlers: convert, call the service, convert back. Plus gRPC health and reflection.

use super::Transport;
use super::auth::{REVOKED, revocation};
use super::error::to_status;
use crate::service::AttachParams;
use crate::service::Service;
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::approval_service_server::{ApprovalService, ApprovalServiceServer};
use agentmux_proto::v1::event_service_server::{EventService, EventServiceServer};
use agentmux_proto::v1::file_service_server::FileServiceServer;
use agentmux_proto::v1::key_service_server::{KeyService, KeyServiceServer};
use agentmux_proto::v1::message_service_server::{MessageService, MessageServiceServer};
use agentmux_proto::v1::provider_service_server::{ProviderService, ProviderServiceServer};
use agentmux_proto::v1::session_service_server::{SessionService, SessionServiceServer};
use agentmux_proto::v1::system_service_server::{SystemService, SystemServiceServer};
use agentmux_proto::v1::terminal_service_server::{TerminalService, TerminalServiceServer};
use agentmux_proto::v1::workflow_service_server::WorkflowServiceServer;
use agentmux_proto::v1::workspace_service_server::WorkspaceServiceServer;
use agentmux_shared::Error;
use agentmux_shared::types::{AttachInput, DecideApproval, StreamItem};
use futures_util::StreamExt;
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub(super) type Res<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct Grpc {
    pub(super) svc: Service,
}

pub async fn routes(svc: Service, transport: Transport) -> Result<axum::Router, Error> {
    let g = Grpc { svc };
    let (health, health_svc) = tonic_health::server::health_reporter();
    health.set_serving::<SystemServiceServer<Grpc>>().await;
    health.set_serving::<SessionServiceServer<Grpc>>().await;
    health.set_serving::<MessageServiceServer<Grpc>>().await;
    health.set_serving::<EventServiceServer<Grpc>>().await;
    health.set_serving::<TerminalServiceServer<Grpc>>().await;
    health.set_serving::<ApprovalServiceServer<Grpc>>().await;
    health.set_serving::<ProviderServiceServer<Grpc>>().await;
    health.set_serving::<WorkspaceServiceServer<Grpc>>().await;
    health.set_serving::<WorkflowServiceServer<Grpc>>().await;
    health.set_serving::<FileServiceServer<Grpc>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(agentmux_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::internal(format!("grpc reflection: {e}")))?;
    let max = g.svc.config().daemon.max_body_bytes;
    let mut routes = tonic::service::Routes::new(health_svc)
        .add_service(reflection)
        .add_service(SystemServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(SessionServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(MessageServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(EventServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(TerminalServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(ApprovalServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(ProviderServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(WorkspaceServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(WorkflowServiceServer::new(g.clone()).max_decoding_message_size(max))
        .add_service(FileServiceServer::new(g.clone()).max_decoding_message_size(max));
    if transport == Transport::Unix {
        // Keys are managed only by someone who can reach the socket.
        routes = routes.add_service(KeyServiceServer::new(g).max_decoding_message_size(max));
    }
    Ok(routes.prepare().into_axum_router())
}

/// tonic answers a request message it cannot decode with INTERNAL; it is the caller's
/// malformed argument, so INVALID_ARGUMENT.
pub async fn undecodable_is_invalid(
    mut resp: axum::response::Response,
) -> axum::response::Response {
    let h = resp.headers();
    let internal = h.get("grpc-status").is_some_and(|v| v == "13");
    let undecodable = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| {
            m.starts_with("failed%20to%20decode") || m.starts_with("failed to decode")
        });
    if internal && undecodable {
        resp.headers_mut()
            .insert("grpc-status", axum::http::HeaderValue::from_static("3"));
    }
    resp
}

pub(super) fn ok<T>(r: Result<T, Error>) -> Res<T> {
    r.map(Response::new).map_err(to_status)
}

#[tonic::async_trait]
impl SystemService for Grpc {
    async fn health(&self, _: Request<pb::HealthRequest>) -> Res<pb::HealthResponse> {
        Ok(Response::new(self.svc.health().into()))
    }

    async fn info(&self, _: Request<pb::InfoRequest>) -> Res<pb::InfoResponse> {
        ok(self.svc.info().map(Into::into))
    }
}

#[tonic::async_trait]
impl SessionService for Grpc {
    async fn create_session(&self, r: Request<pb::CreateSessionRequest>) -> Res<pb::Session> {
        ok(self
            .svc
            .create_session(r.into_inner().into())
            .await
            .map(Into::into))
    }

    async fn list_sessions(
        &self,
        r: Request<pb::ListSessionsRequest>,
    ) -> Res<pb::ListSessionsResponse> {
        let r = r.into_inner();
        ok(self
            .svc
            .list_sessions(r.page_size, &r.page_token)
            .map(|p| pb::ListSessionsResponse {
                sessions: p.items.into_iter().map(Into::into).collect(),
                next_page_token: p.next_page_token,
                last_seq: p.last_seq,
            }))
    }

    async fn get_session(&self, r: Request<pb::GetSessionRequest>) -> Res<pb::Session> {
        ok(self.svc.get_session(&r.into_inner().id).map(Into::into))
    }

    async fn rename_session(&self, r: Request<pb::RenameSessionRequest>) -> Res<pb::Session> {
        let r = r.into_inner();
        ok(self
            .svc
            .rename_session(&r.id, &r.title)
            .await
            .map(Into::into))
    }

    async fn delete_session(
        &self,
        r: Request<pb::DeleteSessionRequest>,
    ) -> Res<pb::DeleteSessionResponse> {
        ok(self
            .svc
            .delete_session(
                &r.get_ref().id,
                r.get_ref().force,
                r.get_ref().delete_branch,
            )
            .await
            .map(|id| pb::DeleteSessionResponse { id }))
    }

    async fn fork_session(&self, r: Request<pb::ForkSessionRequest>) -> Res<pb::Session> {
        let r = r.into_inner();
        ok(self
            .svc
            .fork_session(&r.id, r.at_index, &r.title)
            .await
            .map(Into::into))
    }

    async fn reset_session(&self, r: Request<pb::ResetSessionRequest>) -> Res<pb::Session> {
        ok(self
            .svc
            .reset_session(&r.into_inner().id)
            .await
            .map(Into::into))
    }

    async fn resume_session(&self, r: Request<pb::ResumeSessionRequest>) -> Res<pb::Session> {
        ok(self
            .svc
            .resume_session(&r.into_inner().id)
            .await
            .map(Into::into))
    }

    async fn cancel_session(
        &self,
        r: Request<pb::CancelSessionRequest>,
    ) -> Res<pb::CancelSessionResponse> {
        let r = r.into_inner();
        ok(self
            .svc
            .cancel_session(&r.id, r.clear_queue)
            .await
            .map(|c| pb::CancelSessionResponse {
                id: c.id,
                cancelled_turn: c.cancelled_turn,
                dropped_queued: c.dropped_queued,
            }))
    }
}

#[tonic::async_trait]
impl MessageService for Grpc {
    async fn send_message(
        &self,
        r: Request<pb::SendMessageRequest>,
    ) -> Res<pb::SendMessageResponse> {
        let r = r.into_inner();
        ok(self
            .svc
            .send_message(&r.session_id, &r.content, r.wait)
            .await
            .map(|s| pb::SendMessageResponse {
                message: Some(s.message.into()),
                queued: s.queued,
                reply: s.reply.map(Into::into),
            }))
    }

    async fn list_messages(
        &self,
        r: Request<pb::ListMessagesRequest>,
    ) -> Res<pb::ListMessagesResponse> {
        let r = r.into_inner();
        ok(self
            .svc
            .list_messages(&r.session_id, r.page_size, r.after_index)
            .map(|p| pb::ListMessagesResponse {
                messages: p.messages.into_iter().map(Into::into).collect(),
                next_index: p.next_index,
                more: p.more,
                last_seq: p.last_seq,
            }))
    }
}

type EventStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for Grpc {
    type SubscribeStream = EventStream;

    async fn subscribe(&self, r: Request<pb::SubscribeRequest>) -> Res<EventStream> {
        let revoked = revocation(r.extensions());
        let key = r
            .extensions()
            .get::<crate::service::Grant>()
            .map(|g| g.key_id.clone());
        let r = r.into_inner();
        let session = Some(r.session_id).filter(|s| !s.is_empty());
        let rx = self
            .svc
            .open_stream(r.after_seq, session, key.as_deref())
            .map_err(to_status)?;
        let stream = ReceiverStream::new(rx).map(|item: StreamItem| Ok(item.into()));
        let end = revoked.clone();
        let farewell = futures_util::stream::once(async move {
            end.is_cancelled()
                .then(|| Err(Status::unauthenticated(REVOKED)))
        })
        .filter_map(std::future::ready);
        Ok(Response::new(Box::pin(
            stream.take_until(revoked.cancelled_owned()).chain(farewell),
        )))
    }
}

#[tonic::async_trait]
impl ApprovalService for Grpc {
    async fn list_approvals(
        &self,
        r: Request<pb::ListApprovalsRequest>,
    ) -> Res<pb::ListApprovalsResponse> {
        let r = r.into_inner();
        ok(self
            .svc
            .list_approvals(&r.session_id, r.pending_only)
            .map(|a| pb::ListApprovalsResponse {
                approvals: a.into_iter().map(Into::into).collect(),
            }))
    }

    async fn decide_approval(&self, r: Request<pb::DecideApprovalRequest>) -> Res<pb::Approval> {
        let r = r.into_inner();
        let (id, key) = (r.id.clone(), r.idempotency_key.clone());
        let d = DecideApproval::try_from(r).map_err(to_status)?;
        ok(self
            .svc
            .decide_approval(&id, d.decision, &d.message, &key)
            .await
            .map(Into::into))
    }

    async fn revoke_rule(&self, r: Request<pb::RevokeRuleRequest>) -> Res<pb::Session> {
        let r = r.into_inner();
        ok(self
            .svc
            .revoke_rule(&r.session_id, &r.tool)
            .await
            .map(Into::into))
    }
}

#[tonic::async_trait]
impl ProviderService for Grpc {
    async fn list_providers(
        &self,
        _: Request<pb::ListProvidersRequest>,
    ) -> Res<pb::ListProvidersResponse> {
        ok(self
            .svc
            .list_providers()
            .await
            .map(|v| pb::ListProvidersResponse {
                providers: v.into_iter().map(Into::into).collect(),
            }))
    }

    async fn get_provider(&self, r: Request<pb::GetProviderRequest>) -> Res<pb::ProviderInfo> {
        ok(self
            .svc
            .get_provider(&r.into_inner().id)
            .await
            .map(Into::into))
    }

    async fn install_provider(
        &self,
        r: Request<pb::InstallProviderRequest>,
    ) -> Res<pb::InstallJob> {
        let r = r.into_inner();
        ok(self
            .svc
            .install_provider(&r.id, &r.version)
            .await
            .map(Into::into))
    }

    async fn list_install_jobs(
        &self,
        _: Request<pb::ListInstallJobsRequest>,
    ) -> Res<pb::ListInstallJobsResponse> {
        ok(self
            .svc
            .list_install_jobs()
            .map(|v| pb::ListInstallJobsResponse {
                jobs: v.into_iter().map(Into::into).collect(),
            }))
    }

    async fn get_install_job(&self, r: Request<pb::GetInstallJobRequest>) -> Res<pb::InstallJob> {
        ok(self.svc.get_install_job(&r.into_inner().id).map(Into::into))
    }
}

#[tonic::async_trait]
impl KeyService for Grpc {
    async fn create_key(&self, r: Request<pb::CreateKeyRequest>) -> Res<pb::CreateKeyResponse> {
        ok(self
            .svc
            .create_key(&r.into_inner().name)
            .await
            .map(|k| pb::CreateKeyResponse {
                key: Some(k.key.into()),
                secret: k.secret,
            }))
    }

    async fn list_keys(&self, _: Request<pb::ListKeysRequest>) -> Res<pb::ListKeysResponse> {
        ok(self.svc.list_keys().map(|keys| pb::ListKeysResponse {
            keys: keys.into_iter().map(Into::into).collect(),
        }))
    }

    async fn revoke_key(&self, r: Request<pb::RevokeKeyRequest>) -> Res<pb::ApiKey> {
        ok(self
            .svc
            .revoke_key(&r.into_inner().id)
            .await
            .map(Into::into))
    }
}

type AttachStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<pb::AttachResponse, Status>> + Send>>;

#[tonic::async_trait]
impl TerminalService for Grpc {
    async fn create_terminal(&self, r: Request<pb::CreateTerminalRequest>) -> Res<pb::Terminal> {
        ok(self
            .svc
            .create_terminal(r.into_inner().into())
            .await
            .map(Into::into))
    }

    async fn list_terminals(
        &self,
        _: Request<pb::ListTerminalsRequest>,
    ) -> Res<pb::ListTerminalsResponse> {
        ok(self
            .svc
            .list_terminals()
            .map(|v| pb::ListTerminalsResponse {
                terminals: v.into_iter().map(Into::into).collect(),
            }))
    }

    async fn get_terminal(&self, r: Request<pb::GetTerminalRequest>) -> Res<pb::Terminal> {
        ok(self.svc.get_terminal(&r.into_inner().id).map(Into::into))
    }

    async fn resize_terminal(&self, r: Request<pb::ResizeTerminalRequest>) -> Res<pb::Terminal> {
        let r = r.into_inner();
        ok(self
            .svc
            .resize_terminal(&r.id, r.rows, r.cols)
            .await
            .map(Into::into))
    }

    async fn kill_terminal(&self, r: Request<pb::KillTerminalRequest>) -> Res<pb::Terminal> {
        ok(self
            .svc
            .kill_terminal(&r.into_inner().id)
            .await
            .map(Into::into))
    }

    async fn remove_terminal(
        &self,
        r: Request<pb::RemoveTerminalRequest>,
    ) -> Res<pb::RemoveTerminalResponse> {
        ok(self
            .svc
            .remove_terminal(&r.into_inner().id)
            .await
            .map(|id| pb::RemoveTerminalResponse { id }))
    }

    async fn restart_terminal(&self, r: Request<pb::RestartTerminalRequest>) -> Res<pb::Terminal> {
        ok(self
            .svc
            .restart_terminal(&r.into_inner().id)
            .await
            .map(Into::into))
    }

    type AttachStream = AttachStream;

    async fn attach(&self, r: Request<tonic::Streaming<pb::AttachRequest>>) -> Res<AttachStream> {
        use pb::attach_request::Msg;
        let revoked = revocation(r.extensions());
        let mut input = r.into_inner();
        let first =
            input.message().await?.and_then(|m| m.msg).ok_or_else(|| {
                Status::invalid_argument("the first attach message must be start")
            })?;
        let Msg::Start(start) = first else {
            return Err(Status::invalid_argument(
                "the first attach message must be start",
            ));
        };
        let mut att = self
            .svc
            .attach_terminal(AttachParams {
                id: start.terminal_id,
                rows: start.rows,
                cols: start.cols,
                scrollback_lines: start.scrollback_lines,
                read_only: start.read_only,
            })
            .await
            .map_err(to_status)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::AttachResponse, Status>>(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Biased: input that arrives with the revocation is not delivered.
                    biased;
                    _ = revoked.cancelled() => {
                        let _ = tx.send(Err(Status::unauthenticated(REVOKED))).await;
                        break;
                    }
                    item = att.items.recv() => {
                        let Some(item) = item else { break };
                        if tx.send(Ok(item.into())).await.is_err() {
                            break;
                        }
                    }
                    msg = input.message() => {
                        let req = match msg {
                            Ok(Some(req)) => req,
                            Ok(None) | Err(_) => break,
                        };
                        if req.msg.is_none() {
                            continue; // a newer client's kind of message
                        }
                        let sent = match AttachInput::try_from(req) {
                            Ok(input) => att.send(input).await,
                            Err(_) => Err(Error::invalid("already attached")),
                        };
                        match sent {
                            Ok(true) => {}
                            Ok(false) => break,
                            // The program is not reading: this input is dropped, the
                            // attachment goes on (as a terminal would beep, not hang up).
                            Err(e) if e.kind == agentmux_shared::ErrorKind::ResourceExhausted => {
                                tracing::debug!(error = %e, "terminal input dropped");
                            }
                            Err(e) => {
                                let _ = tx.send(Err(to_status(e))).await;
                                break;
                            }
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
