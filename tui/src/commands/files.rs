//! `agentmux files ls|get|put|rm|mv SESSION PATH…`: a session's files, paths relative to
//! its workspace.

use crate::cli::FilesCmd;
use crate::client::Client;
use crate::output::{self, Out};
use agentmux_shared::types::{FileEntry, FileListQuery, FileReadQuery, FileRenameRequest};
use agentmux_shared::{Error, Result};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Bytes asked for per call while printing a file.
const CHUNK: u64 = 1 << 20;

pub async fn run(c: &Client, out: &mut Out, cmd: FilesCmd) -> Result<()> {
    match cmd {
        FilesCmd::Ls { session, path, all } => {
            let mut q = FileListQuery {
                path,
                page_size: 1000,
                all,
                ..FileListQuery::default()
            };
            let mut list = c.list_files(&session, &q).await?;
            while !list.next_page_token.is_empty() {
                q.page_token = std::mem::take(&mut list.next_page_token);
                let more = c.list_files(&session, &q).await?;
                list.entries.extend(more.entries);
                list.next_page_token = more.next_page_token;
            }
            if out.json {
                return out.json_value(&list);
            }
            out.raw(&table(&list.entries, output::now_ms()))
        }
        FilesCmd::Get {
            session,
            path,
            output,
            offset,
            length,
            thumb,
        } => {
            let mut sink = Sink::open(output)?;
            if let Some(thumb) = thumb {
                let q = FileReadQuery {
                    path,
                    thumb,
                    ..FileReadQuery::default()
                };
                let t = c.read_file(&session, &q).await?;
                return sink.write(&t.content);
            }
            let mut q = FileReadQuery {
                path,
                offset,
                ..FileReadQuery::default()
            };
            let mut left = length.unwrap_or(u64::MAX);
            while left > 0 {
                q.length = left.min(CHUNK);
                let part = c.read_file(&session, &q).await?;
                sink.write(&part.content)?;
                let n = part.content.len() as u64;
                if !part.truncated || n == 0 {
                    break;
                }
                left = left.saturating_sub(n);
                q.offset = part.offset + n;
            }
            Ok(())
        }
        FilesCmd::Put {
            session,
            path,
            local,
        } => {
            let content = read_local(local).await?;
            let e = c.write_file(&session, &path, content).await?;
            done(out, &e, "wrote")
        }
        FilesCmd::Rm {
            session,
            path,
            recursive,
        } => {
            let e = c.delete_file(&session, &path, recursive).await?;
            done(out, &e, "deleted")
        }
        FilesCmd::Mv {
            session,
            from,
            to,
            force,
        } => {
            let r = FileRenameRequest {
                from: from.clone(),
                to,
                overwrite: force,
            };
            let e = c.rename_file(&session, &r).await?;
            done(out, &e, &format!("moved {from} to"))
        }
    }
}

fn done(out: &mut Out, e: &FileEntry, verb: &str) -> Result<()> {
    if out.json {
        return out.json_value(e);
    }
    let what = if e.kind == "dir" {
        "directory".to_string()
    } else {
        format!("{} bytes", e.size)
    };
    out.line(&format!("{verb} {} ({what})", e.path))
}

/// `ls`: directories marked with a trailing `/`, symlinks with `@`.
fn table(entries: &[FileEntry], now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mark = match e.kind.as_str() {
                "dir" => "/",
                "symlink" => "@",
                _ => "",
            };
            let ignored = if e.ignored { "  (ignored)" } else { "" };
            vec![
                if e.kind == "dir" {
                    "-".into()
                } else {
                    e.size.to_string()
                },
                output::ago(now_ms, e.modified_ms),
                format!("{}{mark}{ignored}", e.name),
            ]
        })
        .collect();
    output::table(&["SIZE", "MODIFIED", "NAME"], &rows)
}

/// A local file's bytes, or stdin's.
async fn read_local(local: Option<PathBuf>) -> Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || match local {
        Some(p) if p.as_os_str() != "-" => std::fs::read(&p)
            .map_err(|e| Error::invalid(format!("cannot read {}: {e}", p.display()))),
        _ => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| Error::invalid(format!("cannot read stdin: {e}")))?;
            Ok(b)
        }
    })
    .await
    .map_err(|e| Error::internal(format!("reading failed: {e}")))?
}

/// Where `get` writes: a local file, or stdout.
enum Sink {
    File(std::fs::File, PathBuf),
    Stdout,
}

impl Sink {
    fn open(output: Option<PathBuf>) -> Result<Sink> {
        match output {
            Some(p) if p.as_os_str() != "-" => std::fs::File::create(&p)
                .map(|f| Sink::File(f, p.clone()))
                .map_err(|e| Error::invalid(format!("cannot write {}: {e}", p.display()))),
            _ => Ok(Sink::Stdout),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            Sink::File(f, p) => f
                .write_all(bytes)
                .map_err(|e| Error::invalid(format!("cannot write {}: {e}", p.display()))),
            Sink::Stdout => {
                let mut lock = std::io::stdout().lock();
                match lock.write_all(bytes).and_then(|()| lock.flush()) {
                    Ok(()) => Ok(()),
                    // `files get … | head` closes the pipe: the reader is done.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
                    Err(e) => Err(Error::internal(format!("cannot write to stdout: {e}"))),
                }
            }
        }
    }
}
