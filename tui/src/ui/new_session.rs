//! The new-session form: provider, title, directory (where the TUI was started, Tab completes
//! it), workspace (its own git worktree, or the directory as it is), model and approval policy.
//! Enter creates from any field.

use super::layout::centered;
use super::text::truncate;
use super::theme;
use super::view::{Ctx, Intent, KeyOutcome, View, edit, paste_line};
use crate::action::Action;
use crate::state::{Input, POLICIES};
use agentmux_shared::types::ProviderHealth;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Provider,
    Title,
    Dir,
    Workspace,
    Model,
    Policy,
}

const FIELDS: [Field; 6] = [
    Field::Provider,
    Field::Title,
    Field::Dir,
    Field::Workspace,
    Field::Model,
    Field::Policy,
];

/// Workspace modes as sent (empty: the daemon's `[sessions] workspace`) and as shown.
const WORKSPACES: [(&str, &str); 3] = [
    ("", "default"),
    ("worktree", "own worktree"),
    ("none", "this directory"),
];

#[derive(Debug)]
pub struct NewSessionView {
    pub providers: Vec<ProviderHealth>,
    pub index: usize,
    /// Into `POLICIES`.
    pub policy: usize,
    /// Into `WORKSPACES`.
    pub workspace: usize,
    pub title: Input,
    pub dir: Input,
    pub model: Input,
    pub field: Field,
    /// Directories that complete `dir`, from the last Tab.
    pub completions: Vec<String>,
    /// `dir` as the last completion left it: Tab again moves on.
    completed: Option<String>,
}

impl NewSessionView {
    /// The first available provider is preselected; the directory starts as `dir`.
    pub fn new(providers: Vec<ProviderHealth>, dir: &str) -> NewSessionView {
        let index = providers.iter().position(|p| p.available).unwrap_or(0);
        NewSessionView {
            providers,
            index,
            policy: 0,
            workspace: 0,
            title: Input::default(),
            dir: Input::with_text(dir),
            model: Input::default(),
            field: Field::Provider,
            completions: Vec::new(),
            completed: None,
        }
    }

    /// The directories found for `for_text`: one is taken, several fill their common start.
    pub fn complete(&mut self, for_text: &str, found: Vec<String>) {
        if self.dir.text != for_text {
            return; // typed on meanwhile
        }
        match found.as_slice() {
            [] => {}
            [one] => self.dir = Input::with_text(&format!("{one}/")),
            many => {
                let common = many.iter().skip(1).fold(many[0].clone(), |acc, s| {
                    acc.chars()
                        .zip(s.chars())
                        .take_while(|(a, b)| a == b)
                        .map(|(a, _)| a)
                        .collect()
                });
                if common.len() > self.dir.text.len() {
                    self.dir = Input::with_text(&common);
                }
            }
        }
        self.completions = if found.len() > 1 { found } else { Vec::new() };
        self.completed = Some(self.dir.text.clone());
    }

    fn step(&mut self, by: isize) {
        let at = FIELDS.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = FIELDS.len() as isize;
        self.field = FIELDS[(at as isize + by).rem_euclid(n) as usize];
    }

    fn create(&self) -> Vec<Intent> {
        let Some(p) = self.providers.get(self.index) else {
            return Vec::new();
        };
        vec![Intent::Call(Action::CreateSession {
            provider: p.id.clone(),
            approval_policy: POLICIES[self.policy % POLICIES.len()].into(),
            title: self.title.text.trim().to_string(),
            cwd: self.dir.text.trim().trim_end_matches('/').to_string(),
            model: self.model.text.trim().to_string(),
            workspace: WORKSPACES[self.workspace % WORKSPACES.len()].0.into(),
        })]
    }

    fn input(&mut self) -> Option<&mut Input> {
        match self.field {
            Field::Title => Some(&mut self.title),
            Field::Dir => Some(&mut self.dir),
            Field::Model => Some(&mut self.model),
            Field::Provider | Field::Policy | Field::Workspace => None,
        }
    }
}

impl View for NewSessionView {
    fn render(&self, _cx: &Ctx, area: Rect, frame: &mut Frame) {
        render(self, area, frame);
    }

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        let n = self.providers.len();
        match (k.code, self.field) {
            (KeyCode::Esc, _) => return KeyOutcome::Close(Vec::new()),
            (KeyCode::Enter, _) => return KeyOutcome::Close(self.create()),
            (KeyCode::Tab, Field::Dir) if self.completed.as_deref() != Some(&self.dir.text) => {
                return KeyOutcome::intent(Intent::Call(Action::CompleteDir {
                    text: self.dir.text.clone(),
                }));
            }
            (KeyCode::Tab, _) => self.step(1),
            (KeyCode::BackTab, _) => self.step(-1),
            (KeyCode::Down | KeyCode::Char('j'), Field::Provider) if n > 0 => {
                self.index = (self.index + 1) % n;
            }
            (KeyCode::Up | KeyCode::Char('k'), Field::Provider) if n > 0 => {
                self.index = (self.index + n - 1) % n;
            }
            (KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('l'), Field::Policy) => {
                self.policy = (self.policy + 1) % POLICIES.len();
            }
            (KeyCode::Left | KeyCode::Char('h'), Field::Policy) => {
                self.policy = (self.policy + POLICIES.len() - 1) % POLICIES.len();
            }
            (KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('l'), Field::Workspace) => {
                self.workspace = (self.workspace + 1) % WORKSPACES.len();
            }
            (KeyCode::Left | KeyCode::Char('h'), Field::Workspace) => {
                self.workspace = (self.workspace + WORKSPACES.len() - 1) % WORKSPACES.len();
            }
            (KeyCode::Down, _) => self.step(1),
            (KeyCode::Up, _) => self.step(-1),
            _ => {
                if let Some(input) = self.input() {
                    edit(input, k);
                    self.completions.clear();
                }
            }
        }
        KeyOutcome::done()
    }

    fn handle_paste(&mut self, text: &str, _cx: &Ctx) -> KeyOutcome {
        if let Some(input) = self.input() {
            paste_line(input, text);
        }
        KeyOutcome::done()
    }
}

fn label(text: &str, on: bool) -> Span<'static> {
    let style = if on { theme::attention() } else { theme::dim() };
    Span::styled(format!("{text:<10}"), style)
}

fn render(v: &NewSessionView, area: Rect, frame: &mut Frame) {
    let width = area.width.min(76);
    let inner_w = usize::from(width.saturating_sub(2));
    let field_w = inner_w.saturating_sub(10);
    let mut lines = Vec::new();
    let mut cursor = None;
    for (i, p) in v.providers.iter().enumerate() {
        let (mark, style) = if p.available {
            ("● ", theme::assistant())
        } else {
            ("○ ", theme::dim())
        };
        let name = Span::styled(
            format!("{:<10}", p.id),
            if i == v.index {
                theme::selected(v.field == Field::Provider)
            } else {
                Style::default()
            },
        );
        lines.push(Line::from(vec![
            label(
                if i == 0 { "Provider" } else { "" },
                v.field == Field::Provider,
            ),
            Span::styled(mark, style),
            name,
            Span::styled(
                truncate(&format!(" {}", p.detail), field_w.saturating_sub(12)),
                theme::dim(),
            ),
        ]));
    }
    if v.providers.is_empty() {
        lines.push(Line::from(vec![
            label("Provider", true),
            Span::styled("no providers configured", theme::dim()),
        ]));
    }
    let mut text_row =
        |lines: &mut Vec<Line<'static>>, name: &str, f: Field, input: &Input, hint: &str| {
            let on = v.field == f;
            let shown = if input.text.is_empty() && !on {
                Span::styled(hint.to_string(), theme::dim())
            } else {
                // The end of a long value, where the cursor is.
                let before = Span::raw(&input.text[..input.cursor]).width();
                let skip = before.saturating_sub(field_w.saturating_sub(1));
                if on {
                    cursor = Some((lines.len(), 10 + before - skip));
                }
                Span::raw(input.text.chars().skip(skip).collect::<String>())
            };
            lines.push(Line::from(vec![label(name, on), shown]));
        };
    text_row(&mut lines, "Title", Field::Title, &v.title, "(optional)");
    text_row(
        &mut lines,
        "Directory",
        Field::Dir,
        &v.dir,
        "(where agentmux was started)",
    );
    if !v.completions.is_empty() {
        let names: Vec<String> = v
            .completions
            .iter()
            .map(|c| {
                let name = c.rsplit('/').next().unwrap_or(c);
                format!("{name}/")
            })
            .collect();
        lines.push(Line::from(vec![
            label("", false),
            Span::styled(truncate(&names.join("  "), field_w), theme::dim()),
        ]));
    }
    let mut ws = vec![label("Workspace", v.field == Field::Workspace)];
    for (i, (_, shown)) in WORKSPACES.iter().enumerate() {
        let style = if i == v.workspace % WORKSPACES.len() {
            theme::selected(v.field == Field::Workspace)
        } else {
            theme::dim()
        };
        ws.push(Span::styled(shown.to_string(), style));
        ws.push(Span::raw(" "));
    }
    lines.push(Line::from(ws));
    text_row(
        &mut lines,
        "Model",
        Field::Model,
        &v.model,
        "(the provider's default)",
    );
    let mut pol = vec![label("Policy", v.field == Field::Policy)];
    for (i, p) in POLICIES.iter().enumerate() {
        let style = if i == v.policy % POLICIES.len() {
            theme::selected(v.field == Field::Policy)
        } else {
            theme::dim()
        };
        pol.push(Span::styled(p.to_string(), style));
        pol.push(Span::raw(" "));
    }
    lines.push(Line::from(pol));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        truncate(
            "Tab next field or complete the dir  ↑↓ choose  Enter create  Esc cancel",
            inner_w,
        ),
        theme::dim(),
    )));
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width, h);
    let block = Block::bordered()
        .border_style(theme::dim())
        .title(Span::styled("New session", theme::bold()));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    if let Some((row, col)) = cursor {
        frame.set_cursor_position(Position {
            x: inner.x + u16::try_from(col).unwrap_or(0).min(inner.width),
            y: inner.y + u16::try_from(row).unwrap_or(0),
        });
    }
}
