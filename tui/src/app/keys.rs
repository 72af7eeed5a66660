//! Key and paste handling: turns input into state changes and actions, dispatching
//! through the `KeyMap` so behaviour and the help overlay agree.

use super::{Action, App};
use crate::state::{Focus, Input, Modal, POLICIES};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

impl App {
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
        // Nothing selected yet: either direction lands on the first item.
        let next = cur.map_or(0, |c| c.saturating_add_signed(delta).min(ids.len() - 1));
        let id = ids[next].to_string();
        if s.selected.as_deref() != Some(&id) {
            s.scroll = 0;
            s.max_scroll = None;
        }
        s.unread.remove(&id);
        s.selected = Some(id.clone());
        self.ensure_history(&id, out);
    }

    pub(super) fn on_paste(&mut self, text: &str, out: &mut Vec<Action>) {
        if self.state.modal.is_none() && self.state.focus == Focus::Terminal {
            self.on_term_paste(text, out);
            return;
        }
        // The composer is not shown next to a terminal.
        if self.state.modal.is_none() && self.state.selected_terminal().is_some() {
            return;
        }
        // Terminals send CR for newlines inside bracketed paste.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        match &mut self.state.modal {
            Some(Modal::Rename { input, .. })
            | Some(Modal::Approval {
                deny: Some(input), ..
            }) => input.insert_str(text.lines().next().unwrap_or("")),
            Some(_) => {}
            None => {
                self.state.focus = Focus::Composer;
                self.state.composer.insert_str(&text);
            }
        }
    }

    pub(super) fn on_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        self.state.notice = None;
        let km = &self.keymap;
        if self.state.modal.is_some() {
            self.on_modal_key(k, out);
            return;
        }
        // Every key belongs to the program (Ctrl-C, Tab, Esc included) except the prefix.
        if self.state.focus == Focus::Terminal {
            self.on_term_key(k, out);
            return;
        }
        if km.quit_anywhere.matches(&k) {
            self.state.quit = true;
        } else if km.switch_focus.matches(&k) {
            let beside = if self.state.selected_terminal().is_some() {
                Focus::Terminal
            } else {
                Focus::Composer
            };
            self.state.focus = match self.state.focus {
                Focus::Sessions => beside,
                Focus::Composer | Focus::Terminal => Focus::Sessions,
            };
        } else if km.page_up.matches(&k) {
            let page = usize::from(self.state.view_rows.saturating_sub(1).max(1));
            let max = self.state.max_scroll.unwrap_or(usize::MAX);
            if self.state.scroll >= max {
                self.load_older(out);
            }
            self.state.scroll = (self.state.scroll + page).min(max);
        } else if km.page_down.matches(&k) {
            let page = usize::from(self.state.view_rows.saturating_sub(1).max(1));
            self.state.scroll = self.state.scroll.saturating_sub(page);
        } else {
            match self.state.focus {
                Focus::Sessions => self.on_list_key(k, out),
                Focus::Composer => self.on_composer_key(k, out),
                Focus::Terminal => self.on_term_key(k, out),
            }
        }
    }

    fn on_list_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        let km = &self.keymap;
        let selected = self.state.selected_session().cloned();
        if km.quit.matches(&k) {
            self.state.quit = true;
        } else if km.help.matches(&k) {
            self.state.modal = Some(Modal::Help);
        } else if km.up.matches(&k) {
            self.select(-1, out);
        } else if km.down.matches(&k) {
            self.select(1, out);
        } else if km.new_session.matches(&k) {
            out.push(Action::ListProviders);
        } else if km.approvals.matches(&k) {
            self.open_approvals(out);
        } else if km.compose.matches(&k) {
            self.state.focus = if self.state.selected_terminal().is_some() {
                Focus::Terminal
            } else {
                Focus::Composer
            };
        } else if let Some(s) = selected {
            if km.rename.matches(&k) {
                self.state.modal = Some(Modal::Rename {
                    id: s.id.clone(),
                    input: Input::with_text(&s.title),
                });
            } else if km.delete.matches(&k) {
                self.state.modal = Some(Modal::ConfirmDelete {
                    id: s.id.clone(),
                    title: s.title.clone(),
                });
            } else if km.cancel.matches(&k) {
                out.push(Action::Cancel {
                    id: s.id,
                    hard: false,
                });
            } else if km.cancel_hard.matches(&k) {
                out.push(Action::Cancel {
                    id: s.id,
                    hard: true,
                });
            }
        }
    }

    fn on_composer_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        let km = &self.keymap;
        let c = &mut self.state.composer;
        if km.leave_composer.matches(&k) {
            self.state.focus = Focus::Sessions;
        } else if km.newline.matches(&k) {
            c.insert_str("\n");
        } else if km.send.matches(&k) {
            if c.text.trim().is_empty() {
                return;
            }
            let Some(id) = self.state.selected.clone() else {
                self.state.notice = Some("no session: press Esc then n to create one".into());
                return;
            };
            let content = c.take();
            self.state.scroll = 0;
            out.push(Action::Send {
                session_id: id,
                content,
            });
        } else {
            edit(c, k);
        }
    }

    fn on_modal_key(&mut self, k: KeyEvent, out: &mut Vec<Action>) {
        let Some(modal) = self.state.modal.take() else {
            return;
        };
        match modal {
            // Any key closes help; it is a transient overlay.
            Modal::Help => {}
            Modal::Rename { id, mut input } => match k.code {
                KeyCode::Esc => {}
                KeyCode::Enter => out.push(Action::Rename {
                    id,
                    title: input.text.trim().to_string(),
                }),
                _ => {
                    edit(&mut input, k);
                    self.state.modal = Some(Modal::Rename { id, input });
                }
            },
            Modal::ConfirmDelete { id, title } => match k.code {
                KeyCode::Char('y') | KeyCode::Enter => out.push(Action::Delete { id }),
                KeyCode::Char('n') | KeyCode::Esc => {}
                _ => self.state.modal = Some(Modal::ConfirmDelete { id, title }),
            },
            Modal::Approval { id, deny, scroll } => self.on_approval_key(id, deny, scroll, k, out),
            Modal::NewSession {
                providers,
                mut index,
                mut policy,
            } => {
                let n = providers.len();
                match k.code {
                    KeyCode::Esc => return,
                    KeyCode::Enter => {
                        if let Some(p) = providers.get(index) {
                            out.push(Action::CreateSession {
                                provider: p.id.clone(),
                                approval_policy: POLICIES[policy % POLICIES.len()].into(),
                            });
                        }
                        return;
                    }
                    KeyCode::Down | KeyCode::Char('j') if n > 0 => index = (index + 1) % n,
                    KeyCode::Up | KeyCode::Char('k') if n > 0 => index = (index + n - 1) % n,
                    KeyCode::Tab | KeyCode::Char('p') => policy = (policy + 1) % POLICIES.len(),
                    _ => {}
                }
                self.state.modal = Some(Modal::NewSession {
                    providers,
                    index,
                    policy,
                });
            }
        }
    }
}

/// Line-editing keys shared by the composer and inline prompts.
pub(super) fn edit(input: &mut Input, k: KeyEvent) {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Char('u') if ctrl => {
            input.take();
        }
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char(c) if !ctrl => input.insert_str(c.encode_utf8(&mut [0; 4])),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        _ => {}
    }
}
