//! Key events → the bytes a terminal would send for them (xterm conventions), for typing
//! into the terminal pane.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The bytes for `k`; empty for keys that send nothing. `app_cursor`: the program asked for
/// application cursor keys (`ESC O A` instead of `ESC [ A`), as vim and less do.
pub fn encode(k: &KeyEvent, app_cursor: bool) -> Vec<u8> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    let mut out = Vec::new();
    // Alt sends ESC before the key, as xterm does with metaSendsEscape.
    if alt && !matches!(k.code, KeyCode::Esc) {
        out.push(0x1b);
    }
    match k.code {
        KeyCode::Char(c) if ctrl => match control_byte(c) {
            Some(b) => out.push(b),
            None => push_char(&mut out, c),
        },
        KeyCode::Char(c) => push_char(&mut out, c),
        KeyCode::Enter => out.push(b'\r'),
        KeyCode::Tab => out.push(b'\t'),
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => out.push(0x7f),
        KeyCode::Esc => out.push(0x1b),
        KeyCode::Up => cursor_key(&mut out, b'A', k.modifiers, app_cursor),
        KeyCode::Down => cursor_key(&mut out, b'B', k.modifiers, app_cursor),
        KeyCode::Right => cursor_key(&mut out, b'C', k.modifiers, app_cursor),
        KeyCode::Left => cursor_key(&mut out, b'D', k.modifiers, app_cursor),
        KeyCode::Home => cursor_key(&mut out, b'H', k.modifiers, app_cursor),
        KeyCode::End => cursor_key(&mut out, b'F', k.modifiers, app_cursor),
        KeyCode::Insert => tilde_key(&mut out, 2, k.modifiers),
        KeyCode::Delete => tilde_key(&mut out, 3, k.modifiers),
        KeyCode::PageUp => tilde_key(&mut out, 5, k.modifiers),
        KeyCode::PageDown => tilde_key(&mut out, 6, k.modifiers),
        KeyCode::F(n @ 1..=4) => {
            out.extend_from_slice(b"\x1bO");
            out.push(b'P' + n - 1);
        }
        KeyCode::F(n) => {
            let code = match n {
                5 => 15,
                6 => 17,
                7 => 18,
                8 => 19,
                9 => 20,
                10 => 21,
                11 => 23,
                12 => 24,
                _ => return Vec::new(),
            };
            tilde_key(&mut out, code, k.modifiers);
        }
        _ => return Vec::new(),
    }
    out
}

fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// Ctrl plus a key: the C0 control byte it sends.
fn control_byte(c: char) -> Option<u8> {
    Some(match c {
        'a'..='z' => c as u8 - b'a' + 1,
        'A'..='Z' => c as u8 - b'A' + 1,
        ' ' | '@' | '2' => 0,
        '[' | '3' => 0x1b,
        '\\' | '4' => 0x1c,
        ']' | '5' => 0x1d,
        '^' | '6' => 0x1e,
        '_' | '-' | '7' => 0x1f,
        '?' | '8' => 0x7f,
        _ => return None,
    })
}

/// xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4); 1 means none.
fn modifier_param(m: KeyModifiers) -> u8 {
    1 + u8::from(m.contains(KeyModifiers::SHIFT))
        + 2 * u8::from(m.contains(KeyModifiers::ALT))
        + 4 * u8::from(m.contains(KeyModifiers::CONTROL))
}

fn cursor_key(out: &mut Vec<u8>, letter: u8, m: KeyModifiers, app_cursor: bool) {
    // The ESC that Alt added is replaced by the modifier parameter.
    if m.contains(KeyModifiers::ALT) {
        out.pop();
    }
    match modifier_param(m) {
        1 if app_cursor => out.extend_from_slice(b"\x1bO"),
        1 => out.extend_from_slice(b"\x1b["),
        p => out.extend_from_slice(format!("\x1b[1;{p}").as_bytes()),
    }
    out.push(letter);
}

fn tilde_key(out: &mut Vec<u8>, code: u8, m: KeyModifiers) {
    if m.contains(KeyModifiers::ALT) {
        out.pop();
    }
    match modifier_param(m) {
        1 => out.extend_from_slice(format!("\x1b[{code}~").as_bytes()),
        p => out.extend_from_slice(format!("\x1b[{code};{p}~").as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn check_encodings() {
        use KeyCode::*;
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        let alt = KeyModifiers::ALT;
        let cases: &[(KeyEvent, bool, &[u8])] = &[
            (key(Char('a'), none), false, b"a"),
            (key(Char('é'), none), false, "é".as_bytes()),
            (key(Char('A'), KeyModifiers::SHIFT), false, b"A"),
            (key(Char('c'), ctrl), false, b"\x03"),
            (key(Char('b'), ctrl), false, b"\x02"),
            (key(Char(' '), ctrl), false, b"\x00"),
            (key(Char('x'), alt), false, b"\x1bx"),
            (key(Enter, none), false, b"\r"),
            (key(Backspace, none), false, b"\x7f"),
            (key(Esc, none), false, b"\x1b"),
            (key(Up, none), false, b"\x1b[A"),
            (key(Up, none), true, b"\x1bOA"),
            (key(Right, ctrl), true, b"\x1b[1;5C"),
            (key(Left, alt), false, b"\x1b[1;3D"),
            (key(PageUp, none), false, b"\x1b[5~"),
            (key(Delete, ctrl), false, b"\x1b[3;5~"),
            (key(F(1), none), false, b"\x1bOP"),
            (key(F(5), none), false, b"\x1b[15~"),
            (key(BackTab, KeyModifiers::SHIFT), false, b"\x1b[Z"),
            (key(CapsLock, none), false, b""),
        ];
        for (k, app, want) in cases {
            assert_eq!(encode(k, *app), want.to_vec(), "{k:?} app_cursor={app}");
        }
    }
}
