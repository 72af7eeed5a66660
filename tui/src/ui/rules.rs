//! A session's "allow always" rules (`R` in the list): the tools it no longer asks about, each
//! revocable with `d`, after which that tool asks again.

use super::layout::centered;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::action::Action;
use crate::keymap::Hint;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

#[derive(Debug)]
pub struct RulesView {
    pub session: String,
    pub index: usize,
}

impl View for RulesView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        let Some(s) = cx.state.sessions.iter().find(|s| s.id == self.session) else {
            return;
        };
        let mut lines: Vec<Line> = s
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let style = if i == self.index {
                    theme::selected(true)
                } else {
                    ratatui::style::Style::default()
                };
                Line::from(Span::styled(format!(" {:<30}", r.tool), style))
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(
                " none: every tool request asks (A in an approval adds one)",
                theme::dim(),
            )));
        }
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            " d revoke (the tool asks again)  ↑↓ choose  Esc close",
            theme::dim(),
        )));
        let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
        let rect = centered(area, 64, h);
        let block = Block::bordered()
            .border_style(theme::dim())
            .title(Span::styled(
                format!("Always allowed in {}", s.name),
                theme::bold(),
            ));
        frame.render_widget(Clear, rect);
        frame.render_widget(Paragraph::new(lines).block(block), rect);
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let rules = cx
            .state
            .sessions
            .iter()
            .find(|s| s.id == self.session)
            .map(|s| s.rules.clone())
            .unwrap_or_default();
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => KeyOutcome::Close(Vec::new()),
            KeyCode::Down | KeyCode::Char('j') => {
                self.index = (self.index + 1).min(rules.len().saturating_sub(1));
                KeyOutcome::done()
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.index = self.index.saturating_sub(1);
                KeyOutcome::done()
            }
            KeyCode::Char('d') | KeyCode::Delete => match rules.get(self.index) {
                Some(r) => {
                    let call = Intent::Call(Action::RevokeRule {
                        session: self.session.clone(),
                        tool: r.tool.clone(),
                    });
                    self.index = self.index.saturating_sub(1);
                    KeyOutcome::intent(call)
                }
                None => KeyOutcome::done(),
            },
            _ => KeyOutcome::done(),
        }
    }

    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        vec![
            Hint {
                key: "d".into(),
                help: "revoke",
            },
            Hint {
                key: "Esc".into(),
                help: "close",
            },
        ]
    }
}
