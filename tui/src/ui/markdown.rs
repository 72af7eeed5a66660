//! An agent's answer as a terminal page: CommonMark (with tables, strikethrough and task lists)
//! parsed by pulldown-cmark and laid out to a width. Code blocks keep every column of their
//! text and are cut, never re-flowed; prose wraps by words under its list bullet or quote bar.

use super::text::char_width;
use super::theme;
use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// Renders `text` to lines at most `width` columns wide (at least one line).
pub fn render(text: &str, width: usize) -> Vec<Line<'static>> {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut r = Renderer::new(width.max(8));
    for ev in Parser::new_ext(text, opts) {
        r.event(ev);
    }
    r.flush();
    if r.out.is_empty() {
        r.out.push(Line::default());
    }
    r.out
}

use super::highlight::Run;

#[derive(Debug)]
enum Container {
    Quote,
    /// `next`: the number of the next item of an ordered list.
    List {
        next: Option<u64>,
    },
    /// `bullet` is drawn on the item's first line, spaces of its width on the rest.
    Item {
        bullet: String,
        first: bool,
    },
}

#[derive(Debug, Default)]
struct Table {
    align: Vec<Alignment>,
    rows: Vec<Vec<Vec<Run>>>,
    in_head: bool,
    head_rows: usize,
}

struct Renderer {
    width: usize,
    out: Vec<Line<'static>>,
    containers: Vec<Container>,
    /// Inline styles, innermost last.
    styles: Vec<Style>,
    /// The paragraph, heading or table cell being gathered.
    runs: Vec<Run>,
    /// A fenced or indented code block being gathered, and its language.
    code: Option<String>,
    code_lang: String,
    links: Vec<String>,
    table: Option<Table>,
    /// A blank line is owed before the next block.
    gap: bool,
}

impl Renderer {
    fn new(width: usize) -> Renderer {
        Renderer {
            width,
            out: Vec::new(),
            containers: Vec::new(),
            styles: Vec::new(),
            runs: Vec::new(),
            code: None,
            code_lang: String::new(),
            links: Vec::new(),
            table: None,
            gap: false,
        }
    }

    fn style(&self) -> Style {
        self.styles
            .iter()
            .fold(Style::default(), |acc, s| acc.patch(*s))
    }

    fn push_text(&mut self, text: &str, style: Style) {
        if let Some(code) = &mut self.code {
            code.push_str(text);
            return;
        }
        let target = match &mut self.table {
            Some(t) => t.rows.last_mut().and_then(|r| r.last_mut()),
            None => None,
        };
        match target {
            Some(cell) => cell.push((text.to_string(), style)),
            None => self.runs.push((text.to_string(), style)),
        }
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => {
                let s = self.style();
                self.push_text(&t, s);
            }
            Event::Code(t) => {
                let s = self.style().patch(theme::code());
                self.push_text(&t, s);
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let s = self.style().patch(theme::dim());
                self.push_text(&t, s);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                let s = self.style().patch(theme::code());
                self.push_text(&t, s);
            }
            Event::FootnoteReference(t) => {
                let s = self.style().patch(theme::dim());
                self.push_text(&format!("[{t}]"), s);
            }
            Event::SoftBreak => {
                let s = self.style();
                self.push_text(" ", s);
            }
            Event::HardBreak => {
                let s = self.style();
                self.push_text("\n", s);
            }
            Event::Rule => {
                self.block_start();
                let w = self.width.saturating_sub(self.prefix_width()).max(1);
                self.emit(vec![Span::styled("─".repeat(w), theme::dim())]);
                self.gap = true;
            }
            Event::TaskListMarker(done) => {
                let s = self.style();
                self.push_text(if done { "[x] " } else { "[ ] " }, s);
            }
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                self.styles.push(theme::heading(heading_rank(level)));
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.block_start();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => l.split_whitespace().next().unwrap_or("").into(),
                    CodeBlockKind::Indented => String::new(),
                };
                if !lang.is_empty() {
                    self.emit(vec![Span::styled(lang.clone(), theme::dim())]);
                }
                self.code = Some(String::new());
                self.code_lang = lang;
            }
            Tag::List(start) => {
                self.flush();
                if !matches!(self.containers.last(), Some(Container::Item { .. })) {
                    self.block_start();
                }
                self.containers.push(Container::List { next: start });
            }
            Tag::Item => {
                self.flush();
                let bullet = match self.containers.last_mut() {
                    Some(Container::List { next: Some(n) }) => {
                        let b = format!("{n}. ");
                        *n += 1;
                        b
                    }
                    _ => "• ".to_string(),
                };
                self.containers.push(Container::Item {
                    bullet,
                    first: true,
                });
                self.gap = false;
            }
            Tag::Emphasis => self
                .styles
                .push(Style::default().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self
                .styles
                .push(Style::default().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self
                .styles
                .push(Style::default().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.styles.push(theme::link());
                self.links.push(dest_url.to_string());
            }
            Tag::Image { dest_url, .. } => {
                self.styles.push(theme::link());
                self.links.push(dest_url.to_string());
                let s = self.style();
                self.push_text("image: ", s);
            }
            Tag::Table(align) => {
                self.block_start();
                self.table = Some(Table {
                    align,
                    ..Table::default()
                });
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(Vec::new());
                }
            }
            Tag::FootnoteDefinition(label) => {
                self.block_start();
                let s = theme::dim();
                self.push_text(&format!("[{label}]: "), s);
            }
            Tag::HtmlBlock
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_)
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::FootnoteDefinition => {
                self.flush();
                self.gap = true;
            }
            TagEnd::Heading(_) => {
                self.flush();
                self.styles.pop();
                self.gap = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.gap = true;
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.code_lines(&code);
                self.gap = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.containers.pop();
                self.gap = true;
            }
            TagEnd::Item => {
                self.flush();
                // An empty item still shows its bullet.
                if matches!(
                    self.containers.last(),
                    Some(Container::Item { first: true, .. })
                ) {
                    self.emit(Vec::new());
                }
                self.containers.pop();
                self.gap = false;
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.styles.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                self.styles.pop();
                let url = self.links.pop().unwrap_or_default();
                let shown: String = self
                    .runs
                    .iter()
                    .rev()
                    .take(4)
                    .map(|r| r.0.as_str())
                    .collect();
                if !url.is_empty() && !shown.contains(&url) {
                    self.push_text(&format!(" ({url})"), theme::dim());
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_lines(t);
                }
                self.gap = true;
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::TableRow
            | TagEnd::TableCell
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_)
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    /// Pays the blank line owed between blocks.
    fn block_start(&mut self) {
        self.flush();
        if self.gap && !self.out.is_empty() {
            self.emit_raw(Vec::new(), true);
        }
        self.gap = false;
    }

    fn prefix_width(&self) -> usize {
        self.containers
            .iter()
            .map(|c| match c {
                Container::Quote => 2,
                Container::List { .. } => 0,
                Container::Item { bullet, .. } => bullet.chars().count(),
            })
            .sum()
    }

    /// The spans every line starts with: quote bars, and list bullets on an item's first
    /// line (every open item's, so `- - x` shows both) or their indent after it.
    fn prefix(&mut self, blank: bool) -> Vec<Span<'static>> {
        let mut out = Vec::new();
        for c in &mut self.containers {
            match c {
                Container::Quote => out.push(Span::styled("│ ", theme::quote())),
                Container::List { .. } => {}
                Container::Item { .. } if blank => {}
                Container::Item { bullet, first } if *first => {
                    out.push(Span::styled(bullet.clone(), theme::bullet()));
                    *first = false;
                }
                Container::Item { bullet, .. } => {
                    out.push(Span::raw(" ".repeat(bullet.chars().count())));
                }
            }
        }
        out
    }

    fn emit(&mut self, body: Vec<Span<'static>>) {
        self.emit_raw(body, false);
    }

    fn emit_raw(&mut self, body: Vec<Span<'static>>, blank: bool) {
        let mut spans = self.prefix(blank);
        spans.extend(body);
        self.out.push(Line::from(spans));
    }

    /// Lays out the gathered paragraph or heading, wrapped by words.
    fn flush(&mut self) {
        if self.runs.is_empty() {
            return;
        }
        let runs = std::mem::take(&mut self.runs);
        let width = self.width.saturating_sub(self.prefix_width()).max(4);
        for line in wrap_runs(&runs, width) {
            self.emit(line);
        }
    }

    /// A code block: every line as written (tabs as four spaces), in colour when its language
    /// is known, cut at the width with the rest continued on the next row, never re-flowed.
    fn code_lines(&mut self, code: &str) {
        let width = self.width.saturating_sub(self.prefix_width() + 2).max(4);
        let code = code.strip_suffix('\n').unwrap_or(code);
        let lines: Vec<String> = code
            .split('\n')
            .map(|line| {
                line.replace('\t', "    ")
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect()
            })
            .collect();
        let base = theme::code_block();
        let styled = match self.code_lang.as_str() {
            "" => None,
            lang => super::highlight::highlight(lang, &lines, base),
        };
        let styled =
            styled.unwrap_or_else(|| lines.iter().map(|l| vec![(l.clone(), base)]).collect());
        for runs in styled {
            for (i, piece) in cut_runs(&runs, width).into_iter().enumerate() {
                let gutter = if i == 0 { "▏ " } else { "↪ " };
                let mut spans = vec![Span::styled(gutter, theme::dim())];
                spans.extend(piece);
                self.emit(spans);
            }
        }
    }

    fn table_lines(&mut self, t: Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if cols == 0 {
            return;
        }
        let text = |cell: &[Run]| -> String { cell.iter().map(|r| r.0.as_str()).collect() };
        let mut widths = vec![0usize; cols];
        for row in &t.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(str_width(&text(cell)));
            }
        }
        let room = self.width.saturating_sub(self.prefix_width());
        let total: usize = widths.iter().sum::<usize>() + 3 * (cols - 1);
        if total > room {
            // Too wide for a grid: one wrapped line per row, cells joined by bars.
            for (n, row) in t.rows.iter().enumerate() {
                let mut runs = Vec::new();
                for (i, cell) in row.iter().enumerate() {
                    if i > 0 {
                        runs.push((" │ ".to_string(), theme::dim()));
                    }
                    let bold = n < t.head_rows;
                    runs.extend(cell.iter().map(|(s, st)| {
                        let st = if bold { st.patch(theme::bold()) } else { *st };
                        (s.clone(), st)
                    }));
                }
                for line in wrap_runs(&runs, room.max(4)) {
                    self.emit(line);
                }
            }
            return;
        }
        for (n, row) in t.rows.iter().enumerate() {
            let mut spans = Vec::new();
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" │ ", theme::dim()));
                }
                let cell = row.get(i).map(Vec::as_slice).unwrap_or(&[]);
                let pad = w.saturating_sub(str_width(&text(cell)));
                let (before, after) = match t.align.get(i) {
                    Some(Alignment::Right) => (pad, 0),
                    Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                spans.push(Span::raw(" ".repeat(before)));
                for (s, st) in cell {
                    let st = if n < t.head_rows {
                        st.patch(theme::bold())
                    } else {
                        *st
                    };
                    spans.push(Span::styled(s.clone(), st));
                }
                if i + 1 < cols {
                    spans.push(Span::raw(" ".repeat(after)));
                }
            }
            self.emit(spans);
            if n + 1 == t.head_rows {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                self.emit(vec![Span::styled(rule.join("─┼─"), theme::dim())]);
            }
        }
    }
}

fn heading_rank(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        _ => 3,
    }
}

fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Splits styled runs into rows of at most `width` columns (at least one row).
fn cut_runs(runs: &[Run], width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut w = 0;
    for (text, style) in runs {
        let mut cur = String::new();
        for c in text.chars() {
            let cw = char_width(c);
            if w + cw > width && w > 0 {
                if !cur.is_empty()
                    && let Some(row) = rows.last_mut()
                {
                    row.push(Span::styled(std::mem::take(&mut cur), *style));
                }
                rows.push(Vec::new());
                w = 0;
            }
            cur.push(c);
            w += cw;
        }
        if !cur.is_empty()
            && let Some(row) = rows.last_mut()
        {
            row.push(Span::styled(cur, *style));
        }
    }
    rows
}

/// Greedy word wrap over styled runs: words break at spaces, a word longer than a line is
/// split anywhere, `\n` (a hard break) starts a new line, control characters are dropped.
fn wrap_runs(runs: &[Run], width: usize) -> Vec<Vec<Span<'static>>> {
    let width = width.max(1);
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut w = 0usize;
    // The word being gathered, possibly across runs of different styles.
    let mut word: Vec<(String, Style)> = Vec::new();
    let mut ww = 0usize;

    fn push(line: &mut Vec<Span<'static>>, text: String, style: Style) {
        if let Some(last) = line.last_mut()
            && last.style == style
        {
            last.content.to_mut().push_str(&text);
            return;
        }
        line.push(Span::styled(text, style));
    }
    let place_word = |line: &mut Vec<Span<'static>>,
                      lines: &mut Vec<Vec<Span<'static>>>,
                      w: &mut usize,
                      word: &mut Vec<(String, Style)>,
                      ww: &mut usize| {
        if word.is_empty() {
            return;
        }
        if *w > 0 && *w + 1 + *ww > width {
            lines.push(std::mem::take(line));
            *w = 0;
        } else if *w > 0 {
            push(line, " ".into(), Style::default());
            *w += 1;
        }
        for (text, style) in word.drain(..) {
            for c in text.chars() {
                let cw = char_width(c);
                if *w + cw > width && *w > 0 {
                    lines.push(std::mem::take(line));
                    *w = 0;
                }
                push(line, c.to_string(), style);
                *w += cw;
            }
        }
        *ww = 0;
    };
    for (text, style) in runs {
        for c in text.chars() {
            match c {
                ' ' | '\t' => place_word(&mut line, &mut lines, &mut w, &mut word, &mut ww),
                '\n' => {
                    place_word(&mut line, &mut lines, &mut w, &mut word, &mut ww);
                    lines.push(std::mem::take(&mut line));
                    w = 0;
                }
                c if c.is_control() => {}
                c => {
                    match word.last_mut() {
                        Some((s, st)) if st == style => s.push(c),
                        _ => word.push((c.to_string(), *style)),
                    }
                    ww += char_width(c);
                }
            }
        }
    }
    place_word(&mut line, &mut lines, &mut w, &mut word, &mut ww);
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn plain(text: &str, width: usize) -> Vec<String> {
        render(text, width)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn code_blocks_keep_every_column() {
        let md = "Here:\n\n```rust\nfn main() {\n    if x {\n\tprintln!(\"hi\");\n    }\n}\n```\n";
        assert_eq!(
            plain(md, 40),
            [
                "Here:",
                "",
                "rust",
                "▏ fn main() {",
                "▏     if x {",
                "▏     println!(\"hi\");",
                "▏     }",
                "▏ }",
            ]
        );
        // Too long for the width: cut and continued, not re-flowed.
        assert_eq!(
            plain("    let value = compute(a, b);\n", 20),
            ["▏ let value = comput", "↪ e(a, b);"]
        );
    }

    #[test]
    fn headings_emphasis_and_links_lose_their_markup() {
        let lines = render(
            "# Title\n\nSome **bold** and *it* and `code` [here](http://x.y).",
            80,
        );
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(
            text,
            ["Title", "", "Some bold and it and code here (http://x.y)."]
        );
        let bold = lines[2].spans.iter().find(|s| s.content == "bold");
        assert!(bold.is_some_and(|s| s.style.add_modifier.contains(Modifier::BOLD)));
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn nested_lists_and_quotes_hang_their_text() {
        let md = "- one two three four\n  - nested item here\n- [x] done\n\n1. first\n2. second\n\n> quoted text that wraps\n";
        assert_eq!(
            plain(md, 16),
            [
                "• one two three",
                "  four",
                "  • nested item",
                "    here",
                "• [x] done",
                "",
                "1. first",
                "2. second",
                "",
                "│ quoted text",
                "│ that wraps",
            ]
        );
    }

    #[test]
    fn tables_align_or_fall_back_to_rows() {
        let md = "| name | n |\n|------|--:|\n| a | 1 |\n| bcd | 22 |\n";
        assert_eq!(
            plain(md, 40),
            ["name │  n", "─────┼───", "a    │  1", "bcd  │ 22"]
        );
        assert_eq!(plain(md, 8), ["name │ n", "a │ 1", "bcd │ 22"]);
    }

    #[test]
    fn unfinished_fence_while_streaming_is_code() {
        assert_eq!(
            plain("Look:\n```\n  indented", 40),
            ["Look:", "", "▏   indented"]
        );
    }
}
