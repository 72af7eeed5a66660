//! Pending approvals: the modal that shows one (tool, input, diff) and decides it, and keeping
//! the pending set current from events.

use super::{Action, App};
use crate::state::{Focus, Input, Modal};
use agentmux_shared::types::{Approval, Decision};
use crossterm::event::{KeyCode, KeyEvent};

impl App {
    /// A new approval is waiting: shown at once when the user is looking at its session in the
    /// list; otherwise only announced, so keys typed into the composer or a terminal never
    /// land in the modal (a stray `y` must not allow anything).
    pub(super) fn offer_approval(&mut self, id: &str) {
        let s = &mut self.state;
        let Some(a) = s.approvals.get(id) else {
            return;
        };
        let looking = s.focus == Focus::Sessions && s.selected.as_deref() == Some(&a.session_id);
        if s.modal.is_none() && looking {
            s.modal = Some(Modal::Approval {
                id: id.to_string(),
                deny: None,
                scroll: 0,
            });
            return;
        }
        if !matches!(s.modal, Some(Modal::Approval { .. })) {
            let key = self.keymap.approvals.label();
            s.notice = Some(format!(
                "approval needed: {} (press {key} in the list)",
                crate::ui::text::truncate(&a.summary, 40)
            ));
        }
    }

    /// An approval ended (here or elsewhere): off the pending set, its modal closed, and the
    /// same session's next one shown.
    pub(super) fn approval_resolved(&mut self, a: &Approval) {
        let s = &mut self.state;
        s.approvals.remove(&a.id);
        if matches!(&s.modal, Some(Modal::Approval { id, .. }) if *id == a.id) {
            s.modal = None;
            s.notice = Some(format!("{} {} ({})", a.id, a.status.as_str(), a.reason));
            let next = s
                .approvals
                .values()
                .find(|x| x.session_id == a.session_id)
                .map(|x| x.id.clone());
            if let Some(next) = next {
                s.modal = Some(Modal::Approval {
                    id: next,
                    deny: None,
                    scroll: 0,
                });
            }
        }
    }

    /// `a` in the list: the selected session's oldest pending approval, else any.
    pub(super) fn open_approvals(&mut self, out: &mut Vec<Action>) {
        let Some(a) = self.state.next_approval().cloned() else {
            self.state.notice = Some("no pending approvals".into());
            return;
        };
        if self.state.selected.as_deref() != Some(&a.session_id) {
            self.state.selected = Some(a.session_id.clone());
            self.state.scroll = 0;
            self.ensure_history(&a.session_id, out);
        }
        self.state.modal = Some(Modal::Approval {
            id: a.id,
            deny: None,
            scroll: 0,
        });
    }

    pub(super) fn on_approval_key(
        &mut self,
        id: String,
        deny: Option<Input>,
        scroll: u16,
        k: KeyEvent,
        out: &mut Vec<Action>,
    ) {
        let km = &self.keymap;
        if let Some(mut input) = deny {
            match k.code {
                KeyCode::Enter => out.push(Action::Decide {
                    id,
                    decision: Decision::Deny.as_str().into(),
                    message: input.text.trim().to_string(),
                }),
                // Back to the approval, undecided.
                KeyCode::Esc => {
                    self.state.modal = Some(Modal::Approval {
                        id,
                        deny: None,
                        scroll,
                    })
                }
                _ => {
                    super::keys::edit(&mut input, k);
                    self.state.modal = Some(Modal::Approval {
                        id,
                        deny: Some(input),
                        scroll,
                    });
                }
            }
            return;
        }
        let decide = |d: Decision| Action::Decide {
            id: id.clone(),
            decision: d.as_str().into(),
            message: String::new(),
        };
        if km.allow_once.matches(&k) {
            out.push(decide(Decision::AllowOnce));
        } else if km.allow_always.matches(&k) {
            out.push(decide(Decision::AllowAlways));
        } else if km.deny.matches(&k) {
            self.state.modal = Some(Modal::Approval {
                id,
                deny: Some(Input::default()),
                scroll,
            });
        } else if km.close_approval.matches(&k) {
        } else {
            let scroll = match k.code {
                KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
                KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(10),
                KeyCode::PageUp => scroll.saturating_sub(10),
                KeyCode::Home => 0,
                _ => scroll,
            };
            self.state.modal = Some(Modal::Approval {
                id,
                deny: None,
                scroll,
            });
        }
    }
}
