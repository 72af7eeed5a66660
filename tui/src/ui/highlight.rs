//! Syntax colour for code blocks: syntect's Sublime grammars parse the code, and a small theme
//! maps what they find (comments, strings, keywords, numbers, types, functions) to the
//! terminal's own 16 colours, which read well on any background and survive tmux and SSH.
//! The grammars load once, in the background at start.

use ratatui::style::{Color, Modifier, Style};
use std::str::FromStr;
use std::sync::OnceLock;
use syntect::highlighting::{
    Color as SynColor, FontStyle, HighlightState, Highlighter, RangedHighlightIterator,
    ScopeSelectors, StyleModifier, Theme, ThemeItem, ThemeSettings,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};

/// A run of text in one style.
pub type Run = (String, Style);

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Loads the grammars off the input loop, so the first code block does not wait for them.
pub fn warm_up() {
    std::thread::spawn(|| {
        syntaxes();
        theme();
    });
}

/// Terminal colours travel through syntect's RGB as `(0, 0, index)` with alpha 0.
fn ansi(index: u8) -> SynColor {
    SynColor {
        r: 0,
        g: 0,
        b: index,
        a: 0,
    }
}

fn theme() -> &'static Theme {
    static THEME: OnceLock<Theme> = OnceLock::new();
    THEME.get_or_init(|| {
        // (scopes, terminal colour index, bold/italic)
        let rules: &[(&str, u8, FontStyle)] = &[
            ("comment", 8, FontStyle::ITALIC),
            ("string, constant.character", 2, FontStyle::empty()),
            ("constant.numeric, constant.language", 5, FontStyle::empty()),
            ("keyword, storage", 4, FontStyle::BOLD),
            (
                "entity.name.function, support.function, meta.function-call",
                6,
                FontStyle::empty(),
            ),
            (
                "entity.name.type, support.type, entity.name.class",
                3,
                FontStyle::empty(),
            ),
            ("variable.parameter, entity.name.tag", 1, FontStyle::empty()),
            ("markup.inserted", 2, FontStyle::empty()),
            ("markup.deleted", 1, FontStyle::empty()),
        ];
        Theme {
            settings: ThemeSettings::default(),
            scopes: rules
                .iter()
                .filter_map(|(scopes, color, font)| {
                    Some(ThemeItem {
                        scope: ScopeSelectors::from_str(scopes).ok()?,
                        style: StyleModifier {
                            foreground: Some(ansi(*color)),
                            background: None,
                            font_style: Some(*font),
                        },
                    })
                })
                .collect(),
            ..Theme::default()
        }
    })
}

fn style_of(s: syntect::highlighting::Style, base: Style) -> Style {
    let mut out = base;
    let fg = s.foreground;
    if fg.a == 0 && fg.r == 0 && fg.g == 0 && fg.b < 16 {
        out = out.fg(Color::Indexed(fg.b));
    }
    if s.font_style.contains(FontStyle::BOLD) {
        out = out.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        out = out.add_modifier(Modifier::ITALIC);
    }
    out
}

/// The lines of `code` in `lang` as styled runs (`base` where no rule applies); `None` when
/// the language is unknown or the grammars cannot parse it.
pub fn highlight(lang: &str, lines: &[String], base: Style) -> Option<Vec<Vec<Run>>> {
    let set = syntaxes();
    let syntax = set
        .find_syntax_by_token(lang)
        .or_else(|| set.find_syntax_by_extension(lang))?;
    let highlighter = Highlighter::new(theme());
    let mut parse = ParseState::new(syntax);
    let mut state = HighlightState::new(&highlighter, ScopeStack::new());
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let with_nl = format!("{line}\n");
        let ops = parse.parse_line(&with_nl, set).ok()?;
        let mut runs: Vec<Run> = Vec::new();
        for (style, text, _) in
            RangedHighlightIterator::new(&mut state, &ops, &with_nl, &highlighter)
        {
            let text = text.trim_end_matches('\n');
            let style = style_of(style, base);
            match runs.last_mut() {
                _ if text.is_empty() => {}
                Some((last, st)) if *st == style => last.push_str(text),
                _ => runs.push((text.to_string(), style)),
            }
        }
        out.push(runs);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_keywords_strings_and_comments_get_colours() {
        let lines = vec![
            "fn main() { // entry".to_string(),
            "    let s = \"hi\";".to_string(),
        ];
        let base = Style::default();
        let got = highlight("rust", &lines, base).expect("rust is known");
        let style_of_text = |line: usize, t: &str| {
            got[line]
                .iter()
                .find(|(s, _)| s.contains(t))
                .map(|(_, st)| *st)
                .unwrap_or_else(|| panic!("{t:?} not in {:?}", got[line]))
        };
        assert_eq!(style_of_text(0, "fn").fg, Some(Color::Indexed(4)));
        assert_eq!(style_of_text(0, "// entry").fg, Some(Color::Indexed(8)));
        assert_eq!(style_of_text(1, "hi").fg, Some(Color::Indexed(2)));
        // Every character is still there, indentation included.
        let text: String = got[1].iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(text, lines[1]);
        assert!(highlight("no-such-language", &lines, base).is_none());
    }
}
