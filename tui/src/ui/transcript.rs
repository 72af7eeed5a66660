//! The selected session's transcript, drawn from the bottom up: only messages that reach the
//! viewport are wrapped, and their wrapped lines are cached, so a frame costs the same for
//! ten messages or a hundred thousand.

use super::text::{truncate, wrap};
use super::theme::{self, INDENT};
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::keymap::KeyMap;
use crate::state::State;
use agentmux_shared::types::{Message, MessageStatus, Role, Session};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use std::cell::RefCell;
use std::collections::HashMap;

/// Past this many cached messages the cache starts over; it only needs what is on screen.
const CACHE_LIMIT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    status: MessageStatus,
    error_len: usize,
    /// Tool calls, changes and plan change rarely; hashing them costs little next to wrapping.
    activity: u64,
}

impl Fingerprint {
    fn of(m: &Message) -> Fingerprint {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for t in &m.tools {
            (&t.id, &t.status, t.output.len()).hash(&mut h);
        }
        m.changes.len().hash(&mut h);
        for p in &m.plan {
            (&p.content, &p.status).hash(&mut h);
        }
        m.reasoning.len().hash(&mut h);
        Fingerprint {
            len: m.content.len(),
            status: m.status,
            error_len: m.error.len(),
            activity: h.finish(),
        }
    }
}

/// Wrapped lines per message id, valid for one width. Lives beside `State` (not in it)
/// because it is a rendering detail, not something mirrored from the daemon.
#[derive(Debug, Default)]
struct TranscriptCache {
    width: u16,
    /// Tool output and diffs in full (`State::expanded`) when these lines were made.
    expanded: bool,
    entries: HashMap<String, (Fingerprint, Vec<Line<'static>>)>,
    /// Messages wrapped since creation: what the viewport-cost test counts.
    pub measured: usize,
}

impl TranscriptCache {
    /// Wraps `m` unless an up-to-date copy is cached; returns its height.
    fn ensure(&mut self, m: &Message, width: u16, cwd: &str) -> usize {
        let fp = Fingerprint::of(m);
        if let Some((have, lines)) = self.entries.get(&m.id)
            && *have == fp
        {
            return lines.len();
        }
        self.measured += 1;
        let lines = message_lines(m, width, self.expanded, cwd);
        let n = lines.len();
        self.entries.insert(m.id.clone(), (fp, lines));
        n
    }

    fn lines(&self, id: &str) -> &[Line<'static>] {
        self.entries.get(id).map_or(&[], |(_, l)| l.as_slice())
    }
}

/// What the draw learnt that the app needs for scrolling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    pub rows: u16,
    /// Largest scroll that still shows content; `usize::MAX` while the top is not reached.
    pub max_scroll: usize,
    /// Rows and columns the terminal pane has (or would have) in this layout.
    pub term_size: (u16, u16),
    /// The scroll this frame used to show `State::jump_to`'s message at the top.
    pub jumped: Option<usize>,
}

/// The transcript pane. It never has the focus; PgUp/PgDn scroll it from the list and the
/// composer alike.
#[derive(Debug, Default)]
pub struct TranscriptPane {
    /// Behind a `RefCell` because drawing takes `&self`; only drawing touches it.
    cache: RefCell<TranscriptCache>,
}

impl TranscriptPane {
    pub fn draw(&self, state: &State, km: &KeyMap, area: Rect, buf: &mut Buffer) -> Measure {
        render(state, km, area, buf, &mut self.cache.borrow_mut())
    }

    /// Messages wrapped since creation.
    #[cfg(test)]
    pub fn measured(&self) -> usize {
        self.cache.borrow().measured
    }
}

impl View for TranscriptPane {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        self.draw(cx.state, cx.km, area, frame.buffer_mut());
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        if cx.km.page_up.matches(&k) {
            KeyOutcome::intent(Intent::PageUp)
        } else if cx.km.page_down.matches(&k) {
            KeyOutcome::intent(Intent::PageDown)
        } else if cx.km.top.matches(&k) {
            KeyOutcome::intent(Intent::ScrollTop)
        } else if cx.km.bottom.matches(&k) {
            KeyOutcome::intent(Intent::ScrollBottom)
        } else {
            KeyOutcome::Pass
        }
    }
}

fn render(
    state: &State,
    km: &KeyMap,
    area: Rect,
    buf: &mut Buffer,
    cache: &mut TranscriptCache,
) -> Measure {
    let mut measure = Measure {
        rows: area.height,
        max_scroll: 0,
        term_size: (0, 0),
        jumped: None,
    };
    if area.height == 0 || area.width < 4 {
        return measure;
    }
    let Some(session) = state.selected_session() else {
        let text = if state.sessions.is_empty() && state.is_connected() {
            "No sessions yet. Press n to create one."
        } else {
            ""
        };
        Paragraph::new(Span::styled(text, theme::dim())).render(area, buf);
        return measure;
    };
    let header = Rect { height: 1, ..area };
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    measure.rows = body.height;
    Line::from(header_spans(session, usize::from(header.width))).render(header, buf);

    // What waits for a decision shows under the transcript; `a` opens it (a modal that
    // appeared while moving through the list would take the next key).
    let body = match state.next_approval().filter(|a| a.session_id == session.id) {
        Some(a) if body.height > 4 => {
            let n = state.approvals_of(&session.id);
            let more = if n > 1 {
                format!(" (+{} more)", n - 1)
            } else {
                String::new()
            };
            let w = usize::from(body.width);
            let first = truncate(
                &format!("{} needs approval: {}{more}", theme::APPROVAL, a.summary),
                w,
            );
            let y = body.y + body.height - 2;
            Line::from(Span::styled(first, theme::attention())).render(
                Rect {
                    y,
                    height: 1,
                    ..body
                },
                buf,
            );
            let how = format!("{}: review and decide", km.approvals.label());
            Line::from(Span::styled(truncate(&how, w), theme::dim())).render(
                Rect {
                    y: y + 1,
                    height: 1,
                    ..body
                },
                buf,
            );
            Rect {
                height: body.height - 2,
                ..body
            }
        }
        _ => body,
    };
    measure.rows = body.height;
    let Some(t) = state.transcript() else {
        return measure;
    };
    if t.messages.is_empty() {
        let text = if t.loading {
            "loading…"
        } else {
            "No messages yet."
        };
        Paragraph::new(Span::styled(text, theme::dim())).render(body, buf);
        return measure;
    }
    if cache.width != body.width
        || cache.expanded != state.expanded
        || cache.entries.len() > CACHE_LIMIT
    {
        cache.entries.clear();
        cache.width = body.width;
        cache.expanded = state.expanded;
    }
    let rows = usize::from(body.height);
    // A search asked for a message: scroll so its first line is the viewport's top.
    let mut scroll_wanted = state.scroll;
    if let Some(pos) = state.jump_to.as_deref().and_then(|id| t.index_of(id)) {
        let below: usize = t.messages[pos + 1..]
            .iter()
            .map(|m| cache.ensure(m, body.width, &session.cwd))
            .sum();
        let own = t
            .messages
            .get(pos)
            .map_or(0, |m| cache.ensure(m, body.width, &session.cwd));
        scroll_wanted = (below + own).saturating_sub(rows);
        measure.jumped = Some(scroll_wanted);
    }
    let want = rows.saturating_add(scroll_wanted);
    // Walk up from the newest message until the viewport (plus scroll) is filled.
    let mut picked = Vec::new();
    let mut total = 0usize;
    for (pos, m) in t.messages.iter().enumerate().rev() {
        total += cache.ensure(m, body.width, &session.cwd);
        picked.push(pos);
        if total >= want {
            break;
        }
    }
    let reached_top = total < want;
    // A marker line above the oldest loaded message says more can be fetched.
    let marker = reached_top && (t.has_older() || t.loading);
    let total_with_marker = total + usize::from(marker);
    measure.max_scroll = if reached_top {
        total_with_marker.saturating_sub(rows)
    } else {
        usize::MAX
    };
    let scroll = scroll_wanted.min(measure.max_scroll);
    if scroll > 0 {
        // Where the view is: lines above the newest, and how far up when the top is known.
        let at = if reached_top && scroll >= measure.max_scroll {
            format!(" ↑{scroll} lines, top ")
        } else if reached_top && measure.max_scroll > 0 {
            format!(
                " ↑{scroll} lines, {}% ",
                100 - scroll * 100 / measure.max_scroll
            )
        } else {
            format!(" ↑{scroll} lines ")
        };
        let w = u16::try_from(Span::raw(&at).width()).unwrap_or(0);
        if w < header.width {
            let r = Rect {
                x: header.x + header.width - w,
                width: w,
                ..header
            };
            Span::styled(at, theme::attention()).render(r, buf);
        }
    }
    let end = total_with_marker.saturating_sub(scroll);
    let start = end.saturating_sub(rows);

    let mut lines: Vec<Line<'static>> = Vec::with_capacity(rows);
    let mut at = 0usize;
    if marker {
        if start == 0 {
            let text = if t.loading {
                "loading older messages…"
            } else {
                "↑ older messages: PgUp"
            };
            lines.push(Line::from(Span::styled(text, theme::dim())));
        }
        at = 1;
    }
    for &pos in picked.iter().rev() {
        let Some(m) = t.messages.get(pos) else {
            continue;
        };
        for line in cache.lines(&m.id) {
            if at >= start && at < end {
                lines.push(line.clone());
            }
            at += 1;
        }
    }
    Paragraph::new(lines).render(body, buf);
    measure
}

/// `title  name · provider/model · ~/dir`: what the session is called (and typed as), what
/// runs it and where.
fn header_spans(session: &Session, width: usize) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(theme::title_of(session), theme::bold())];
    let model = [session.provider.as_str(), session.model.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    // The name is shown when it is not just the title spelt as a name.
    let name = if agentmux_shared::types::slug(&session.title) == session.name {
        String::new()
    } else {
        session.name.clone()
    };
    let rules = if session.rules.is_empty() {
        String::new()
    } else {
        let tools: Vec<&str> = session.rules.iter().map(|r| r.tool.as_str()).collect();
        format!("always allows {}", tools.join(", "))
    };
    let branch = match &session.workspace {
        Some(w) if w.state == "ready" => format!("⎇ {}", w.branch),
        Some(w) => format!("⎇ {} ({})", w.branch, w.state),
        None => String::new(),
    };
    let parts: Vec<String> = [name, model, theme::short_dir(&session.cwd), branch, rules]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if !parts.is_empty() {
        let used = Span::raw(theme::title_of(session)).width() + 2;
        let rest = truncate(&parts.join(" · "), width.saturating_sub(used));
        spans.push(Span::styled(format!("  {rest}"), theme::dim()));
    }
    spans
}

fn header_line(m: &Message) -> Line<'static> {
    let (who, style) = match m.role {
        Role::User => ("you", theme::user()),
        Role::Assistant => ("assistant", theme::assistant()),
        Role::System => ("system", theme::dim()),
    };
    let mut spans = vec![Span::styled(who, style)];
    if m.role == Role::Assistant && !m.model.is_empty() {
        spans.push(Span::styled(format!(" · {}", m.model), theme::dim()));
    }
    let status = match m.status {
        MessageStatus::Complete => None,
        MessageStatus::Streaming => Some(("streaming…".to_string(), theme::busy())),
        MessageStatus::Queued => Some(("queued".to_string(), theme::queued())),
        MessageStatus::Cancelled => Some(("cancelled".to_string(), theme::dim())),
        MessageStatus::Interrupted => Some(("interrupted".to_string(), theme::interrupted())),
        MessageStatus::Failed if m.error.is_empty() => {
            Some(("failed".to_string(), theme::failed()))
        }
        MessageStatus::Failed => Some((format!("failed: {}", m.error), theme::failed())),
    };
    if let Some((text, style)) = status {
        spans.push(Span::styled(" · ", theme::dim()));
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

/// Header, wrapped body indented by two, and a blank separator line.
fn message_lines(m: &Message, width: u16, expanded: bool, cwd: &str) -> Vec<Line<'static>> {
    let mut out = vec![header_line(m)];
    let body_width = usize::from(width).saturating_sub(INDENT.len()).max(1);
    let style = match m.role {
        Role::System => theme::dim(),
        Role::User | Role::Assistant => Style::default(),
    };
    reasoning_lines(m, body_width, expanded, &mut out);
    if !m.content.is_empty() && m.role == Role::Assistant {
        for l in super::markdown::render(&m.content, body_width) {
            let mut spans = Vec::with_capacity(l.spans.len() + 1);
            spans.push(Span::raw(INDENT));
            spans.extend(l.spans);
            out.push(Line::from(spans));
        }
    } else if !m.content.is_empty() {
        for l in wrap(&m.content, body_width) {
            out.push(Line::from(vec![Span::raw(INDENT), Span::styled(l, style)]));
        }
    } else if m.status == MessageStatus::Streaming && m.tools.is_empty() {
        out.push(Line::from(Span::styled(
            format!("{INDENT}…"),
            Style::default().add_modifier(Modifier::DIM),
        )));
    }
    let lay = super::activity::Layout {
        width: body_width,
        expanded,
        cwd,
    };
    super::activity::lines(m, lay, &mut out);
    out.push(Line::default());
    out
}

/// The model's thinking, before its answer: one dim line while collapsed, every line with
/// Ctrl-O.
fn reasoning_lines(m: &Message, width: usize, expanded: bool, out: &mut Vec<Line<'static>>) {
    let text = m.reasoning.trim();
    if text.is_empty() {
        return;
    }
    let style = theme::dim().add_modifier(Modifier::ITALIC);
    if expanded {
        for l in wrap(text, width.saturating_sub(2).max(1)) {
            out.push(Line::from(vec![
                Span::raw(INDENT),
                Span::styled("┊ ", theme::dim()),
                Span::styled(l, style),
            ]));
        }
        return;
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let n = text.lines().count();
    let summary = format!("✻ thinking ({n} lines, Ctrl-O): {}", first.trim());
    out.push(Line::from(vec![
        Span::raw(INDENT),
        Span::styled(truncate(&summary, width), style),
    ]));
}
