//! The review view (`v` on a session): what its agent changed against the session's base,
//! as lazygit and tig show it — changed files with their letters and counts, the selected
//! file's diff (side by side when wide, unified at 80 columns) with hunk jumps and search;
//! stage, unstage, discard, commit, and merge into the base. All git work is the daemon's,
//! through the worker: nothing here waits on it.

use super::diff_view;
use super::layout::centered;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::action::{Action, GitChange};
use crate::git_state::GitView;
use crate::keymap::Hint;
use crate::state::Input;
use agentmux_shared::types::DiffFile;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use std::cell::Cell;

/// Side by side from this diff width on.
const SIDE_BY_SIDE: u16 = 140;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Normal,
    Commit(Input),
    Discard(String),
    Merge,
    Search(Input),
}

#[derive(Debug)]
pub struct ReviewView {
    pub session: String,
    selected: usize,
    scroll: usize,
    diff_focus: bool,
    mode: Mode,
    query: String,
    /// The diff pane's size at the last draw: paging and side by side follow it.
    diff_area: Cell<(u16, u16)>,
}

impl ReviewView {
    pub fn new(session: &str) -> ReviewView {
        ReviewView {
            session: session.to_string(),
            selected: 0,
            scroll: 0,
            diff_focus: false,
            mode: Mode::Normal,
            query: String::new(),
            diff_area: Cell::new((20, 80)),
        }
    }

    fn side(&self) -> bool {
        self.diff_area.get().1 >= SIDE_BY_SIDE
    }

    /// The selected file, kept inside a list that may have shrunk since.
    fn index(&self, g: &GitView) -> usize {
        let n = g.diff.as_ref().map_or(0, |d| d.files.len());
        self.selected.min(n.saturating_sub(1))
    }

    fn file<'a>(&self, g: &'a GitView) -> Option<&'a DiffFile> {
        g.diff.as_ref()?.files.get(self.index(g))
    }

    fn select(&mut self, g: &GitView, to: usize) -> KeyOutcome {
        let n = g.diff.as_ref().map_or(0, |d| d.files.len());
        self.selected = to.min(n.saturating_sub(1));
        self.scroll = 0;
        KeyOutcome::done()
    }

    fn scroll_by(&mut self, g: &GitView, delta: isize) -> KeyOutcome {
        let total = self.file(g).map_or(0, |f| diff_view::rows(f, self.side()));
        let page = usize::from(self.diff_area.get().0);
        let max = total.saturating_sub(page.max(1));
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
        KeyOutcome::done()
    }

    fn call(&self, change: GitChange) -> KeyOutcome {
        KeyOutcome::intent(Intent::Call(Action::Git {
            session: self.session.clone(),
            change,
        }))
    }

    fn normal_key(&mut self, k: KeyEvent, g: &GitView) -> KeyOutcome {
        let page = isize::try_from(self.diff_area.get().0.max(2)).unwrap_or(2) - 1;
        let path = self.file(g).map(|f| f.path.clone());
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                KeyOutcome::Close(vec![Intent::EndReview(self.session.clone())])
            }
            KeyCode::Tab => {
                self.diff_focus = !self.diff_focus;
                KeyOutcome::done()
            }
            KeyCode::Down | KeyCode::Char('j') if self.diff_focus => self.scroll_by(g, 1),
            KeyCode::Up | KeyCode::Char('k') if self.diff_focus => self.scroll_by(g, -1),
            KeyCode::Down | KeyCode::Char('j') => self.select(g, self.index(g) + 1),
            KeyCode::Up | KeyCode::Char('k') => self.select(g, self.index(g).saturating_sub(1)),
            KeyCode::PageDown | KeyCode::Char(' ') | KeyCode::Char('J') => self.scroll_by(g, page),
            KeyCode::PageUp | KeyCode::Char('K') => self.scroll_by(g, -page),
            KeyCode::Char('g') | KeyCode::Home => {
                self.scroll = 0;
                KeyOutcome::done()
            }
            KeyCode::Char('G') | KeyCode::End => self.scroll_by(g, isize::MAX / 2),
            KeyCode::Char(']') | KeyCode::Char('}') => {
                if let Some(f) = self.file(g) {
                    self.scroll = diff_view::hunk_start(f, self.side(), self.scroll, 1);
                }
                self.scroll_by(g, 0)
            }
            KeyCode::Char('[') | KeyCode::Char('{') => {
                if let Some(f) = self.file(g) {
                    self.scroll = diff_view::hunk_start(f, self.side(), self.scroll, -1);
                }
                KeyOutcome::done()
            }
            KeyCode::Char('/') => {
                self.mode = Mode::Search(Input::default());
                KeyOutcome::done()
            }
            KeyCode::Char('n') | KeyCode::Char('N') if !self.query.is_empty() => {
                if let Some(f) = self.file(g) {
                    let from = if k.code == KeyCode::Char('n') {
                        self.scroll + 1
                    } else {
                        self.scroll.saturating_sub(1)
                    };
                    if let Some(r) = diff_view::find(f, self.side(), from, &self.query) {
                        self.scroll = r;
                    }
                }
                self.scroll_by(g, 0)
            }
            KeyCode::Enter => match self.file(g) {
                // Cut short by the first load: fetch it whole.
                Some(f) if f.truncated && !g.loading_files.contains(&f.path) => {
                    KeyOutcome::intent(Intent::Call(Action::GitDiff {
                        session: self.session.clone(),
                        path: f.path.clone(),
                    }))
                }
                _ => {
                    self.diff_focus = true;
                    KeyOutcome::done()
                }
            },
            KeyCode::Char('s') => match path {
                Some(p) => {
                    let (staged, unstaged) = g.letters(&p);
                    if unstaged.is_empty() && !staged.is_empty() {
                        self.call(GitChange::Unstage(vec![p]))
                    } else {
                        self.call(GitChange::Stage(vec![p]))
                    }
                }
                None => KeyOutcome::done(),
            },
            KeyCode::Char('S') => self.call(GitChange::Stage(Vec::new())),
            KeyCode::Char('U') => self.call(GitChange::Unstage(Vec::new())),
            KeyCode::Char('d') => {
                if let Some(p) = path {
                    self.mode = Mode::Discard(p);
                }
                KeyOutcome::done()
            }
            KeyCode::Char('c') => {
                self.mode = Mode::Commit(Input::default());
                KeyOutcome::done()
            }
            KeyCode::Char('m') => {
                self.mode = Mode::Merge;
                KeyOutcome::done()
            }
            KeyCode::Char('r') => KeyOutcome::intent(Intent::Review(self.session.clone())),
            _ => KeyOutcome::done(),
        }
    }

    fn staged_any(g: &GitView) -> bool {
        g.status
            .as_ref()
            .is_some_and(|s| s.files.iter().any(|f| !f.staged.is_empty() && !f.untracked))
    }
}

impl View for ReviewView {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        // The status bar below stays: it shows this view's keys.
        let area = Rect {
            height: area.height.saturating_sub(1),
            ..area
        };
        frame.render_widget(Clear, area);
        let empty = GitView::default();
        let g = cx.state.git.get(&self.session).unwrap_or(&empty);
        let name = cx
            .state
            .sessions
            .iter()
            .find(|s| s.id == self.session)
            .map_or(self.session.clone(), |s| s.name.clone());
        let [head, body, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(header(&name, g)), head);
        let (files_area, diff_area) = if body.width >= 100 {
            let w = (body.width * 3 / 10).clamp(28, 48);
            let [a, b] =
                Layout::horizontal([Constraint::Length(w), Constraint::Min(10)]).areas(body);
            (a, b)
        } else {
            let n = g.diff.as_ref().map_or(1, |d| d.files.len());
            let h = u16::try_from(n + 2)
                .unwrap_or(u16::MAX)
                .clamp(3, body.height / 3 + 1);
            let [a, b] = Layout::vertical([Constraint::Length(h), Constraint::Min(3)]).areas(body);
            (a, b)
        };
        self.render_files(g, files_area, frame);
        self.render_diff(g, diff_area, frame);
        frame.render_widget(Paragraph::new(footer(g, &self.mode, &self.query)), foot);
        self.render_dialog(g, area, frame);
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let empty = GitView::default();
        let g = cx.state.git.get(&self.session).unwrap_or(&empty);
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match &mut self.mode {
            Mode::Normal => self.normal_key(k, g),
            Mode::Commit(input) => match k.code {
                KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    KeyOutcome::done()
                }
                KeyCode::Enter if !ctrl && !input.text.trim().is_empty() => {
                    let message = input.text.trim().to_string();
                    self.mode = Mode::Normal;
                    self.call(GitChange::Commit {
                        message,
                        staged: Self::staged_any(g),
                    })
                }
                _ => {
                    edit(input, k);
                    KeyOutcome::done()
                }
            },
            Mode::Discard(path) => {
                let path = path.clone();
                self.mode = Mode::Normal;
                match k.code {
                    KeyCode::Char('y') => self.call(GitChange::Discard(vec![path])),
                    _ => KeyOutcome::done(),
                }
            }
            Mode::Merge => {
                self.mode = Mode::Normal;
                let strategy = match k.code {
                    KeyCode::Char('m') => "merge",
                    KeyCode::Char('s') => "squash",
                    KeyCode::Char('r') => "rebase",
                    _ => return KeyOutcome::done(),
                };
                self.call(GitChange::Merge(strategy.into()))
            }
            Mode::Search(input) => match k.code {
                KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    KeyOutcome::done()
                }
                KeyCode::Enter => {
                    self.query = input.text.clone();
                    self.mode = Mode::Normal;
                    if let Some(f) = self.file(g)
                        && let Some(r) = diff_view::find(f, self.side(), self.scroll, &self.query)
                    {
                        self.scroll = r;
                    }
                    self.diff_focus = true;
                    self.scroll_by(g, 0)
                }
                _ => {
                    edit(input, k);
                    KeyOutcome::done()
                }
            },
        }
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        if let Mode::Commit(input) | Mode::Search(input) = &mut self.mode {
            paste_line(input, text);
        }
        KeyOutcome::done()
    }

    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        let h = |key: &str, help: &'static str| Hint {
            key: key.into(),
            help,
        };
        vec![
            h("↑↓", "file"),
            h("Tab", "diff"),
            h("s", "stage"),
            h("c", "commit"),
            h("m", "merge"),
            h("d", "discard"),
            h("/", "search"),
            h("]", "hunk"),
            h("Esc", "close"),
        ]
    }
}

impl ReviewView {
    fn render_files(&self, g: &GitView, area: Rect, frame: &mut Frame) {
        let block = Block::bordered()
            .border_style(if self.diff_focus {
                theme::dim()
            } else {
                Style::default()
            })
            .title(Span::styled(" Changed ", theme::bold()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(d) = &g.diff else {
            let what = if g.diff_loading {
                " loading…"
            } else {
                " no diff"
            };
            frame.render_widget(Paragraph::new(Span::styled(what, theme::dim())), inner);
            return;
        };
        if d.files.is_empty() {
            let line = Span::styled(" nothing changed since the base", theme::dim());
            frame.render_widget(Paragraph::new(line), inner);
            return;
        }
        let h = usize::from(inner.height);
        let selected = self.index(g);
        let first = (selected + 1).saturating_sub(h);
        let width = usize::from(inner.width);
        for (i, f) in d.files.iter().enumerate().skip(first).take(h) {
            let (staged, unstaged) = g.letters(&f.path);
            let mark = |l: &str| {
                if l.is_empty() {
                    ' '
                } else {
                    l.chars().next().unwrap_or(' ')
                }
            };
            let letter = match f.status.as_str() {
                "added" => 'A',
                "deleted" => 'D',
                "renamed" => 'R',
                "copied" => 'C',
                "type_changed" => 'T',
                _ => 'M',
            };
            let counts = if f.binary {
                "bin".to_string()
            } else {
                format!("+{} -{}", f.added, f.removed)
            };
            let room = width.saturating_sub(counts.len() + 6);
            let name: String = if f.path.chars().count() > room {
                let tail: Vec<char> = f.path.chars().rev().take(room.saturating_sub(1)).collect();
                format!("…{}", tail.into_iter().rev().collect::<String>())
            } else {
                f.path.clone()
            };
            let pad = width.saturating_sub(name.chars().count() + counts.len() + 5);
            let style = if i == selected {
                theme::selected(!self.diff_focus)
            } else {
                Style::default()
            };
            let line = Line::from(vec![
                Span::styled(
                    format!("{}{} ", mark(&staged), mark(&unstaged)),
                    theme::attention(),
                ),
                Span::styled(format!("{letter} "), style_of_status(letter)),
                Span::styled(format!("{name}{}", " ".repeat(pad)), style),
                Span::styled(counts, theme::dim()),
            ]);
            let y = inner.y + u16::try_from(i - first).unwrap_or(0);
            frame.buffer_mut().set_line(inner.x, y, &line, inner.width);
        }
    }

    fn render_diff(&self, g: &GitView, area: Rect, frame: &mut Frame) {
        let title = match self.file(g) {
            Some(f) if !f.old_path.is_empty() => format!(" {} → {} ", f.old_path, f.path),
            Some(f) => format!(" {} ", f.path),
            None => " Diff ".to_string(),
        };
        let block = Block::bordered()
            .border_style(if self.diff_focus {
                Style::default()
            } else {
                theme::dim()
            })
            .title(Span::styled(title, theme::bold()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        self.diff_area.set((inner.height, inner.width));
        let Some(f) = self.file(g) else {
            return;
        };
        let note = if f.binary {
            Some("binary file: no text to show".to_string())
        } else if f.hunks.is_empty() && f.truncated {
            Some(if g.loading_files.contains(&f.path) {
                "loading the whole file…".to_string()
            } else {
                format!(
                    "+{} -{} lines not loaded: Enter loads them",
                    f.added, f.removed
                )
            })
        } else if f.hunks.is_empty() {
            Some("no content change (mode or rename only)".to_string())
        } else {
            None
        };
        if let Some(n) = note {
            frame.render_widget(
                Paragraph::new(Span::styled(format!(" {n}"), theme::dim())),
                inner,
            );
            return;
        }
        let side = self.side();
        let total = diff_view::rows(f, side);
        let scroll = self.scroll.min(total.saturating_sub(1));
        diff_view::render(f, side, scroll, &self.query, inner, frame.buffer_mut());
        if f.truncated
            && !g.loading_files.contains(&f.path)
            && scroll + usize::from(inner.height) >= total
        {
            let y = inner.y + inner.height.saturating_sub(1);
            let line = Line::styled(
                " … cut short: Enter loads the whole file",
                theme::attention(),
            );
            frame.buffer_mut().set_line(inner.x, y, &line, inner.width);
        }
    }

    fn render_dialog(&self, g: &GitView, area: Rect, frame: &mut Frame) {
        let base = g
            .status
            .as_ref()
            .map(|s| s.base_branch.clone())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "its base".into());
        let (title, lines) = match &self.mode {
            Mode::Normal | Mode::Search(_) => return,
            Mode::Commit(input) => {
                let what = if Self::staged_any(g) {
                    "the staged changes"
                } else {
                    "every change (untracked files too)"
                };
                (
                    " Commit ".to_string(),
                    vec![
                        Line::from(Span::styled(format!(" Commits {what}."), theme::dim())),
                        Line::from(vec![Span::raw(" > "), Span::raw(input.text.clone())]),
                        Line::from(Span::styled(" Enter commit  Esc cancel", theme::dim())),
                    ],
                )
            }
            Mode::Discard(p) => (
                " Discard ".to_string(),
                vec![
                    Line::from(format!(" Throw away the changes to {p}?")),
                    Line::from(Span::styled(
                        " y discard  any other key keeps them",
                        theme::dim(),
                    )),
                ],
            ),
            Mode::Merge => (
                format!(" Land on {base} "),
                vec![
                    Line::from(format!(" Land the session's commits on {base} as:")),
                    Line::from(" m a merge commit   s one squashed commit   r rebased commits"),
                    Line::from(Span::styled(
                        " Conflicts change nothing; Esc cancels",
                        theme::dim(),
                    )),
                ],
            ),
        };
        let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
        let rect = centered(area, 72, h);
        frame.render_widget(Clear, rect);
        let block = Block::bordered().title(Span::styled(title, theme::bold()));
        frame.render_widget(Paragraph::new(lines).block(block), rect);
    }
}

fn style_of_status(letter: char) -> Style {
    match letter {
        'A' => theme::diff_add(),
        'D' => theme::diff_del(),
        _ => theme::diff_hunk(),
    }
}

/// `⎇ branch → base  ↑2 ↓0  origin/x ↑1 ↓0  3 files +40 -2  name`.
fn header(name: &str, g: &GitView) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    if let Some(s) = &g.status {
        let branch = if s.branch.is_empty() {
            "(detached)"
        } else {
            s.branch.as_str()
        };
        spans.push(Span::raw(format!("⎇ {branch}")));
        if !s.base_commit.is_empty() {
            let base = if s.base_branch.is_empty() {
                s.base_commit.chars().take(8).collect()
            } else {
                s.base_branch.clone()
            };
            spans.push(Span::styled(format!(" → {base}"), theme::dim()));
            spans.push(Span::raw(format!("  ↑{} ↓{}", s.ahead, s.behind)));
        }
        if !s.upstream.is_empty() {
            spans.push(Span::styled(
                format!(
                    "  {} ↑{} ↓{}",
                    s.upstream, s.upstream_ahead, s.upstream_behind
                ),
                theme::dim(),
            ));
        }
    }
    if let Some(d) = &g.diff {
        spans.push(Span::styled(
            format!(
                "  {} file(s) +{} -{}{}",
                d.files.len(),
                d.added,
                d.removed,
                if d.truncated { " (cut short)" } else { "" }
            ),
            theme::dim(),
        ));
    }
    spans.push(Span::styled(format!("  {name}"), theme::bold()));
    Line::from(spans)
}

fn footer(g: &GitView, mode: &Mode, query: &str) -> Line<'static> {
    if let Mode::Search(input) = mode {
        return Line::from(vec![Span::raw(" / "), Span::raw(input.text.clone())]);
    }
    match &g.note {
        Some(n) => Line::styled(format!(" {n}"), theme::attention()),
        None if !query.is_empty() => {
            Line::styled(format!(" /{query}  n next  N previous"), theme::dim())
        }
        None => Line::default(),
    }
}
