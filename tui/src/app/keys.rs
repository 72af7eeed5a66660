//! Keys and pastes: the view stack turns them into `Intent`s (the top view first), and this
//! is where those intents change `State` and become actions.

use super::{Action, App};
use crate::ui::view::{Ctx, Intent, edit};
use crossterm::event::{KeyEvent, KeyEventKind};

impl App {
    pub(super) fn on_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        self.state.notice = None;
        if !self.keymap.quit_anywhere.matches(&k) {
            self.state.quit_armed = false;
        }
        let intents = self
            .views
            .handle_key(k, &Ctx::new(&self.state, &self.keymap));
        for i in intents {
            self.run_intent(i, out);
        }
    }

    pub(super) fn on_paste(&mut self, text: &str, out: &mut Vec<Action>) {
        let intents = self
            .views
            .handle_paste(text, &Ctx::new(&self.state, &self.keymap));
        for i in intents {
            self.run_intent(i, out);
        }
    }

    fn run_intent(&mut self, i: Intent, out: &mut Vec<Action>) {
        let s = &mut self.state;
        match i {
            Intent::Call(Action::GitDiff { session, path }) if !path.is_empty() => {
                self.load_file(&session, &path, out)
            }
            Intent::Call(a) => out.push(a),
            Intent::Open(v) => self.views.push(v),
            Intent::Quit => s.quit = true,
            Intent::Press(k) => self.on_key(k, out),
            Intent::Interrupt => {
                if !s.composer.text.is_empty() {
                    s.composer.take();
                    s.drafts_dirty = true;
                    s.quit_armed = false;
                    s.notice = Some("draft cleared".into());
                } else if s.quit_armed {
                    s.quit = true;
                } else {
                    s.quit_armed = true;
                    s.notice = Some("press Ctrl-C again to quit".into());
                }
            }
            Intent::ToggleExpand => {
                s.expanded = !s.expanded;
                s.notice = Some(if s.expanded {
                    "tool output and diffs shown in full (Ctrl-O hides)".into()
                } else {
                    "tool output and diffs collapsed".into()
                });
            }
            Intent::Focus(f) => s.focus = f,
            Intent::Select(delta) => self.select(delta, out),
            Intent::PageUp => {
                let page = usize::from(s.view_rows.saturating_sub(1).max(1));
                let max = s.max_scroll.unwrap_or(usize::MAX);
                if s.scroll >= max {
                    self.load_older(out);
                }
                self.state.scroll = (self.state.scroll + page).min(max);
            }
            Intent::PageDown => {
                let page = usize::from(s.view_rows.saturating_sub(1).max(1));
                s.scroll = s.scroll.saturating_sub(page);
            }
            Intent::ScrollTop => match s.max_scroll {
                Some(max) if max != usize::MAX && s.scroll >= max => self.load_older(out),
                Some(max) if max != usize::MAX => s.scroll = max,
                // The top of what is loaded is not measured yet: walk up a screenful at a time.
                _ => {
                    let page = usize::from(s.view_rows.saturating_sub(1).max(1));
                    s.scroll = s.scroll.saturating_add(page * 50);
                }
            },
            Intent::ScrollBottom => s.scroll = 0,
            Intent::Search { query, step } => self.search(query, step),
            Intent::Sort => {
                s.sort = s.sort.next();
                s.notice = Some(format!("sessions {}", s.sort.as_str()));
            }
            Intent::Filter { text, typing } => {
                s.filter = text;
                s.filtering = typing;
                // The selection follows the filter: the first match when it was filtered out.
                let visible = s
                    .selected
                    .as_deref()
                    .is_some_and(|id| s.item_ids().any(|x| x == id));
                if !visible {
                    self.select(isize::MIN, out);
                }
            }
            Intent::OpenApprovals => self.open_approvals(out),
            Intent::Review(id) => {
                let open = self
                    .views
                    .top_as::<crate::ui::review::ReviewView>()
                    .is_some_and(|v| v.session == id);
                if !open {
                    self.views
                        .push(Box::new(crate::ui::review::ReviewView::new(&id)));
                }
                self.start_review(&id, out);
            }
            Intent::EndReview(id) => self.end_review(&id),
            Intent::Edit(k) => {
                edit(&mut s.composer, k);
                s.drafts_dirty = true;
            }
            Intent::Insert(text) => {
                s.composer.insert_str(&text);
                s.drafts_dirty = true;
            }
            Intent::Recall(delta) => s.recall(delta),
            Intent::Send => self.send(out),
            Intent::OpenEditor => s.edit_request = Some(s.composer.text.clone()),
            Intent::TermKey(k) => self.on_term_key(k, out),
            Intent::TermPaste(text) => self.on_term_paste(&text, out),
        }
    }

    fn send(&mut self, out: &mut Vec<Action>) {
        let s = &mut self.state;
        if s.composer.text.trim().is_empty() {
            return;
        }
        let Some(id) = s.selected.clone() else {
            s.notice = Some("no session: press Esc then n to create one".into());
            return;
        };
        let content = s.composer.take();
        s.remember(&content);
        s.scroll = 0;
        out.push(Action::Send {
            session_id: id,
            content,
        });
    }

    /// Moves through sessions, then terminals, as the list shows them.
    fn select(&mut self, delta: isize, out: &mut Vec<Action>) {
        let s = &mut self.state;
        let ids: Vec<&str> = s.item_ids().collect();
        if ids.is_empty() {
            return;
        }
        let cur = s
            .selected
            .as_deref()
            .and_then(|sel| ids.iter().position(|id| *id == sel));
        let next = match (delta, cur) {
            (isize::MIN, _) => 0,
            (isize::MAX, _) => ids.len() - 1,
            // Nothing selected yet (or filtered out): either direction lands on the first item.
            (_, None) => 0,
            (d, Some(c)) => c.saturating_add_signed(d).min(ids.len() - 1),
        };
        let id = ids[next].to_string();
        if s.selected.as_deref() != Some(&id) {
            s.scroll = 0;
            s.max_scroll = None;
        }
        s.unread.remove(&id);
        s.selected = Some(id.clone());
        self.ensure_history(&id, out);
    }
}

impl App {
    /// Finds `query` (case-insensitive) in the selected transcript's loaded messages and has
    /// the view jump to the match `step` away (0: the newest).
    fn search(&mut self, query: String, step: isize) {
        let s = &mut self.state;
        let needle = query.to_lowercase();
        let hits: Vec<String> = match (s.transcript(), needle.is_empty()) {
            (Some(t), false) => t
                .messages
                .iter()
                .rev()
                .filter(|m| {
                    m.content.to_lowercase().contains(&needle)
                        || m.tools
                            .iter()
                            .any(|t| t.output.to_lowercase().contains(&needle))
                })
                .map(|m| m.id.clone())
                .collect(),
            _ => Vec::new(),
        };
        let prev = s.search.take().filter(|p| p.query == query);
        let at = match (prev, step) {
            (Some(p), d) if !hits.is_empty() => p.at.saturating_add_signed(d).min(hits.len() - 1),
            _ => 0,
        };
        s.jump_to = hits.get(at).cloned();
        s.search = Some(crate::state::Search { query, hits, at });
    }
}
