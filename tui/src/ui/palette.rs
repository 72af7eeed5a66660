//! The command palette (Ctrl-P anywhere, `:` in the list): every action the keymap knows, with
//! its keys, narrowed by what you type; Enter runs the chosen one as if its key were pressed
//! where it works. Built from the same `KeyMap` that dispatches keys, so it cannot drift.

use super::layout::centered;
use super::text::truncate;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::keymap::{Binding, KeyMap, Scope};
use crate::state::{Focus, Input};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

#[derive(Debug, Default)]
pub struct PaletteView {
    pub input: Input,
    /// Index into the matching entries.
    pub index: usize,
}

/// Actions the palette offers: the ones a key in the list, the composer or anywhere runs.
fn entries(km: &KeyMap) -> Vec<(Scope, &Binding)> {
    km.entries()
        .into_iter()
        .filter(|(scope, b)| {
            matches!(scope, Scope::Global | Scope::Sessions | Scope::Composer)
                && !std::ptr::eq(*b, &km.palette)
        })
        .collect()
}

fn matching<'a>(km: &'a KeyMap, query: &str) -> Vec<(Scope, &'a Binding)> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    entries(km)
        .into_iter()
        .filter(|(_, b)| {
            let hay = format!("{} {}", b.help, b.label()).to_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .collect()
}

impl View for PaletteView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        let found = matching(cx.km, &self.input.text);
        let h = u16::try_from(found.len() + 3)
            .unwrap_or(u16::MAX)
            .min(area.height.saturating_sub(2))
            .max(4);
        let rect = centered(area, 70, h);
        let block = Block::bordered()
            .border_style(theme::dim())
            .title(Span::styled("Run (Enter) · Esc closes", theme::bold()));
        let inner = block.inner(rect);
        frame.render_widget(Clear, rect);
        frame.render_widget(block, rect);
        if inner.height == 0 {
            return;
        }
        let w = usize::from(inner.width);
        frame.render_widget(
            Paragraph::new(format!("> {}", self.input.text)),
            Rect { height: 1, ..inner },
        );
        let rows = usize::from(inner.height.saturating_sub(1));
        let first = self.index.saturating_sub(rows.saturating_sub(1));
        let key_w = found
            .iter()
            .map(|(_, b)| b.label().chars().count())
            .max()
            .unwrap_or(0)
            .min(22);
        let lines: Vec<Line> = found
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .map(|(i, (scope, b))| {
                let text = truncate(
                    &format!(
                        "{:<key_w$}  {} ({})",
                        truncate(&b.label(), key_w),
                        b.help,
                        scope.title()
                    ),
                    w,
                );
                let style = if i == self.index {
                    theme::selected(true)
                } else {
                    ratatui::style::Style::default()
                };
                Line::from(Span::styled(format!("{text:<w$}"), style))
            })
            .collect();
        let list = Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        };
        if lines.is_empty() {
            frame.render_widget(Paragraph::new(Span::styled("no match", theme::dim())), list);
        } else {
            frame.render_widget(Paragraph::new(lines), list);
        }
        let col = Span::raw(&self.input.text[..self.input.cursor]).width() + 2;
        frame.set_cursor_position(Position {
            x: inner.x + u16::try_from(col).unwrap_or(0).min(inner.width),
            y: inner.y,
        });
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let found = matching(cx.km, &self.input.text);
        match k.code {
            KeyCode::Esc => KeyOutcome::Close(Vec::new()),
            KeyCode::Up => {
                self.index = self.index.saturating_sub(1);
                KeyOutcome::done()
            }
            KeyCode::Down => {
                self.index = (self.index + 1).min(found.len().saturating_sub(1));
                KeyOutcome::done()
            }
            KeyCode::Enter => {
                let Some((scope, b)) = found.get(self.index) else {
                    return KeyOutcome::done();
                };
                let Some(key) = b.keys.first() else {
                    return KeyOutcome::Close(Vec::new());
                };
                let press = KeyEvent::new(key.code, key.mods | shift_of(key.code));
                let mut run = Vec::new();
                match scope {
                    Scope::Sessions => run.push(Intent::Focus(Focus::Sessions)),
                    Scope::Composer => run.push(Intent::Focus(Focus::Composer)),
                    _ => {}
                }
                run.push(Intent::Press(press));
                KeyOutcome::Close(run)
            }
            _ => {
                edit(&mut self.input, k);
                self.index = 0;
                KeyOutcome::done()
            }
        }
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        paste_line(&mut self.input, text);
        self.index = 0;
        KeyOutcome::done()
    }
}

/// Upper-case letters arrive with SHIFT from most terminals; a replayed key looks the same.
fn shift_of(code: KeyCode) -> KeyModifiers {
    match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    }
}
