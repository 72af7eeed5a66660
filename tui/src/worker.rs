//! Runs `Action`s against the daemon on tokio tasks and reports back as `AppEvent`s, so the
//! app and the views never hold a connection or wait on the network.

use crate::app::{Action, AppEvent, Reply};
use crate::client::{AttachInput, AttachStart, Client, Target};
use agentmux_shared::Error;
use agentmux_shared::types::{CreateSession, GitDiffQuery};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinHandle;

pub struct Worker {
    tx: UnboundedSender<AppEvent>,
    target: Target,
    /// std Mutex: it is only held to clone or swap the client, never across an await.
    client: Arc<Mutex<Option<Client>>>,
    subscription: Option<JoinHandle<()>>,
    connecting: Option<JoinHandle<()>>,
    /// The one terminal attachment: its generation and the queue its task sends from.
    term: Option<(u64, UnboundedSender<AttachInput>)>,
}

impl Worker {
    pub fn new(tx: UnboundedSender<AppEvent>, target: Target) -> Worker {
        Worker {
            tx,
            target,
            client: Arc::new(Mutex::new(None)),
            subscription: None,
            connecting: None,
            term: None,
        }
    }

    fn client(&self) -> Option<Client> {
        self.client.lock().ok().and_then(|c| c.clone())
    }

    pub fn run(&mut self, action: Action) {
        match action {
            Action::Connect {
                attempt,
                delay,
                autostart,
            } => self.connect(attempt, delay, autostart),
            Action::Subscribe {
                after_seq,
                generation,
            } => self.subscribe(after_seq, generation),
            Action::CompleteDir { text } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let found = complete_dir(&text).await;
                    let _ = tx.send(AppEvent::Reply(Reply::DirCompletions { text, found }));
                });
            }
            Action::Attach {
                terminal_id,
                rows,
                cols,
                generation,
            } => self.attach(terminal_id, rows, cols, generation),
            Action::TermInput { generation, data } => {
                self.to_term(generation, AttachInput::Input(data.into()))
            }
            Action::TermResize {
                generation,
                rows,
                cols,
            } => self.to_term(generation, AttachInput::Resize { rows, cols }),
            Action::Detach => self.detach(),
            call => self.call(call),
        }
    }

    fn to_term(&self, generation: u64, input: AttachInput) {
        if let Some((g, tx)) = &self.term
            && *g == generation
        {
            let _ = tx.send(input);
        }
    }

    fn detach(&mut self) {
        if let Some((_, tx)) = self.term.take() {
            // The task says goodbye to the daemon and ends.
            let _ = tx.send(AttachInput::Detach);
        }
    }

    /// Runs one attachment on a task: daemon → `AppEvent::Term`, queue → daemon.
    fn attach(&mut self, terminal: String, rows: u16, cols: u16, generation: u64) {
        self.detach();
        let Some(client) = self.client() else {
            let _ = self.tx.send(AppEvent::TermEnded {
                generation,
                error: Some(Error::unavailable("not connected")),
            });
            return;
        };
        // Queued here, not in the task: input typed before the stream opens is kept.
        let (in_tx, mut in_rx) = mpsc::unbounded_channel();
        self.term = Some((generation, in_tx));
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let start = AttachStart {
                terminal,
                rows,
                cols,
                read_only: false,
            };
            let mut att = match client.attach(start).await {
                Ok(a) => a,
                Err(e) => {
                    let _ = tx.send(AppEvent::TermEnded {
                        generation,
                        error: Some(e),
                    });
                    return;
                }
            };
            loop {
                tokio::select! {
                    ev = att.events.next() => {
                        let ended = match ev {
                            Some(Ok(event)) => {
                                // The app is gone when the send fails.
                                if tx.send(AppEvent::Term { generation, event }).is_err() {
                                    return;
                                }
                                continue;
                            }
                            Some(Err(e)) => Some(e),
                            None => None,
                        };
                        let _ = tx.send(AppEvent::TermEnded { generation, error: ended });
                        return;
                    }
                    input = in_rx.recv() => {
                        // A dropped queue is a detach too.
                        let input = input.unwrap_or(AttachInput::Detach);
                        let detach = input == AttachInput::Detach;
                        att.sender.send(input);
                        if detach {
                            return;
                        }
                    }
                }
            }
        });
    }

    fn connect(&mut self, attempt: u32, delay: std::time::Duration, autostart: bool) {
        if let Some(h) = self.subscription.take() {
            h.abort();
        }
        if let Some(h) = self.connecting.take() {
            h.abort();
        }
        if let Ok(mut c) = self.client.lock() {
            *c = None;
        }
        let tx = self.tx.clone();
        let target = self.target.clone();
        let slot = self.client.clone();
        self.connecting = Some(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = async {
                let client = if autostart {
                    Client::connect_or_start(&target).await?
                } else {
                    Client::connect(&target.paths()?.socket).await?
                };
                let info = client.info().await?;
                Ok::<_, Error>((client, info))
            }
            .await;
            let ev = match result {
                Ok((client, info)) => {
                    if let Ok(mut c) = slot.lock() {
                        *c = Some(client);
                    }
                    AppEvent::Connected(info)
                }
                Err(e) => AppEvent::ConnectFailed {
                    attempt,
                    error: e.message,
                },
            };
            let _ = tx.send(ev);
        }));
    }

    fn subscribe(&mut self, after_seq: u64, generation: u64) {
        if let Some(h) = self.subscription.take() {
            h.abort();
        }
        let Some(client) = self.client() else {
            let _ = self.tx.send(AppEvent::StreamEnded {
                generation,
                error: "not connected".into(),
            });
            return;
        };
        let tx = self.tx.clone();
        self.subscription = Some(tokio::spawn(async move {
            let error = match client.subscribe(after_seq, "").await {
                Ok(mut stream) => loop {
                    match stream.next().await {
                        Some(Ok(item)) => {
                            let lagged =
                                matches!(item, agentmux_shared::types::StreamItem::Lagged { .. });
                            // The app is gone when the send fails: stop reading.
                            if tx.send(AppEvent::Stream { generation, item }).is_err() || lagged {
                                return;
                            }
                        }
                        Some(Err(e)) => break e.message,
                        None => break "the daemon closed the event stream".to_string(),
                    }
                },
                Err(e) => e.message,
            };
            let _ = tx.send(AppEvent::StreamEnded { generation, error });
        }));
    }

    fn call(&mut self, call: Action) {
        let tx = self.tx.clone();
        let client = self.client();
        tokio::spawn(async move {
            let result = match client {
                Some(c) => perform(&c, &call).await,
                None => Err(Error::unavailable("not connected")),
            };
            let ev = match result {
                Ok(reply) => AppEvent::Reply(reply),
                Err(error) => AppEvent::CallFailed { call, error },
            };
            let _ = tx.send(ev);
        });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        for h in [self.subscription.take(), self.connecting.take()]
            .into_iter()
            .flatten()
        {
            h.abort();
        }
    }
}

async fn perform(c: &Client, call: &Action) -> agentmux_shared::Result<Reply> {
    Ok(match call {
        Action::ListSessions => Reply::Sessions(c.list_sessions().await?),
        Action::LoadMessages {
            session_id,
            after_index,
            page_size,
        } => Reply::Messages {
            session_id: session_id.clone(),
            after_index: *after_index,
            page: c
                .list_messages(session_id, *after_index, *page_size)
                .await?,
        },
        Action::ListProviders => Reply::Providers(c.provider_health().await?),
        Action::CreateSession {
            provider,
            approval_policy,
            title,
            cwd,
            model,
            workspace,
        } => {
            // The agent works where the TUI was started, like a new tmux window.
            let cwd = match cwd.as_str() {
                "" => std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                c => expand_home(c),
            };
            let req = CreateSession {
                provider: provider.clone(),
                approval_policy: approval_policy.clone(),
                title: title.clone(),
                model: model.clone(),
                cwd,
                env: crate::env::client_env(),
                workspace: agentmux_shared::types::WorkspaceRequest {
                    mode: workspace.clone(),
                    ..Default::default()
                },
                ..CreateSession::default()
            };
            Reply::Created(Box::new(c.create_session(req).await?))
        }
        Action::Rename { id, title } => {
            Reply::Renamed(Box::new(c.rename_session(id, title).await?))
        }
        Action::Delete { id } => Reply::Deleted(c.delete_session(id, false, false).await?),
        Action::RevokeRule { session, tool } => {
            Reply::Renamed(Box::new(c.revoke_rule(session, tool).await?))
        }
        Action::Cancel { id, hard } => Reply::Cancelled(c.cancel_session(id, *hard).await?),
        Action::Send {
            session_id,
            content,
        } => Reply::Sent(Box::new(c.send_message(session_id, content, false).await?)),
        Action::ListTerminals => Reply::Terminals(c.list_terminals().await?),
        Action::ListApprovals => Reply::Approvals(c.list_approvals("", true).await?),
        Action::Decide {
            id,
            decision,
            message,
        } => Reply::Decided(Box::new(c.decide_approval(id, *decision, message).await?)),
        Action::GitStatus { session } => Reply::GitStatus {
            session: session.clone(),
            status: Box::new(c.git_status(session).await?),
        },
        Action::GitDiff { session, path } => {
            let q = GitDiffQuery {
                path: path.clone(),
                // One file is asked for whole; the first load of all is capped.
                max_lines: if path.is_empty() { 20_000 } else { 200_000 },
                ..GitDiffQuery::default()
            };
            Reply::GitDiff {
                session: session.clone(),
                path: path.clone(),
                diff: Box::new(c.git_diff(session, &q).await?),
            }
        }
        Action::Git { session, change } => Reply::GitChanged {
            session: session.clone(),
            note: git_change(c, session, change).await?,
        },
        Action::Connect { .. }
        | Action::Subscribe { .. }
        | Action::Attach { .. }
        | Action::TermInput { .. }
        | Action::TermResize { .. }
        | Action::Detach
        | Action::CompleteDir { .. } => {
            return Err(Error::internal("not a call"));
        }
    })
}

/// Runs a change from the review view; what to tell the person.
async fn git_change(
    c: &Client,
    session: &str,
    change: &crate::action::GitChange,
) -> agentmux_shared::Result<String> {
    use crate::action::GitChange;
    Ok(match change {
        GitChange::Stage(p) => {
            c.git_stage(session, p).await?;
            format!("staged {}", many(p))
        }
        GitChange::Unstage(p) => {
            c.git_unstage(session, p).await?;
            format!("unstaged {}", many(p))
        }
        GitChange::Discard(p) => {
            c.git_discard(session, p).await?;
            format!("discarded {}", many(p))
        }
        GitChange::Commit { message, staged } => {
            let k = c.git_commit(session, message, &[], *staged).await?;
            format!("committed {} {}", k.short, k.subject)
        }
        GitChange::Merge(strategy) => {
            let req = agentmux_shared::types::GitMergeRequest {
                strategy: strategy.clone(),
                ..Default::default()
            };
            let r = c.git_merge(session, &req).await?;
            let mut note = r.message.clone();
            for k in r.conflicts.iter().take(3) {
                note.push_str(&format!("; {} ({})", k.path, k.kind));
            }
            note
        }
    })
}

fn many(paths: &[String]) -> String {
    match paths {
        [] => "everything".into(),
        [one] => one.clone(),
        more => format!("{} files", more.len()),
    }
}

/// `~/x` as the path it means.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// Directories whose path starts with `text` (hidden ones only when asked for), sorted, at
/// most 50; `~` stays as typed.
async fn complete_dir(text: &str) -> Vec<String> {
    let (dir, partial) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("./", text),
    };
    let Ok(mut entries) = tokio::fs::read_dir(expand_home(dir)).await else {
        return Vec::new();
    };
    let mut found = Vec::new();
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(partial) || (name.starts_with('.') && !partial.starts_with('.')) {
            continue;
        }
        // Follows symlinks: a link to a directory is a directory to work in.
        if tokio::fs::metadata(e.path())
            .await
            .is_ok_and(|m| m.is_dir())
        {
            found.push(format!("{dir}{name}"));
        }
    }
    found.sort();
    found.truncate(50);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn directories_complete_from_what_was_typed() {
        let root = tempfile::tempdir().unwrap();
        for d in ["src", "scripts", ".git", "srv-link-target"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("setup.py"), "").unwrap();
        std::os::unix::fs::symlink(root.path().join("srv-link-target"), root.path().join("srv"))
            .unwrap();
        let base = format!("{}/", root.path().display());
        let got = complete_dir(&format!("{base}s")).await;
        let names: Vec<&str> = got.iter().map(|p| &p[base.len()..]).collect();
        assert_eq!(names, ["scripts", "src", "srv", "srv-link-target"]);
        assert!(
            complete_dir(&format!("{base}."))
                .await
                .iter()
                .any(|p| p.ends_with(".git"))
        );
        assert!(complete_dir("/nonexistent-dir/x").await.is_empty());
    }
}
