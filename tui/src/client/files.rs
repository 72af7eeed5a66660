//! `FileService` calls: a session's files.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_proto::v1::file_service_client::FileServiceClient;
use agentmux_shared::Result;
use agentmux_shared::types::{
    FileContent, FileEntry, FileList, FileListQuery, FileReadQuery, FileRenameRequest,
};

/// Largest reply taken: a read is at most 16 MiB, a thumbnail a few MiB.
const MAX_REPLY: usize = 32 << 20;

fn reply<W, T: From<W>>(r: std::result::Result<tonic::Response<W>, tonic::Status>) -> Result<T> {
    Ok(r.map_err(status_to_error)?.into_inner().into())
}

impl Client {
    fn files(&self) -> FileServiceClient<tonic::transport::Channel> {
        FileServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY)
    }

    pub async fn list_files(&self, session: &str, q: &FileListQuery) -> Result<FileList> {
        reply(
            self.files()
                .list_files(pb::ListFilesRequest {
                    session_id: session.to_string(),
                    path: q.path.clone(),
                    page_size: q.page_size,
                    page_token: q.page_token.clone(),
                    all: q.all,
                })
                .await,
        )
    }

    pub async fn read_file(&self, session: &str, q: &FileReadQuery) -> Result<FileContent> {
        reply(
            self.files()
                .read_file(pb::ReadFileRequest {
                    session_id: session.to_string(),
                    path: q.path.clone(),
                    offset: q.offset,
                    length: q.length,
                    thumb: q.thumb.clone(),
                })
                .await,
        )
    }

    pub async fn write_file(
        &self,
        session: &str,
        path: &str,
        content: Vec<u8>,
    ) -> Result<FileEntry> {
        reply(
            self.files()
                .write_file(pb::WriteFileRequest {
                    session_id: session.to_string(),
                    path: path.to_string(),
                    content,
                })
                .await,
        )
    }

    pub async fn delete_file(
        &self,
        session: &str,
        path: &str,
        recursive: bool,
    ) -> Result<FileEntry> {
        reply(
            self.files()
                .delete_file(pb::DeleteFileRequest {
                    session_id: session.to_string(),
                    path: path.to_string(),
                    recursive,
                })
                .await,
        )
    }

    pub async fn rename_file(&self, session: &str, r: &FileRenameRequest) -> Result<FileEntry> {
        reply(
            self.files()
                .rename_file(pb::RenameFileRequest {
                    session_id: session.to_string(),
                    from: r.from.clone(),
                    to: r.to.clone(),
                    overwrite: r.overwrite,
                })
                .await,
        )
    }
}
