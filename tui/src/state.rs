//! Plain data the TUI shows, mirrored from daemon events. Views read it; only
//! `App::update` (through the `pub(crate)` helpers here) changes it.

use crate::term_view::TermView;
use agentmux_shared::types::{Approval, Message, MessageStatus, Session, Terminal};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    /// Trying to reach the daemon; `attempt` counts failures since the last success.
    Connecting {
        attempt: u32,
        error: Option<String>,
    },
    Connected {
        version: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Sessions,
    Composer,
    /// Keys go to the selected terminal's program.
    Terminal,
}

/// A transcript search: the ids of the loaded messages that match, newest first, and which
/// one is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    pub hits: Vec<String>,
    pub at: usize,
}

/// How the session list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Newest first.
    #[default]
    Recent,
    /// By directory, so a repository's sessions sit together.
    Directory,
    Name,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Recent => SortBy::Directory,
            SortBy::Directory => SortBy::Name,
            SortBy::Name => SortBy::Recent,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Recent => "newest first",
            SortBy::Directory => "by directory",
            SortBy::Name => "by name",
        }
    }
}

/// Approval policies a new session can take, in the picker's order.
pub const POLICIES: [&str; 3] = ["ask", "auto-edit", "never-ask"];

/// A small single-buffer line editor; `cursor` is a byte offset on a char boundary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    pub cursor: usize,
}

impl Input {
    pub fn with_text(text: &str) -> Input {
        Input {
            text: text.to_string(),
            cursor: text.len(),
        }
    }
    pub(crate) fn insert_str(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }
    pub(crate) fn backspace(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
        }
    }
    pub(crate) fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }
    pub(crate) fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }
    pub(crate) fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }
    pub(crate) fn home(&mut self) {
        self.cursor = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
    }
    pub(crate) fn end(&mut self) {
        self.cursor += self.text[self.cursor..]
            .find('\n')
            .unwrap_or(self.text.len() - self.cursor);
    }
    pub(crate) fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }
}

/// The loaded part of one session's history: a contiguous run of indexes ending at the newest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Sorted by `index`.
    pub messages: Vec<Message>,
    by_id: HashMap<String, usize>,
    pub loading: bool,
    /// The newest page has arrived (or there was nothing to fetch); events keep it current.
    pub loaded: bool,
    /// Messages below this index exist in the daemon but are not loaded yet.
    pub first_index: u64,
}

impl Transcript {
    #[cfg(test)]
    pub fn get(&self, id: &str) -> Option<&Message> {
        self.by_id.get(id).and_then(|&i| self.messages.get(i))
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn has_older(&self) -> bool {
        self.first_index > 0
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Message> {
        let i = *self.by_id.get(id)?;
        self.messages.get_mut(i)
    }

    /// Inserts or replaces by id, keeping index order. Appends are O(1); anything else
    /// (older pages) re-indexes, which happens once per page, not per event.
    pub(crate) fn upsert(&mut self, m: Message) {
        if let Some(existing) = self.get_mut(&m.id) {
            if keep_existing(existing, &m) {
                return;
            }
            *existing = m;
            return;
        }
        if self.messages.last().is_none_or(|last| last.index < m.index) {
            self.by_id.insert(m.id.clone(), self.messages.len());
            self.messages.push(m);
            return;
        }
        let pos = self.messages.partition_point(|x| x.index < m.index);
        self.messages.insert(pos, m);
        self.reindex();
    }

    pub(crate) fn clear(&mut self) {
        self.messages.clear();
        self.by_id.clear();
        self.first_index = 0;
    }

    fn reindex(&mut self) {
        self.by_id = self
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
    }
}

/// History pages are snapshots that can be older than events already applied: never let a
/// snapshot roll back a message that has progressed further.
fn keep_existing(existing: &Message, incoming: &Message) -> bool {
    let streaming = MessageStatus::Streaming;
    match (existing.status == streaming, incoming.status == streaming) {
        (false, true) => true,
        (true, true) => existing.content.len() > incoming.content.len(),
        (_, false) => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub conn: Conn,
    /// Seq of the last event applied; resubscriptions continue after it.
    pub last_seq: u64,
    /// Whether a connection ever succeeded (the first one starts at the daemon's head).
    pub synced: bool,
    /// Bumped on every (re)subscription so items from an abandoned stream are recognised.
    pub stream_gen: u64,
    /// Newest first.
    pub sessions: Vec<Session>,
    /// Oldest first (by id, which is time-ordered), like tmux windows.
    pub terminals: Vec<Terminal>,
    /// A session id or a terminal id (`ses_…` / `term_…`: the daemon keeps them apart).
    pub selected: Option<String>,
    /// The selected terminal's screen and attachment; `None` while a session is selected.
    pub term: Option<TermView>,
    /// Bumped for every attachment, so events of abandoned ones are recognised.
    pub term_gen: u64,
    /// Rows and columns the terminal pane had in the last draw.
    pub term_area: (u16, u16),
    /// The byte that starts a pane command (prefix then `d` returns to the list).
    pub term_prefix: u8,
    pub unread: HashSet<String>,
    /// Pending approvals by id (ids are time-ordered: oldest first).
    pub approvals: BTreeMap<String, Approval>,
    pub transcripts: HashMap<String, Transcript>,
    pub focus: Focus,
    /// The draft of the session `composer_owner` names (the selected one, once synced).
    pub composer: Input,
    pub composer_owner: Option<String>,
    /// Drafts of the other sessions, by id.
    pub drafts: HashMap<String, Input>,
    /// Sent messages, oldest first (Up/Down in the composer recall them).
    pub history: Vec<String>,
    /// Where Up/Down recall is in `history`, and the draft it started from.
    pub history_pos: Option<usize>,
    pub history_scratch: String,
    /// Drafts or history changed since they were last saved.
    pub drafts_dirty: bool,
    /// Transcript lines scrolled up from the bottom; 0 follows new output.
    pub scroll: usize,
    /// Largest useful `scroll`, as measured by the last draw.
    pub max_scroll: Option<usize>,
    /// Transcript rows visible in the last draw (a page for PgUp/PgDn).
    pub view_rows: u16,
    /// Tool output and diffs shown in full (Ctrl-O).
    pub expanded: bool,
    /// Ctrl-C was pressed with nothing to clear: the next Ctrl-C quits.
    pub quit_armed: bool,
    /// Requests sent and not yet answered.
    pub pending: usize,
    /// Last error or notice, shown in the status bar until the next key.
    pub notice: Option<String>,
    /// The list shows only sessions and terminals matching this (`f`); empty: all.
    pub filter: String,
    /// The filter is being typed (its prompt shows even while empty).
    pub filtering: bool,
    /// The session list's order (`s` cycles it).
    pub sort: SortBy,
    /// The transcript search (Ctrl-F) and the message the view should jump to.
    pub search: Option<Search>,
    pub jump_to: Option<String>,
    /// The draft waits to be edited in `$EDITOR` (the loop takes it).
    pub edit_request: Option<String>,
    /// Where the TUI was started: new sessions work there unless told otherwise.
    pub start_dir: String,
    /// Things to tell the person about (bell or desktop notification), taken by the loop.
    pub alerts: Vec<String>,
    /// Sessions' git work, by session id.
    pub git: HashMap<String, crate::git_state::GitView>,
    pub quit: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            conn: Conn::Connecting {
                attempt: 0,
                error: None,
            },
            last_seq: 0,
            synced: false,
            stream_gen: 0,
            sessions: Vec::new(),
            terminals: Vec::new(),
            selected: None,
            term: None,
            term_gen: 0,
            term_area: (24, 80),
            term_prefix: crate::attach::DEFAULT_PREFIX,
            unread: HashSet::new(),
            approvals: BTreeMap::new(),
            transcripts: HashMap::new(),
            focus: Focus::Sessions,
            composer: Input::default(),
            composer_owner: None,
            drafts: HashMap::new(),
            history: Vec::new(),
            history_pos: None,
            history_scratch: String::new(),
            drafts_dirty: false,
            scroll: 0,
            max_scroll: None,
            view_rows: 10,
            expanded: false,
            quit_armed: false,
            pending: 0,
            notice: None,
            filter: String::new(),
            filtering: false,
            sort: SortBy::Recent,
            search: None,
            jump_to: None,
            edit_request: None,
            start_dir: String::new(),
            alerts: Vec::new(),
            git: HashMap::new(),
            quit: false,
        }
    }
}

impl State {
    pub fn selected_session(&self) -> Option<&Session> {
        let id = self.selected.as_deref()?;
        self.sessions.iter().find(|s| s.id == id)
    }

    pub fn selected_terminal(&self) -> Option<&Terminal> {
        let id = self.selected.as_deref()?;
        self.terminals.iter().find(|t| t.id == id)
    }

    /// Ids in list order: the sessions, then the terminals the filter lets through.
    pub fn item_ids(&self) -> impl Iterator<Item = &str> {
        let s = self.visible_sessions().map(|s| s.id.as_str());
        s.chain(self.visible_terminals().map(|t| t.id.as_str()))
    }

    /// Sessions whose title, name, directory, provider, model or status contain every word
    /// of the filter (case-insensitive), in the list's order (`sort`).
    pub fn visible_sessions(&self) -> impl Iterator<Item = &Session> {
        let words = filter_words(&self.filter);
        let mut shown: Vec<&Session> = self
            .sessions
            .iter()
            .filter(move |s| {
                let hay = [
                    s.title.as_str(),
                    s.name.as_str(),
                    s.cwd.as_str(),
                    s.provider.as_str(),
                    s.model.as_str(),
                    s.display_status(),
                ]
                .join(" ")
                .to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect();
        // Stable: within a directory or a name, the newest stays first.
        match self.sort {
            SortBy::Recent => {}
            SortBy::Directory => shown.sort_by(|a, b| a.cwd.cmp(&b.cwd)),
            SortBy::Name => shown.sort_by(|a, b| a.name.cmp(&b.name)),
        }
        shown.into_iter()
    }

    /// Terminals whose name, command or directory contain every word of the filter.
    pub fn visible_terminals(&self) -> impl Iterator<Item = &Terminal> {
        let words = filter_words(&self.filter);
        self.terminals.iter().filter(move |t| {
            let hay = [t.name.as_str(), t.command.as_str(), t.cwd.as_str()]
                .join(" ")
                .to_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
    }

    /// Keeps one draft per session: when the selection has moved, the composer's text goes
    /// to the session it was written for and the newly selected one's comes back.
    pub(crate) fn sync_draft(&mut self) {
        if self.composer_owner == self.selected {
            return;
        }
        let text = std::mem::take(&mut self.composer);
        if let Some(owner) = self.composer_owner.take()
            && !text.text.is_empty()
        {
            self.drafts.insert(owner, text);
            self.drafts_dirty = true;
        }
        if let Some(id) = &self.selected {
            self.composer = self.drafts.remove(id).unwrap_or_default();
        }
        self.composer_owner = self.selected.clone();
        self.history_pos = None;
    }

    /// Recalls an older (`-1`) or newer (`1`) sent message into the composer; past the
    /// newest, the draft recall started from comes back.
    pub(crate) fn recall(&mut self, delta: isize) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len();
        let pos = match (self.history_pos, delta < 0) {
            (None, true) => {
                self.history_scratch = self.composer.text.clone();
                last - 1
            }
            (None, false) => return,
            (Some(p), true) => p.saturating_sub(1),
            (Some(p), false) if p + 1 >= last => {
                self.history_pos = None;
                self.composer = Input::with_text(&std::mem::take(&mut self.history_scratch));
                return;
            }
            (Some(p), false) => p + 1,
        };
        self.history_pos = Some(pos);
        self.composer = Input::with_text(&self.history[pos]);
    }

    /// Remembers a sent message for recall.
    pub(crate) fn remember(&mut self, text: &str) {
        if self.history.last().map(String::as_str) != Some(text) {
            self.history.push(text.to_string());
        }
        let over = self.history.len().saturating_sub(crate::drafts::HISTORY);
        self.history.drain(..over);
        self.history_pos = None;
        self.drafts_dirty = true;
    }

    /// What a person calls a session: its title, else its name, else its id.
    pub fn called(&self, id: &str) -> String {
        match self.sessions.iter().find(|s| s.id == id) {
            Some(s) if !s.title.is_empty() => s.title.clone(),
            Some(s) if !s.name.is_empty() => s.name.clone(),
            _ => id.to_string(),
        }
    }

    pub fn transcript(&self) -> Option<&Transcript> {
        self.transcripts.get(self.selected.as_deref()?)
    }

    /// Pending approvals of one session.
    pub fn approvals_of(&self, session_id: &str) -> usize {
        self.approvals
            .values()
            .filter(|a| a.session_id == session_id)
            .count()
    }

    /// The approval to show next: the selected session's oldest, else the oldest of any.
    pub fn next_approval(&self) -> Option<&Approval> {
        let sel = self.selected.as_deref();
        self.approvals
            .values()
            .find(|a| Some(a.session_id.as_str()) == sel)
            .or_else(|| self.approvals.values().next())
    }

    /// The answer a session's running turn is writing, if its transcript is loaded.
    pub(crate) fn current_answer(&mut self, session_id: &str) -> Option<&mut Message> {
        let t = self.transcripts.get_mut(session_id)?;
        t.messages
            .iter_mut()
            .rev()
            .find(|m| m.role == agentmux_shared::types::Role::Assistant)
            .filter(|m| m.status == MessageStatus::Streaming)
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }

    pub(crate) fn upsert_session(&mut self, s: Session) {
        match self.sessions.iter_mut().find(|x| x.id == s.id) {
            Some(x) => *x = s,
            None => {
                let pos = self
                    .sessions
                    .partition_point(|x| (x.created_at_ms, &x.id) > (s.created_at_ms, &s.id));
                self.sessions.insert(pos, s);
            }
        }
    }

    pub(crate) fn upsert_terminal(&mut self, t: Terminal) {
        match self.terminals.iter_mut().find(|x| x.id == t.id) {
            Some(x) => *x = t,
            None => {
                let pos = self.terminals.partition_point(|x| x.id < t.id);
                self.terminals.insert(pos, t);
            }
        }
    }

    pub(crate) fn remove_terminal(&mut self, id: &str) {
        let Some(pos) = self.terminals.iter().position(|t| t.id == id) else {
            return;
        };
        self.terminals.remove(pos);
        if self.selected.as_deref() == Some(id) {
            // The next terminal, else the previous one, else the newest session.
            let next = self.terminals.get(pos).or_else(|| self.terminals.last());
            self.selected = next
                .map(|t| t.id.clone())
                .or_else(|| self.sessions.first().map(|s| s.id.clone()));
        }
    }

    pub(crate) fn remove_session(&mut self, id: &str) {
        let Some(pos) = self.sessions.iter().position(|s| s.id == id) else {
            return;
        };
        self.sessions.remove(pos);
        self.transcripts.remove(id);
        self.unread.remove(id);
        self.approvals.retain(|_, a| a.session_id != id);
        if self.selected.as_deref() == Some(id) {
            // Keep the cursor where it was: the next row moved up into this slot.
            let next = self.sessions.get(pos).or_else(|| self.sessions.last());
            self.selected = next.map(|s| s.id.clone());
            self.scroll = 0;
        }
    }
}

fn filter_words(filter: &str) -> Vec<String> {
    filter.split_whitespace().map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, index: u64, content: &str, status: MessageStatus) -> Message {
        Message {
            id: id.into(),
            index,
            content: content.into(),
            status,
            ..Message::default()
        }
    }

    #[test]
    fn upsert_keeps_order_and_prefers_progress() {
        let mut t = Transcript::default();
        t.upsert(msg("c", 2, "", MessageStatus::Complete));
        t.upsert(msg("a", 0, "", MessageStatus::Complete));
        t.upsert(msg("b", 1, "hello wor", MessageStatus::Streaming));
        let ids: Vec<_> = t.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // An older snapshot must not shorten streamed text.
        t.upsert(msg("b", 1, "hello", MessageStatus::Streaming));
        assert_eq!(t.get("b").map(|m| m.content.as_str()), Some("hello wor"));
        // A final version always wins.
        t.upsert(msg("b", 1, "hello world", MessageStatus::Complete));
        assert_eq!(t.get("b").map(|m| m.content.as_str()), Some("hello world"));
    }

    #[test]
    fn input_edits_on_char_boundaries() {
        let mut i = Input::with_text("héllo");
        i.left();
        i.left();
        i.left();
        i.left();
        i.backspace();
        assert_eq!(i.text, "éllo");
        i.right();
        i.insert_str("x");
        assert_eq!((i.text.as_str(), i.cursor), ("éxllo", 3));
    }
}
