//! Terminals in the TUI: the list mirrored from `terminal.*` events, and the one attachment
//! that follows the selection (attach when a terminal is selected, detach when not). The
//! worker runs the attachment; what it delivers comes back as `AppEvent::Term*`.

use super::{Action, App, term_keys};
use crate::client::AttachEvent;
use crate::state::Focus;
use crate::term_view::{Link, TermView};
use agentmux_shared::types::{Terminal, TerminalStatus};
use agentmux_shared::{Error, ErrorKind};
use crossterm::event::KeyEvent;

impl App {
    /// Makes the attachment match the selection. Runs after every update, so no code path
    /// that changes the selection can forget it.
    pub(super) fn sync_term(&mut self, out: &mut Vec<Action>) {
        let s = &mut self.state;
        let want = s.selected_terminal().map(|t| t.id.clone());
        let have = s.term.as_ref().map(|v| v.id.clone());
        if want.is_some() && s.focus == Focus::Composer {
            s.focus = Focus::Sessions;
        }
        if want == have {
            return;
        }
        if have.is_some() {
            s.term = None;
            out.push(Action::Detach);
            if s.focus == Focus::Terminal {
                s.focus = Focus::Sessions;
            }
        }
        if let Some(id) = want {
            self.attach_term(&id, out);
        }
    }

    /// (Re)attaches `id` with a new generation: at selection, after a reconnect, after a
    /// restart of its program, or to get a fresh snapshot.
    pub(super) fn attach_term(&mut self, id: &str, out: &mut Vec<Action>) {
        let s = &mut self.state;
        s.term_gen += 1;
        let generation = s.term_gen;
        match &mut s.term {
            Some(v) if v.id == id => {
                v.generation = generation;
                v.link = Link::Attaching;
            }
            _ => s.term = Some(TermView::new(id, generation, s.term_area, s.term_prefix)),
        }
        // Not connected: `on_connected` attaches whatever is selected then.
        if !s.is_connected() {
            return;
        }
        let (rows, cols) = s.term_area;
        out.push(Action::Attach {
            terminal_id: id.to_string(),
            rows,
            cols,
            generation,
        });
    }

    pub(super) fn on_term_event(
        &mut self,
        generation: u64,
        ev: AttachEvent,
        out: &mut Vec<Action>,
    ) {
        let Some(v) = self
            .state
            .term
            .as_mut()
            .filter(|v| v.generation == generation)
        else {
            return;
        };
        match ev {
            AttachEvent::Snapshot(snap) => v.snapshot(&snap),
            AttachEvent::Output(bytes) => {
                if v.output(&bytes) {
                    let id = v.id.clone();
                    self.attach_term(&id, out);
                }
            }
            AttachEvent::Exited(e) => {
                v.exit = Some(e);
                v.link = Link::Ended;
            }
        }
    }

    pub(super) fn on_term_ended(
        &mut self,
        generation: u64,
        error: Option<Error>,
        out: &mut Vec<Action>,
    ) {
        let Some(v) = self
            .state
            .term
            .as_mut()
            .filter(|v| v.generation == generation)
        else {
            return;
        };
        v.link = Link::Ended;
        match error {
            Some(e) if e.kind == ErrorKind::Unavailable => self.disconnected(e.message, out),
            Some(e) => v.error = Some(format!("{}: {}", e.kind.code(), e.message)),
            None if v.exit.is_none() => v.error = Some("the daemon ended the attachment".into()),
            None => {}
        }
    }

    pub(super) fn on_terminal_record(&mut self, t: &Terminal, out: &mut Vec<Action>) {
        self.state.upsert_terminal(t.clone());
        // Restarted while we looked at its final screen: follow the new program.
        let restarted = self
            .state
            .term
            .as_ref()
            .is_some_and(|v| v.id == t.id && v.link == Link::Ended && v.exit.is_some());
        if restarted && t.status == TerminalStatus::Running {
            self.attach_term(&t.id, out);
        }
    }

    pub(super) fn on_terminals(&mut self, mut list: Vec<Terminal>) {
        let s = &mut self.state;
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let gone: Vec<String> = s
            .terminals
            .iter()
            .filter(|t| !list.iter().any(|x| x.id == t.id))
            .map(|t| t.id.clone())
            .collect();
        for id in gone {
            s.remove_terminal(&id);
        }
        for t in list {
            s.upsert_terminal(t);
        }
    }

    /// The pane's size from the last draw: the program gets the size it is shown at.
    pub(super) fn on_term_area(&mut self, rows: u16, cols: u16, out: &mut Vec<Action>) {
        let s = &mut self.state;
        if rows == 0 || cols == 0 {
            return;
        }
        s.term_area = (rows, cols);
        let running = s
            .selected_terminal()
            .is_some_and(|t| t.status == TerminalStatus::Running);
        let Some(v) = s.term.as_mut() else { return };
        if v.size == (rows, cols) || v.link != Link::Attached || !running {
            return;
        }
        // Resized here too, so output drawn for the new size lands on a screen of that size.
        v.resize(rows, cols);
        out.push(Action::TermResize {
            generation: v.generation,
            rows,
            cols,
        });
    }

    pub(super) fn on_term_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        let s = &mut self.state;
        let Some(v) = s.term.as_mut() else {
            s.focus = Focus::Sessions;
            return;
        };
        // Nothing runs to take keys: any key goes back to the list.
        if v.link == Link::Ended {
            s.focus = Focus::Sessions;
            return;
        }
        let bytes = term_keys::encode(&k, v.screen().application_cursor());
        if bytes.is_empty() {
            return;
        }
        let f = v.prefix.feed(&bytes);
        if !f.forward.is_empty() && v.link == Link::Attached {
            out.push(Action::TermInput {
                generation: v.generation,
                data: f.forward,
            });
        }
        if f.detach {
            s.focus = Focus::Sessions;
        }
    }

    /// Pasted text goes to the program as typed, bracketed if it asked for that.
    pub(super) fn on_term_paste(&mut self, text: &str, out: &mut Vec<Action>) {
        let Some(v) = self
            .state
            .term
            .as_ref()
            .filter(|v| v.link == Link::Attached)
        else {
            return;
        };
        // Terminals send CR for Enter; pasted newlines are Enter presses to a shell.
        let body = text.replace("\r\n", "\r").replace('\n', "\r");
        let mut data = Vec::with_capacity(body.len() + 12);
        let bracketed = v.screen().bracketed_paste();
        if bracketed {
            data.extend_from_slice(b"\x1b[200~");
        }
        data.extend_from_slice(body.as_bytes());
        if bracketed {
            data.extend_from_slice(b"\x1b[201~");
        }
        out.push(Action::TermInput {
            generation: v.generation,
            data,
        });
    }
}
