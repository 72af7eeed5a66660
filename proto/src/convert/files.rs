//! A session's files, shared type ↔ wire message.

use agentmux_shared::types::{FileContent, FileEntry, FileList};

mirror!(FileEntry <=> FileEntry { path, name, kind, size, modified_ms, ignored });
mirror!(FileList <=> FileList { path, next_page_token } lists { entries });
mirror!(FileContent <=> FileContent { path, content, offset, size, binary, truncated, mime });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1 as pb;

    fn entry(name: &str) -> FileEntry {
        FileEntry {
            path: format!("src/{name}"),
            name: name.into(),
            kind: "file".into(),
            size: 12,
            modified_ms: 1_700_000_000_000,
            ignored: true,
        }
    }

    #[test]
    fn files_round_trip() {
        let list = FileList {
            path: "src".into(),
            entries: vec![entry("a.rs"), entry("b.rs")],
            next_page_token: "f:b.rs".into(),
        };
        assert_eq!(FileList::from(pb::FileList::from(list.clone())), list);
        let c = FileContent {
            path: "logo.png".into(),
            content: vec![0, 1, 2],
            offset: 3,
            size: 9,
            binary: true,
            truncated: true,
            mime: "image/png".into(),
        };
        assert_eq!(FileContent::from(pb::FileContent::from(c.clone())), c);
    }
}
