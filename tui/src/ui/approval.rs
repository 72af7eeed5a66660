//! The approval modal: which session and tool, what it wants to do (summary, input, diff), and
//! the keys that decide it, or the prompt for a denial's message.

use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use super::{layout, theme};
use crate::action::Action;
use crate::keymap::Scope;
use crate::state::{Input, State};
use agentmux_shared::types::{Approval, Decision};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// Input JSON lines shown before the rest is elided (the diff matters more).
const MAX_INPUT_LINES: usize = 12;

/// One pending approval, decided by its keys (`KeyMap::hints(Scope::Approval)`, listed in its
/// footer rather than the status bar).
#[derive(Debug)]
pub struct ApprovalView {
    pub id: String,
    /// Typing the reason for a denial (Enter sends it).
    pub deny: Option<Input>,
    /// Body lines scrolled past.
    pub scroll: u16,
}

impl ApprovalView {
    pub fn new(id: &str) -> ApprovalView {
        ApprovalView {
            id: id.to_string(),
            deny: None,
            scroll: 0,
        }
    }

    fn decide(&self, d: Decision, message: String) -> KeyOutcome {
        KeyOutcome::Close(vec![Intent::Call(Action::Decide {
            id: self.id.clone(),
            decision: d,
            message,
        })])
    }
}

impl View for ApprovalView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        if let Some(a) = cx.state.approvals.get(&self.id) {
            draw(self, a, cx, area, frame);
        }
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let km = cx.km;
        if let Some(input) = &mut self.deny {
            match k.code {
                KeyCode::Enter => {
                    let message = input.text.trim().to_string();
                    return self.decide(Decision::Deny, message);
                }
                // Back to the approval, undecided.
                KeyCode::Esc => self.deny = None,
                _ => edit(input, k),
            }
            return KeyOutcome::done();
        }
        if km.allow_once.matches(&k) {
            return self.decide(Decision::AllowOnce, String::new());
        } else if km.allow_always.matches(&k) {
            return self.decide(Decision::AllowAlways, String::new());
        } else if km.deny.matches(&k) {
            self.deny = Some(Input::default());
        } else if km.close_approval.matches(&k) {
            return KeyOutcome::Close(Vec::new());
        } else {
            self.scroll = match k.code {
                KeyCode::Down | KeyCode::Char('j') => self.scroll.saturating_add(1),
                KeyCode::Up | KeyCode::Char('k') => self.scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => self.scroll.saturating_add(10),
                KeyCode::PageUp => self.scroll.saturating_sub(10),
                KeyCode::Home => 0,
                _ => self.scroll,
            };
        }
        KeyOutcome::done()
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        if let Some(input) = &mut self.deny {
            paste_line(input, text);
        }
        KeyOutcome::done()
    }
}

fn draw(v: &ApprovalView, a: &Approval, cx: &Ctx, area: Rect, frame: &mut Frame) {
    let (state, km, deny, scroll) = (cx.state, cx.km, v.deny.as_ref(), v.scroll);
    let rect = layout::centered(
        area,
        area.width.saturating_sub(4).clamp(20, 100),
        area.height.saturating_sub(2),
    );
    let waiting = state.approvals_of(&a.session_id);
    let mut title = vec![Span::styled(
        format!(" Approval · {} ", a.tool),
        theme::attention(),
    )];
    if waiting > 1 {
        title.push(Span::styled(format!("(1 of {waiting}) "), theme::dim()));
    }
    let block = Block::bordered()
        .border_style(theme::attention())
        .title(Line::from(title));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    if inner.width < 4 {
        return;
    }
    let mut hints = Vec::new();
    let always = km.allow_always.keys.first().map(|k| k.label());
    for h in km.hints(Scope::Approval) {
        // "Always" names its scope: this tool, this session, until revoked.
        let help = if Some(&h.key) == always.as_ref() {
            format!("always allow {} in this session", a.tool)
        } else {
            h.help.to_string()
        };
        hints.push(Span::styled(h.key, theme::bold()));
        hints.push(Span::styled(format!(" {help}  "), theme::dim()));
    }
    hints.push(Span::styled("↑↓ scroll", theme::dim()));
    let hints = Line::from(hints);
    // Narrow screens get the hints on more rows rather than cut off (one spare row for
    // where word wrapping breaks early).
    let rows = hints.width().div_ceil(usize::from(inner.width));
    let footer_h: u16 = match (deny, rows) {
        (Some(_), _) | (None, 0 | 1) => 1,
        (None, r) => u16::try_from(r + 1).unwrap_or(3).min(3),
    };
    if inner.height <= footer_h {
        return;
    }
    let body_area = Rect {
        height: inner.height - footer_h,
        ..inner
    };
    let footer = Rect {
        y: inner.y + inner.height - footer_h,
        height: footer_h,
        ..inner
    };
    frame.render_widget(
        Paragraph::new(body(a, state))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        body_area,
    );
    match deny {
        None => frame.render_widget(Paragraph::new(hints).wrap(Wrap { trim: true }), footer),
        Some(input) => {
            let label = "Deny, telling the agent: ";
            let room = usize::from(footer.width).saturating_sub(label.len() + 1);
            let before = Span::raw(&input.text[..input.cursor]).width();
            // Show the tail when the message is wider than the line.
            let skip = before.saturating_sub(room);
            let shown: String = input.text.chars().skip(skip).collect();
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(label, theme::failed()),
                    Span::raw(shown),
                ])),
                footer,
            );
            let x = footer.x + u16::try_from(label.len() + before - skip).unwrap_or(0);
            frame.set_cursor_position(Position {
                x: x.min(footer.x + footer.width.saturating_sub(1)),
                y: footer.y,
            });
        }
    }
}

fn body(a: &Approval, state: &State) -> Vec<Line<'static>> {
    let session = state
        .sessions
        .iter()
        .find(|s| s.id == a.session_id)
        .map(theme::title_of)
        .unwrap_or_else(|| a.session_id.clone());
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Session ", theme::dim()),
            Span::raw(session),
            Span::styled(format!("  {}", a.id), theme::dim()),
        ]),
        Line::from(Span::styled(a.summary.clone(), theme::bold())),
    ];
    let input = pretty(&a.input_json);
    if !input.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("Input", theme::dim())));
        let all: Vec<&str> = input.lines().collect();
        for l in all.iter().take(MAX_INPUT_LINES) {
            lines.push(Line::from(format!("  {l}")));
        }
        if all.len() > MAX_INPUT_LINES {
            lines.push(Line::from(Span::styled(
                format!("  … {} more lines", all.len() - MAX_INPUT_LINES),
                theme::dim(),
            )));
        }
    }
    if !a.diff.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("Diff", theme::dim())));
        for l in a.diff.lines() {
            let style = if l.starts_with("+++") || l.starts_with("---") {
                theme::bold()
            } else if l.starts_with('+') {
                theme::diff_add()
            } else if l.starts_with('-') {
                theme::diff_del()
            } else if l.starts_with("@@") {
                theme::diff_hunk()
            } else {
                ratatui::style::Style::default()
            };
            lines.push(Line::from(Span::styled(l.to_string(), style)));
        }
    }
    lines
}

/// The tool input as indented JSON (as sent when it is not JSON); diffs already show the
/// content of an edit, so long string values are clipped.
fn pretty(input: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(input) {
        Ok(serde_json::Value::Object(m)) if m.is_empty() => String::new(),
        Ok(mut v) => {
            clip_strings(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| input.to_string())
        }
        Err(_) => input.to_string(),
    }
}

/// Clips long strings and sorts keys: whether serde_json keeps insertion order depends on
/// features other crates turn on, and the modal must read the same either way.
fn clip_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.chars().count() > 200 => {
            let head: String = s.chars().take(200).collect();
            *s = format!("{head}… ({} chars)", s.chars().count());
        }
        serde_json::Value::Array(xs) => xs.iter_mut().for_each(clip_strings),
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                clip_strings(&mut x);
                m.insert(k, x);
            }
        }
        _ => {}
    }
}
