//! A session's files as the API shows them (REST `/v1/sessions/{id}/files…`, gRPC
//! `FileService`). Every path is relative to the session's workspace (its worktree, else its
//! directory), `/`-separated; the empty path is the workspace itself. `..`, absolute paths and
//! symlinks leading out are refused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One directory entry, or a file just written, moved or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    /// Relative to the workspace.
    pub path: String,
    /// Its last part.
    pub name: String,
    /// `file`, `dir`, `symlink` (never followed in a listing) or `other` (a FIFO, a socket, …).
    pub kind: String,
    /// Bytes (of the link itself for a symlink).
    pub size: u64,
    /// Last modified, in ms since the epoch.
    pub modified_ms: i64,
    /// A `.gitignore` rule matches it (listed only with `all=true`).
    #[serde(default)]
    pub ignored: bool,
}

/// `GET /v1/sessions/{id}/files`: one page of a directory, directories first, then by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileList {
    /// The directory listed.
    pub path: String,
    pub entries: Vec<FileEntry>,
    /// Pass as `page_token` for the next page; empty on the last.
    pub next_page_token: String,
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FileListQuery {
    /// The directory (empty: the workspace).
    pub path: String,
    /// Entries per page: default 200, at most 1000.
    pub page_size: u32,
    /// `next_page_token` of the page before.
    pub page_token: String,
    /// Also what `.gitignore` rules hide (flagged `ignored`); `.git` is never listed.
    pub all: bool,
}

/// What to read: a range of a file, or a thumbnail of an image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FileReadQuery {
    pub path: String,
    /// First byte to return.
    pub offset: u64,
    /// Bytes to return: default (and 0) 1 MiB, at most 16 MiB; `truncated` says more follow.
    pub length: u64,
    /// `WxH` (each 1 to 1024): a PNG of the image scaled to fit, its aspect kept.
    pub thumb: String,
}

/// A file's bytes (or a thumbnail's). REST sends `content` as the body and the rest as
/// headers: `Content-Type` (`mime`), `X-Agentmux-Size`, `X-Agentmux-Offset`,
/// `X-Agentmux-Binary`, `X-Agentmux-Truncated`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileContent {
    pub path: String,
    pub content: Vec<u8>,
    /// Where `content` starts in the file.
    pub offset: u64,
    /// The whole file's size (the thumbnail's for a thumbnail).
    pub size: u64,
    /// A NUL byte in its first 8000 bytes.
    pub binary: bool,
    /// Bytes follow past `content` (read on with `offset`).
    pub truncated: bool,
    /// `text/plain; charset=utf-8`, `image/…`, `application/pdf` or `application/octet-stream`.
    pub mime: String,
}

/// `POST /v1/sessions/{id}/files/rename`: moves a file or directory within the workspace
/// (missing parent directories of `to` are made).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileRenameRequest {
    #[schemars(
        length(max = 4096),
        regex(pattern = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]*$")
    )]
    pub from: String,
    #[schemars(
        length(max = 4096),
        regex(pattern = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]*$")
    )]
    pub to: String,
    /// Replace a file already at `to` (a directory there is never replaced).
    #[serde(default)]
    pub overwrite: bool,
}

/// `POST /v1/sessions/{id}/files/upload`: the files written, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileUploadResult {
    pub files: Vec<FileEntry>,
}
