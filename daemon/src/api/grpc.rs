//! gRPC handlers: convert, call the service, convert back. Plus gRPC health and reflection.

use super::Transport;
use super::error::to_status;
use crate::service::Service;
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::event_service_server::{EventService, EventServiceServer};
use agentmux_proto::v1::key_service_server::{KeyService, KeyServiceServer};
use agentmux_proto::v1::message_service_server::{MessageService, MessageServiceServer};
use agentmux_proto::v1::session_service_server::{SessionService, SessionServiceServer};
use agentmux_proto::v1::system_service_server::{SystemService, SystemServiceServer};
use agentmux_shared::Error;
use agentmux_shared::types::StreamItem;
use futures_util::StreamExt;
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type Res<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct Grpc {
    svc: Service,
}

pub async fn routes(svc: Service, transport: Transport) -> Result<axum::Router, Error> {
    let g = Grpc { svc };
    let (health, health_svc) = tonic_health::server::health_reporter();
    health.set_serving::<SystemServiceServer<Grpc>>().await;
    health.set_serving::<SessionServiceServer<Grpc>>().await;
    health.set_serving::<MessageServiceServer<Grpc>>().await;
    health.set_serving::<EventServiceServer<Grpc>>().await;
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
        .add_service(EventServiceServer::new(g.clone()).max_decoding_message_size(max));
    if transport == Transport::Unix {
        // Keys are managed only by someone who can reach the socket.
        routes = routes.add_service(KeyServiceServer::new(g).max_decoding_message_size(max));
    }
    Ok(routes.prepare().into_axum_router())
}

fn ok<T>(r: Result<T, Error>) -> Res<T> {
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
            .delete_session(&r.into_inner().id)
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
        let r = r.into_inner();
        let session = Some(r.session_id).filter(|s| !s.is_empty());
        let rx = self.svc.subscribe(r.after_seq, session);
        let stream = ReceiverStream::new(rx).map(|item: StreamItem| Ok(item.into()));
        Ok(Response::new(Box::pin(stream)))
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
