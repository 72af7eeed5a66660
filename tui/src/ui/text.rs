//! Measuring and cutting text to terminal columns: word wrap and truncation, shared by the
//! views that lay out text themselves.

use ratatui::text::Span;

/// Cuts to `max` columns, ending with `…` when something was dropped.
pub fn truncate(s: &str, max: usize) -> String {
    if Span::raw(s).width() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

pub fn char_width(c: char) -> usize {
    // ratatui measures with unicode-width; going through it keeps our wrap and its
    // rendering in agreement without another dependency.
    Span::raw(&*c.encode_utf8(&mut [0; 4])).width()
}

/// Greedy word wrap to `width` columns; words longer than a line are split anywhere.
/// Newlines are kept as line breaks; tabs become spaces and other control characters are
/// dropped so they cannot move the terminal cursor. A line's leading spaces (code, nested
/// lists, YAML) are kept, and its wrapped continuation lines hang at the same indent.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let para = para.replace('\t', "    ");
        let body = para.trim_start_matches(' ');
        // At most half the width: the text itself must keep room.
        let indent = (para.len() - body.len()).min(width / 2);
        let pad = " ".repeat(indent);
        for line in wrap_words(body, width - indent) {
            out.push(format!("{pad}{line}"));
        }
    }
    out
}

fn wrap_words(para: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut w = 0usize;
    for word in para.split(' ') {
        let word: String = word.chars().filter(|c| !c.is_control()).collect();
        let ww: usize = word.chars().map(char_width).sum();
        if w > 0 {
            if w + 1 + ww <= width {
                line.push(' ');
                w += 1;
            } else {
                out.push(std::mem::take(&mut line));
                w = 0;
            }
        }
        if ww <= width - w {
            line.push_str(&word);
            w += ww;
            continue;
        }
        for c in word.chars() {
            let cw = char_width(c);
            if w + cw > width && w > 0 {
                out.push(std::mem::take(&mut line));
                w = 0;
            }
            line.push(c);
            w += cw;
        }
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn wrap_cases() {
        let check = |text: &str, width: usize, want: &[&str]| {
            assert_eq!(wrap(text, width), want, "{text:?} at {width}");
        };
        check("", 10, &[""]);
        check("hello world", 20, &["hello world"]);
        check("hello world", 5, &["hello", "world"]);
        check("hello world", 8, &["hello", "world"]);
        check("a\n\nb", 8, &["a", "", "b"]);
        check("abcdefghij", 4, &["abcd", "efgh", "ij"]);
        check("ab abcdefgh", 4, &["ab", "abcd", "efgh"]);
        check("日本語テキスト", 6, &["日本語", "テキス", "ト"]);
        check("a\tb\x1b[2J", 20, &["a    b[2J"]);
        // Indentation is kept, and wrapped lines hang at it.
        check("    println!(x);", 30, &["    println!(x);"]);
        check(
            "fn f() {\n    let a = 1;\n}",
            30,
            &["fn f() {", "    let a = 1;", "}"],
        );
        check("  - item one two", 10, &["  - item", "  one two"]);
        check("\tx", 20, &["    x"]);
        check("          deep", 8, &["    deep"]);
    }
}
