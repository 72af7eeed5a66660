//! The session list pane and its keys: two rows per session (title with an approval or
//! unread marker; provider and status, or the approvals waiting), then a "Terminals" group
//! with two rows per terminal (name; running or exited with code).

use super::filter::FilterView;
use super::help::HelpView;
use super::overlay::{ConfirmDeleteView, RenameView};
use super::text::truncate;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::action::Action;
use crate::keymap::{Hint, Scope};
use crate::state::{Focus, State};
use agentmux_shared::types::{Session, Terminal, TerminalStatus};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

/// The list pane; its keys pick, create, rename, delete and cancel sessions.
#[derive(Debug, Default)]
pub struct SessionsPane;

impl View for SessionsPane {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        let focused = cx.top && cx.state.focus == Focus::Sessions;
        render(cx.state, focused, area, frame.buffer_mut());
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let (state, km) = (cx.state, cx.km);
        let intent = if km.quit.matches(&k) {
            Intent::Quit
        } else if km.help.matches(&k) {
            Intent::Open(Box::new(HelpView::default()))
        } else if km.up.matches(&k) {
            Intent::Select(-1)
        } else if km.down.matches(&k) {
            Intent::Select(1)
        } else if km.first.matches(&k) {
            Intent::Select(isize::MIN)
        } else if km.last.matches(&k) {
            Intent::Select(isize::MAX)
        } else if km.sort.matches(&k) {
            Intent::Sort
        } else if km.filter.matches(&k) {
            return KeyOutcome::Consumed(vec![
                Intent::Filter {
                    text: state.filter.clone(),
                    typing: true,
                },
                Intent::Open(Box::new(FilterView::new(&state.filter))),
            ]);
        } else if km.new_session.matches(&k) {
            Intent::Call(Action::ListProviders)
        } else if km.approvals.matches(&k) {
            Intent::OpenApprovals
        } else if km.compose.matches(&k) {
            Intent::Focus(if state.selected_terminal().is_some() {
                Focus::Terminal
            } else {
                Focus::Composer
            })
        } else if let Some(s) = state.selected_session() {
            if km.rename.matches(&k) {
                Intent::Open(Box::new(RenameView::new(&s.id, &s.title)))
            } else if km.review.matches(&k) {
                Intent::Review(s.id.clone())
            } else if km.rules.matches(&k) {
                Intent::Open(Box::new(super::rules::RulesView {
                    session: s.id.clone(),
                    index: 0,
                }))
            } else if km.delete.matches(&k) {
                Intent::Open(Box::new(ConfirmDeleteView {
                    id: s.id.clone(),
                    title: s.title.clone(),
                }))
            } else if km.cancel.matches(&k) {
                Intent::Call(Action::Cancel {
                    id: s.id.clone(),
                    hard: false,
                })
            } else if km.cancel_hard.matches(&k) {
                Intent::Call(Action::Cancel {
                    id: s.id.clone(),
                    hard: true,
                })
            } else {
                return KeyOutcome::Pass;
            }
        } else {
            return KeyOutcome::Pass;
        };
        KeyOutcome::intent(intent)
    }

    fn hints(&self, cx: &Ctx) -> Vec<Hint> {
        cx.km.hints(Scope::Sessions)
    }
}

fn render(state: &State, focused: bool, area: Rect, buf: &mut Buffer) {
    let title_style = if focused { theme::bold() } else { theme::dim() };
    let block = Block::new()
        .borders(Borders::RIGHT)
        .border_style(theme::dim())
        .title(Span::styled(
            match state.sort {
                crate::state::SortBy::Recent => "Sessions".to_string(),
                other => format!("Sessions {}", other.as_str()),
            },
            title_style,
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    // The filter (`/`) takes the top row while set or being typed.
    let inner = if state.filter.is_empty() && !state.filtering {
        inner
    } else {
        let text = format!("/{}", state.filter);
        buf.set_line(
            inner.x,
            inner.y,
            &Line::from(Span::styled(
                truncate(&text, usize::from(inner.width)),
                theme::attention(),
            )),
            inner.width,
        );
        Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        }
    };
    let sessions: Vec<&Session> = state.visible_sessions().collect();
    let terminals: Vec<&Terminal> = state.visible_terminals().collect();
    let rows = Rows::of(sessions.len(), terminals.len());
    let height = usize::from(inner.height);
    let selected = state
        .selected
        .as_deref()
        .and_then(|id| rows.row_of(&sessions, &terminals, id));
    // Keep the selection (both of its rows) on screen; the list is short enough to not need
    // smoother paging.
    let first = selected.map_or(0, |r| (r + 2).saturating_sub(height));
    let width = usize::from(inner.width);
    for row in first..(first + height).min(rows.total) {
        let y = inner.y + u16::try_from(row - first).unwrap_or(0);
        let line = match rows.item_at(row) {
            Item::Session(i, half) => sessions
                .get(i)
                .map(|s| session_line(state, s, half, focused, width)),
            Item::NoSessions => Some(Line::from(Span::styled(
                if state.filter.is_empty() {
                    " (none)"
                } else {
                    " (no match)"
                },
                Style::default().fg(ratatui::style::Color::DarkGray),
            ))),
            Item::TermHeader => Some(Line::from(Span::styled("Terminals", theme::dim()))),
            Item::Terminal(i, half) => terminals
                .get(i)
                .map(|t| terminal_line(state, t, half, focused, width)),
        };
        if let Some(line) = line {
            buf.set_line(inner.x, y, &line, inner.width);
        }
    }
}

/// The list's rows: two per session (or one "(none)"), then a "Terminals" header and two
/// rows per terminal when there are any. Positions are computed, never built row by row, so
/// drawing costs the visible rows only.
struct Rows {
    session_rows: usize,
    total: usize,
}

enum Item {
    /// Index and which of its two rows.
    Session(usize, bool),
    NoSessions,
    TermHeader,
    Terminal(usize, bool),
}

impl Rows {
    fn of(sessions: usize, terminals: usize) -> Rows {
        let session_rows = (sessions * 2).max(1);
        let term_rows = if terminals == 0 { 0 } else { 1 + terminals * 2 };
        Rows {
            session_rows,
            total: session_rows + term_rows,
        }
    }

    fn item_at(&self, row: usize) -> Item {
        if row < self.session_rows {
            if self.session_rows == 1 && row == 0 {
                // One row for sessions means there are none (a session takes two).
                return Item::NoSessions;
            }
            return Item::Session(row / 2, row % 2 == 1);
        }
        match row - self.session_rows {
            0 => Item::TermHeader,
            r => Item::Terminal((r - 1) / 2, (r - 1) % 2 == 1),
        }
    }

    /// The first row of the item with this id.
    fn row_of(&self, sessions: &[&Session], terminals: &[&Terminal], id: &str) -> Option<usize> {
        if let Some(i) = sessions.iter().position(|s| s.id == id) {
            return Some(i * 2);
        }
        let i = terminals.iter().position(|t| t.id == id)?;
        Some(self.session_rows + 1 + i * 2)
    }
}

/// Row one: unread marker and title; row two: provider and status.
fn session_line(
    state: &State,
    s: &Session,
    second: bool,
    focused: bool,
    width: usize,
) -> Line<'static> {
    let waiting = state.approvals_of(&s.id);
    if second {
        let (status, style) = match waiting {
            0 => (s.display_status().to_string(), theme::status(s)),
            1 => ("needs approval".to_string(), theme::attention()),
            n => (format!("{n} approvals"), theme::attention()),
        };
        let mut spans = vec![Span::raw("  ")];
        // Where it works (its directory's last part, the provider when it has none), when it
        // fits whole: a cut-off name helps nobody.
        // A worktree lives under the data dir: its repository names the place.
        let dir = s
            .workspace
            .as_ref()
            .map_or(s.cwd.as_str(), |w| w.repo.as_str());
        let place = std::path::Path::new(dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.provider.clone());
        // A worktree's commits since its base and the files it has changed, when known.
        let work = state
            .git
            .get(&s.id)
            .and_then(|g| g.status.as_ref())
            .filter(|_| s.workspace.is_some())
            .map(|g| {
                let mut w = format!(" ↑{}↓{}", g.ahead, g.behind);
                if !g.files.is_empty() {
                    w.push_str(&format!(" ~{}", g.files.len()));
                }
                w
            })
            .unwrap_or_default();
        if width >= place.chars().count() + work.chars().count() + status.len() + 5 {
            spans.push(Span::styled(place, theme::dim()));
            spans.push(Span::styled(work, theme::dim()));
            spans.push(Span::styled(" · ", theme::dim()));
        } else if width >= place.chars().count() + status.len() + 5 {
            spans.push(Span::styled(place, theme::dim()));
            spans.push(Span::styled(" · ", theme::dim()));
        }
        spans.push(Span::styled(status, style));
        return Line::from(spans);
    }
    let marker = if waiting > 0 {
        Span::styled(theme::APPROVAL, theme::attention())
    } else if state.unread.contains(&s.id) {
        Span::styled(theme::UNREAD, theme::assistant())
    } else {
        Span::raw(" ")
    };
    let is_sel = state.selected.as_deref() == Some(s.id.as_str());
    Line::from(vec![
        marker,
        Span::raw(" "),
        title_span(&theme::title_of(s), is_sel, focused, width),
    ])
}

/// Row one: name; row two: running / exited with its code.
fn terminal_line(
    state: &State,
    t: &Terminal,
    second: bool,
    focused: bool,
    width: usize,
) -> Line<'static> {
    if second {
        let style = match t.status {
            TerminalStatus::Running => theme::assistant(),
            TerminalStatus::Exited => theme::failed(),
        };
        return Line::from(vec![
            Span::raw("  "),
            Span::styled(crate::output::terminal_status(t), style),
        ]);
    }
    let is_sel = state.selected.as_deref() == Some(t.id.as_str());
    Line::from(vec![
        Span::styled(theme::TERMINAL, theme::dim()),
        Span::raw(" "),
        title_span(&t.name, is_sel, focused, width),
    ])
}

fn title_span(title: &str, selected: bool, focused: bool, width: usize) -> Span<'static> {
    let w = width.saturating_sub(2);
    let span = Span::raw(format!("{:<w$}", truncate(title, w)));
    if selected {
        span.style(theme::selected(focused))
    } else {
        span
    }
}
