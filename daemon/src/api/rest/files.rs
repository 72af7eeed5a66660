//! A session's files: list, read (ranges, thumbnails), write (raw body or multipart), delete
//! and move, every path relative to the session's workspace and confined to it.

use super::{ApiResult, Route, schema};
use crate::api::body::ApiJson;
use crate::api::error::ApiError;
use crate::api::openapi::Body;
use crate::service::Service;
use agentmux_shared::types::{
    FileEntry, FileList, FileListQuery, FileReadQuery, FileRenameRequest, FileUploadResult,
};
use agentmux_shared::{Error, ErrorKind};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;

/// A path relative to the workspace: not absolute, no `..` part, no NUL.
const PATH: &str = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]*$";
/// `WxH`, each side 1 to 1024.
const THUMB: &str =
    r"^(?:[1-9][0-9]{0,2}|10[01][0-9]|102[0-4])x(?:[1-9][0-9]{0,2}|10[01][0-9]|102[0-4])$";
/// A listing's `next_page_token`.
const TOKEN: &str = r"^(?:[df]:[^/\x00]+)?$";
/// What a file is served as (see `FileContent::mime`).
const CONTENT: &[&str] = &[
    "text/plain",
    "application/octet-stream",
    "application/pdf",
    "image/*",
];

pub(super) fn routes() -> Vec<Route> {
    const LIST: &[(&str, &str)] = &[
        ("path", PATH),
        ("page_size", "u32"),
        ("page_token", TOKEN),
        ("all", "boolean"),
    ];
    const READ: &[(&str, &str)] = &[
        ("path", PATH),
        ("offset", "u64"),
        ("length", "u64"),
        ("thumb", THUMB),
    ];
    vec![
        route!("get" "/v1/sessions/{id}/files", "listFiles", "One page of a directory of the session's workspace (its worktree, else its directory): directories first, then by name; what .gitignore hides only with all=true (flagged ignored); .git never", None, 200 schema::<FileList>(), LIST, false, get(list_files)),
        route!("get" "/v1/sessions/{id}/files/content", "readFile", "A file's bytes (1 MiB from offset unless length says, at most 16 MiB), typed by Content-Type, with X-Agentmux-Size, -Offset, -Binary (a NUL in its first 8000 bytes) and -Truncated (more follows); with thumb=WxH a PNG of the image scaled to fit", None, 200 Some(Body::Binary(CONTENT)), READ, false, get(read_file)),
        route!("put" "/v1/sessions/{id}/files/content", "writeFile", "Write the body (any content type, taken as raw bytes) to a file, replacing it in one step; missing directories are made, a directory is never replaced", Some(Body::Binary(&["application/octet-stream"])), 200 schema::<FileEntry>(), &[("path", PATH)], false, put(write_file)),
        route!("post" "/v1/sessions/{id}/files/upload", "uploadFiles", "multipart/form-data: each part named file is written under the directory path by its filename (which may hold subdirectories)", Some(Body::Multipart), 200 schema::<FileUploadResult>(), &[("path", PATH)], false, post(upload_files)),
        route!("delete" "/v1/sessions/{id}/files", "deleteFile", "Delete a file, a symlink (not its target) or an empty directory; a full one with recursive=true", None, 200 schema::<FileEntry>(), &[("path", PATH), ("recursive", "boolean")], false, delete(delete_file)),
        route!("post" "/v1/sessions/{id}/files/rename", "renameFile", "Move a file or directory within the workspace, making missing directories of to; a file there is replaced only with overwrite, a directory never", schema::<FileRenameRequest>(), 200 schema::<FileEntry>(), &[], false, post(rename_file)),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PathQuery {
    path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteQuery {
    path: String,
    recursive: bool,
}

async fn list_files(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<FileListQuery>,
) -> ApiResult<Json<FileList>> {
    Ok(Json(svc.list_files(&id, &q).await?))
}

fn flag(b: bool) -> HeaderValue {
    HeaderValue::from_static(if b { "true" } else { "false" })
}

async fn read_file(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<FileReadQuery>,
) -> ApiResult<Response> {
    let c = svc.read_file(&id, &q).await?;
    let mut h = HeaderMap::new();
    let mime = HeaderValue::from_str(&c.mime)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    // Served from the API's origin: never sniffed into something a browser runs.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert("x-agentmux-size", HeaderValue::from(c.size));
    h.insert("x-agentmux-offset", HeaderValue::from(c.offset));
    h.insert("x-agentmux-binary", flag(c.binary));
    h.insert("x-agentmux-truncated", flag(c.truncated));
    Ok((StatusCode::OK, h, c.content).into_response())
}

fn body_error(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(Error::new(
            ErrorKind::PayloadTooLarge,
            "request body is over the size limit ([daemon] max_body_bytes)",
        ))
    } else {
        ApiError(Error::invalid(format!("cannot read the request body: {r}")))
    }
}

async fn write_file(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FileEntry>> {
    let body = body.map_err(body_error)?;
    Ok(Json(svc.write_file(&id, &q.path, body).await?))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(Error::new(
            ErrorKind::PayloadTooLarge,
            "upload is over the size limit ([daemon] max_body_bytes)",
        ))
    } else {
        ApiError(Error::invalid(format!("malformed multipart body: {e}")))
    }
}

async fn upload_files(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<FileUploadResult>> {
    let mut form = form.map_err(|r| {
        ApiError(Error::invalid(format!(
            "the body must be multipart/form-data: {r}"
        )))
    })?;
    let mut files = Vec::new();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            return Err(ApiError(Error::invalid(format!(
                "a part named {name:?}: send each file as a part named file"
            ))));
        }
        let Some(filename) = field.file_name().map(str::to_string) else {
            return Err(ApiError(Error::invalid(
                "a file part without a filename: say where it goes",
            )));
        };
        files.push((filename, field.bytes().await.map_err(multipart_error)?));
    }
    Ok(Json(FileUploadResult {
        files: svc.upload_files(&id, &q.path, files).await?,
    }))
}

async fn delete_file(
    State(svc): State<Service>,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<Json<FileEntry>> {
    Ok(Json(svc.delete_file(&id, &q.path, q.recursive).await?))
}

async fn rename_file(
    State(svc): State<Service>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FileRenameRequest>,
) -> ApiResult<Json<FileEntry>> {
    Ok(Json(svc.rename_file(&id, &b).await?))
}
