//! gRPC `FileService`: a session's files.

use super::grpc::{Grpc, Res, ok};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::file_service_server::FileService;
use agentmux_shared::types::{FileListQuery, FileReadQuery, FileRenameRequest};
use tonic::Request;

#[tonic::async_trait]
impl FileService for Grpc {
    async fn list_files(&self, r: Request<pb::ListFilesRequest>) -> Res<pb::FileList> {
        let r = r.into_inner();
        let q = FileListQuery {
            path: r.path,
            page_size: r.page_size,
            page_token: r.page_token,
            all: r.all,
        };
        ok(self.svc.list_files(&r.session_id, &q).await.map(Into::into))
    }

    async fn read_file(&self, r: Request<pb::ReadFileRequest>) -> Res<pb::FileContent> {
        let r = r.into_inner();
        let q = FileReadQuery {
            path: r.path,
            offset: r.offset,
            length: r.length,
            thumb: r.thumb,
        };
        ok(self.svc.read_file(&r.session_id, &q).await.map(Into::into))
    }

    async fn write_file(&self, r: Request<pb::WriteFileRequest>) -> Res<pb::FileEntry> {
        let r = r.into_inner();
        ok(self
            .svc
            .write_file(&r.session_id, &r.path, r.content.into())
            .await
            .map(Into::into))
    }

    async fn delete_file(&self, r: Request<pb::DeleteFileRequest>) -> Res<pb::FileEntry> {
        let r = r.into_inner();
        ok(self
            .svc
            .delete_file(&r.session_id, &r.path, r.recursive)
            .await
            .map(Into::into))
    }

    async fn rename_file(&self, r: Request<pb::RenameFileRequest>) -> Res<pb::FileEntry> {
        let r = r.into_inner();
        let req = FileRenameRequest {
            from: r.from,
            to: r.to,
            overwrite: r.overwrite,
        };
        ok(self
            .svc
            .rename_file(&r.session_id, &req)
            .await
            .map(Into::into))
    }
}
