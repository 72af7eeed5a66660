//! The TUI's brain: `App::update(AppEvent)` is the only code that mutates `State`; it answers
//! with `Action`s (daemon calls) that the worker runs, whose results come back as events.

mod approvals;
#[cfg(test)]
mod draft_tests;
mod git;
mod keys;
#[cfg(test)]
mod nav_tests;
#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod review_tests;
mod term_keys;
#[cfg(test)]
mod term_tests;
mod terminals;
#[cfg(test)]
mod tests;

pub use crate::action::Action;
use crate::client::AttachEvent;
use crate::keymap::KeyMap;
use crate::state::{Conn, Focus, Input, State};
use crate::ui::ViewStack;
use crate::ui::approval::ApprovalView;
use crate::ui::new_session::NewSessionView;
use agentmux_shared::types::{
    Approval, ApprovalStatus, CancelResult, Event, EventPayload, Info, MessagePage, MessageStatus,
    ProviderHealth, Role, SendResult, Session, StreamItem, Terminal, TurnFinished,
};
use agentmux_shared::{Error, ErrorKind};
use crossterm::event::KeyEvent;
use std::time::Duration;

/// Messages fetched when a session is first shown (its newest) and per older page.
pub const HISTORY_PAGE: u32 = 500;

#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    Key(KeyEvent),
    Paste(String),
    /// The terminal changed size: nothing to apply, but the loop redraws after any event.
    Resize,
    Connected(Info),
    ConnectFailed {
        attempt: u32,
        error: String,
    },
    Stream {
        generation: u64,
        item: StreamItem,
    },
    /// The subscription broke (not a `Lagged` end): the daemon went away.
    StreamEnded {
        generation: u64,
        error: String,
    },
    Reply(Reply),
    CallFailed {
        call: Action,
        error: Error,
    },
    /// What the last draw measured; does not itself need a redraw.
    Drawn {
        view_rows: u16,
        max_scroll: usize,
        /// The terminal pane's size (rows, cols), whether or not it is shown.
        term_size: (u16, u16),
    },
    /// The draw showed `State::jump_to` at this scroll.
    Jumped(usize),
    /// The editor returned the draft (`Err`: it failed; the draft stays as it was).
    Edited(Result<String, String>),
    /// What the terminal attachment `generation` delivered.
    Term {
        generation: u64,
        event: AttachEvent,
    },
    /// The attachment `generation` ended without the program exiting (`None`: the daemon
    /// closed it).
    TermEnded {
        generation: u64,
        error: Option<Error>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Sessions(Vec<Session>),
    Messages {
        session_id: String,
        after_index: u64,
        page: MessagePage,
    },
    Created(Box<Session>),
    /// A session as a call changed it (renamed, a rule revoked).
    Renamed(Box<Session>),
    Deleted(String),
    Cancelled(CancelResult),
    Sent(Box<SendResult>),
    Terminals(Vec<Terminal>),
    /// Every pending approval.
    Approvals(Vec<Approval>),
    Providers(Vec<ProviderHealth>),
    /// Directories completing `text` in the new-session form.
    DirCompletions {
        text: String,
        found: Vec<String>,
    },
    Decided(Box<Approval>),
    GitStatus {
        session: String,
        status: Box<agentmux_shared::types::GitStatus>,
    },
    /// `path` empty: the whole diff; else that file's, whole.
    GitDiff {
        session: String,
        path: String,
        diff: Box<agentmux_shared::types::GitDiff>,
    },
    /// A change from the review view went through: what to tell, and the work's new state
    /// is fetched again.
    GitChanged {
        session: String,
        note: String,
    },
}

/// Reconnect delay: fast at first so a daemon restart is barely visible, then up to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(ms.min(5_000))
}

pub struct App {
    pub state: State,
    pub keymap: KeyMap,
    /// The panes and the modals above them; keys reach them here, in `update`.
    pub views: ViewStack,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    pub fn new() -> App {
        App::with_prefix(crate::attach::DEFAULT_PREFIX)
    }

    /// `prefix`: the terminal pane's prefix byte (`Ctrl-b` by default, `AGENTMUX_PREFIX`).
    pub fn with_prefix(prefix: u8) -> App {
        App {
            state: State {
                term_prefix: prefix,
                ..State::default()
            },
            keymap: KeyMap::default().with_term_prefix(prefix),
            views: ViewStack::default(),
        }
    }

    /// The actions to run at start-up.
    pub fn start(&self) -> Vec<Action> {
        vec![Action::Connect {
            attempt: 0,
            delay: Duration::ZERO,
            autostart: true,
        }]
    }

    pub fn update(&mut self, ev: AppEvent) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            AppEvent::Key(k) => self.on_key(k, &mut out),
            AppEvent::Paste(text) => self.on_paste(&text, &mut out),
            AppEvent::Resize => {}
            AppEvent::Connected(info) => self.on_connected(info, &mut out),
            AppEvent::ConnectFailed { attempt, error } => {
                let attempt = attempt.saturating_add(1);
                self.state.conn = Conn::Connecting {
                    attempt,
                    error: Some(error),
                };
                out.push(Action::Connect {
                    attempt,
                    delay: backoff(attempt),
                    autostart: false,
                });
            }
            AppEvent::Stream { generation, item } => self.on_stream(generation, item, &mut out),
            AppEvent::StreamEnded { generation, error } => {
                if generation == self.state.stream_gen {
                    self.disconnected(error, &mut out);
                }
            }
            AppEvent::Reply(r) => {
                // Completions are read locally, not a daemon call that was counted.
                if !matches!(r, Reply::DirCompletions { .. }) {
                    self.state.pending = self.state.pending.saturating_sub(1);
                }
                self.on_reply(r, &mut out);
            }
            AppEvent::CallFailed { call, error } => {
                self.state.pending = self.state.pending.saturating_sub(1);
                self.on_call_failed(call, error, &mut out);
            }
            AppEvent::Drawn {
                view_rows,
                max_scroll,
                term_size,
            } => {
                self.state.view_rows = view_rows;
                self.state.max_scroll = Some(max_scroll);
                self.state.scroll = self.state.scroll.min(max_scroll);
                self.on_term_area(term_size.0, term_size.1, &mut out);
            }
            AppEvent::Edited(Ok(text)) => {
                self.state.composer = Input::with_text(&text);
                self.state.drafts_dirty = true;
            }
            AppEvent::Edited(Err(e)) => self.state.notice = Some(format!("editor: {e}")),
            AppEvent::Jumped(scroll) => {
                self.state.scroll = scroll;
                self.state.jump_to = None;
            }
            AppEvent::Term { generation, event } => self.on_term_event(generation, event, &mut out),
            AppEvent::TermEnded { generation, error } => {
                self.on_term_ended(generation, error, &mut out)
            }
        }
        self.sync_term(&mut out);
        self.state.sync_draft();
        self.state.pending += out.iter().filter(|a| a.is_call()).count();
        out
    }

    fn on_connected(&mut self, info: Info, out: &mut Vec<Action>) {
        let s = &mut self.state;
        // A head behind ours means a different (or wiped) store: what we mirror is void.
        if s.synced && info.last_seq < s.last_seq {
            s.transcripts.clear();
            s.unread.clear();
            s.synced = false;
        }
        if !s.synced {
            // First contact: the session list is fetched whole, so live events from the
            // current head on are all we need.
            s.last_seq = info.last_seq;
            s.synced = true;
        }
        s.conn = Conn::Connected {
            version: info.version,
        };
        s.stream_gen += 1;
        out.push(Action::Subscribe {
            after_seq: s.last_seq,
            generation: s.stream_gen,
        });
        out.push(Action::ListSessions);
        out.push(Action::ListTerminals);
        out.push(Action::ListApprovals);
        if let Some(id) = s.selected.clone() {
            self.ensure_history(&id, out);
        }
        // The old attachment died with the connection.
        if let Some(id) = self.state.term.as_ref().map(|v| v.id.clone()) {
            self.attach_term(&id, out);
        }
    }

    fn disconnected(&mut self, error: String, out: &mut Vec<Action>) {
        if !self.state.is_connected() {
            return; // a reconnect is already under way
        }
        self.state.conn = Conn::Connecting {
            attempt: 0,
            error: Some(error),
        };
        // Abandon the old stream: anything it still delivers carries a stale generation.
        self.state.stream_gen += 1;
        for t in self.state.transcripts.values_mut() {
            t.loading = false;
        }
        if let Some(v) = self.state.term.as_mut() {
            v.link = crate::term_view::Link::Ended;
        }
        out.push(Action::Connect {
            attempt: 0,
            delay: backoff(0),
            autostart: false,
        });
    }

    fn on_stream(&mut self, generation: u64, item: StreamItem, out: &mut Vec<Action>) {
        match item {
            // Seq dedup makes replays after a resubscribe harmless even from an old stream.
            StreamItem::Event(e) => {
                if e.seq > self.state.last_seq {
                    self.state.last_seq = e.seq;
                    self.apply(&e, out);
                }
            }
            StreamItem::Heartbeat { .. } => {}
            StreamItem::Lagged { resume_after_seq } => {
                if generation != self.state.stream_gen {
                    return;
                }
                // Everything up to last_seq is applied; taking the smaller of the two can
                // only replay (deduplicated above), never skip.
                self.state.stream_gen += 1;
                out.push(Action::Subscribe {
                    after_seq: resume_after_seq.min(self.state.last_seq),
                    generation: self.state.stream_gen,
                });
            }
        }
    }

    fn apply(&mut self, e: &Event, out: &mut Vec<Action>) {
        let s = &mut self.state;
        match &e.payload {
            EventPayload::SessionCreated { session } | EventPayload::SessionUpdated { session } => {
                s.upsert_session(session.clone());
                if s.selected.is_none() {
                    s.selected = Some(session.id.clone());
                    self.ensure_history(&session.id, out);
                }
            }
            EventPayload::SessionReset { session } => {
                s.upsert_session(session.clone());
                if let Some(t) = s.transcripts.get_mut(&session.id) {
                    t.clear();
                }
            }
            EventPayload::SessionDeleted { id } => {
                s.remove_session(id);
                if let Some(sel) = s.selected.clone() {
                    self.ensure_history(&sel, out);
                }
            }
            EventPayload::MessageCreated { message } => {
                if let Some(t) = s.transcripts.get_mut(&message.session_id) {
                    t.upsert(message.clone());
                }
            }
            EventPayload::MessageCompleted { message } => {
                if let Some(t) = s.transcripts.get_mut(&message.session_id) {
                    t.upsert(message.clone());
                }
                if message.role == Role::Assistant
                    && s.selected.as_deref() != Some(&message.session_id)
                {
                    s.unread.insert(message.session_id.clone());
                }
            }
            // The daemon's own fold: a live answer shows what a reload will.
            EventPayload::MessageDelta { message_id: id, .. }
            | EventPayload::ReasoningDelta { message_id: id, .. }
            | EventPayload::TurnFinished(TurnFinished {
                assistant_message_id: id,
                ..
            }) => {
                if let EventPayload::TurnFinished(f) = &e.payload
                    && s.selected.as_deref() != Some(e.session_id.as_str())
                {
                    let title = s.called(&e.session_id);
                    s.alerts.push(match f.status {
                        MessageStatus::Complete => format!("agentmux: {title}: done"),
                        MessageStatus::Failed => format!("agentmux: {title}: failed: {}", f.error),
                        other => format!("agentmux: {title}: {}", other.as_str()),
                    });
                }
                if let Some(m) = s
                    .transcripts
                    .get_mut(&e.session_id)
                    .and_then(|t| t.get_mut(id))
                {
                    m.apply(&e.payload);
                }
            }
            EventPayload::Warning { message } => s.notice = Some(format!("warning: {message}")),
            EventPayload::TerminalCreated { terminal }
            | EventPayload::TerminalUpdated { terminal } => self.on_terminal_record(terminal, out),
            EventPayload::TerminalRemoved { id } => s.remove_terminal(id),
            // The daemon stores the user message as complete when its turn starts; this
            // event is the only news of that.
            EventPayload::TurnStarted {
                user_message_id, ..
            } => {
                if let Some(m) = s
                    .transcripts
                    .get_mut(&e.session_id)
                    .and_then(|t| t.get_mut(user_message_id))
                    && m.status == MessageStatus::Queued
                {
                    m.status = MessageStatus::Complete;
                }
            }
            EventPayload::ApprovalRequested { approval } => {
                if approval.status == ApprovalStatus::Pending {
                    if s.selected.as_deref() != Some(approval.session_id.as_str()) {
                        let title = s.called(&approval.session_id);
                        s.alerts
                            .push(format!("agentmux: {title} asks: {}", approval.summary));
                    }
                    s.approvals.insert(approval.id.clone(), approval.clone());
                    self.offer_approval(&approval.id);
                }
            }
            EventPayload::ApprovalResolved { approval } => self.approval_resolved(approval),
            // What the agent does shows under the answer being written; the daemon keeps it
            // on the message when the turn ends, so a reload shows the same.
            EventPayload::ToolCall(_)
            | EventPayload::FileChanged { .. }
            | EventPayload::PlanUpdated { .. } => {
                if let Some(m) = s.current_answer(&e.session_id) {
                    m.apply(&e.payload);
                }
            }
            // Install progress is the CLI's to show.
            EventPayload::ProviderInstall { .. } => {}
            EventPayload::WorkspaceChanged { .. } => self.workspace_changed(&e.session_id, out),
        }
    }

    fn on_reply(&mut self, r: Reply, out: &mut Vec<Action>) {
        let s = &mut self.state;
        match r {
            Reply::Sessions(list) => {
                let known: std::collections::HashSet<_> =
                    list.iter().map(|x| x.id.clone()).collect();
                s.sessions.retain(|x| known.contains(&x.id));
                s.transcripts.retain(|id, _| known.contains(id));
                for x in list {
                    s.upsert_session(x);
                }
                let selected_gone = s
                    .selected
                    .as_ref()
                    .is_none_or(|id| !known.contains(id) && s.selected_terminal().is_none());
                if selected_gone {
                    s.selected = s.sessions.first().map(|x| x.id.clone());
                    s.scroll = 0;
                }
                if let Some(id) = s.selected.clone() {
                    self.ensure_history(&id, out);
                }
                self.track_git(out);
            }
            r @ (Reply::GitStatus { .. } | Reply::GitDiff { .. } | Reply::GitChanged { .. }) => {
                self.on_git_reply(r, out)
            }
            Reply::Messages {
                session_id,
                after_index,
                page,
            } => {
                let Some(t) = s.transcripts.get_mut(&session_id) else {
                    return;
                };
                t.loading = false;
                t.loaded = true;
                t.first_index = t.first_index.min(after_index);
                for m in page.messages {
                    t.upsert(m);
                }
                // A tail load can race with new messages: follow pages up to the end.
                if page.more
                    && page.next_index > 0
                    && t.messages.last().is_some_and(|m| m.index < page.next_index)
                {
                    t.loading = true;
                    out.push(Action::LoadMessages {
                        session_id,
                        after_index: page.next_index,
                        page_size: HISTORY_PAGE,
                    });
                }
            }
            Reply::Created(session) => {
                s.selected = Some(session.id.clone());
                s.scroll = 0;
                s.focus = Focus::Composer;
                let id = session.id.clone();
                s.upsert_session(*session);
                self.ensure_history(&id, out);
            }
            Reply::Renamed(session) => s.upsert_session(*session),
            Reply::Deleted(id) => s.remove_session(&id),
            Reply::Cancelled(r) => {
                s.notice = Some(match (r.cancelled_turn, r.dropped_queued) {
                    (false, 0) => "nothing to cancel".to_string(),
                    (true, 0) => "turn cancelled".to_string(),
                    (_, n) => format!("cancelled; {n} queued message(s) dropped"),
                });
            }
            Reply::Terminals(list) => self.on_terminals(list),
            Reply::Approvals(list) => {
                s.approvals = list
                    .into_iter()
                    .filter(|a| a.status == ApprovalStatus::Pending)
                    .map(|a| (a.id.clone(), a))
                    .collect();
                if self
                    .views
                    .top_as::<ApprovalView>()
                    .is_some_and(|v| !s.approvals.contains_key(&v.id))
                {
                    self.views.pop();
                }
                if let Some(id) = s.next_approval().map(|a| a.id.clone()) {
                    self.offer_approval(&id);
                }
            }
            Reply::Decided(a) => self.approval_resolved(&a),
            Reply::Providers(providers) => {
                if !self.views.has_modal() {
                    let dir = self.state.start_dir.clone();
                    self.views
                        .push(Box::new(NewSessionView::new(providers, &dir)));
                }
            }
            Reply::DirCompletions { text, found } => {
                if let Some(v) = self.views.top_as_mut::<NewSessionView>() {
                    v.complete(&text, found);
                }
            }
            Reply::Sent(r) => {
                // Usually message.created got here first and may already be newer (its turn
                // started): the reply only fills in a message the stream has not shown yet.
                if let Some(t) = s.transcripts.get_mut(&r.message.session_id)
                    && t.index_of(&r.message.id).is_none()
                {
                    t.upsert(r.message);
                }
            }
        }
    }

    fn on_call_failed(&mut self, call: Action, error: Error, out: &mut Vec<Action>) {
        if let Action::LoadMessages { session_id, .. } = &call
            && let Some(t) = self.state.transcripts.get_mut(session_id)
        {
            t.loading = false;
        }
        // Give unsent text back rather than lose what the user typed.
        if let Action::Send { content, .. } = &call
            && self.state.composer.text.is_empty()
        {
            self.state.composer = Input::with_text(content);
        }
        if error.kind == ErrorKind::Unavailable {
            self.disconnected(error.message, out);
        } else if self.on_git_failed(&call, &error) {
            // The review view shows it.
        } else {
            self.state.notice = Some(format!("error: {}: {}", error.kind.code(), error.message));
        }
    }

    /// Starts loading the newest page of a session's history unless it is loaded or loading.
    fn ensure_history(&mut self, id: &str, out: &mut Vec<Action>) {
        let s = &mut self.state;
        if !s.is_connected() || s.terminals.iter().any(|t| t.id == id) {
            return;
        }
        let count = s
            .sessions
            .iter()
            .find(|x| x.id == id)
            .map_or(0, |x| x.message_count);
        if s.transcripts.get(id).is_some_and(|t| t.loading || t.loaded) {
            return;
        }
        if count == 0 {
            // Nothing to fetch; the entry makes live events for it land somewhere.
            s.transcripts.entry(id.to_string()).or_default().loaded = true;
            return;
        }
        let after_index = count.saturating_sub(u64::from(HISTORY_PAGE));
        let t = s.transcripts.entry(id.to_string()).or_default();
        t.loading = true;
        t.first_index = after_index;
        out.push(Action::LoadMessages {
            session_id: id.to_string(),
            after_index,
            page_size: HISTORY_PAGE,
        });
    }

    /// Fetches the page before the oldest loaded message, when scrolled to the top.
    fn load_older(&mut self, out: &mut Vec<Action>) {
        let Some(id) = self.state.selected.clone() else {
            return;
        };
        let Some(t) = self.state.transcripts.get_mut(&id) else {
            return;
        };
        if t.loading || !t.has_older() {
            return;
        }
        let after_index = t.first_index.saturating_sub(u64::from(HISTORY_PAGE));
        // Exactly the gap, so the page never overlaps what is loaded.
        let page_size = u32::try_from(t.first_index - after_index).unwrap_or(HISTORY_PAGE);
        t.loading = true;
        out.push(Action::LoadMessages {
            session_id: id,
            after_index,
            page_size,
        });
    }
}
