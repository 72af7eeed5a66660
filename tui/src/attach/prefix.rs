//! The prefix key of an attached terminal (tmux's `Ctrl-b`), as a byte-level state machine
//! shared by `agentmux attach` and the TUI's terminal pane: prefix then `d` detaches, prefix
//! twice sends one prefix, everything else reaches the program.

use agentmux_shared::{Error, Result};

/// The byte that follows the prefix to detach.
pub const DETACH: u8 = b'd';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    key: u8,
    /// The prefix was the last byte seen; the next byte is a command. Kept across reads,
    /// since a terminal may deliver the two keys in separate reads.
    armed: bool,
}

/// What one read turns into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtered {
    /// Bytes for the program.
    pub forward: Vec<u8>,
    /// The user asked to detach; bytes after the command are dropped.
    pub detach: bool,
}

impl Prefix {
    pub fn new(key: u8) -> Prefix {
        Prefix { key, armed: false }
    }

    #[cfg(test)]
    pub fn armed(&self) -> bool {
        self.armed
    }

    pub fn feed(&mut self, input: &[u8]) -> Filtered {
        let mut forward = Vec::with_capacity(input.len());
        for &b in input {
            if self.armed {
                self.armed = false;
                if b == DETACH {
                    return Filtered {
                        forward,
                        detach: true,
                    };
                }
                // Prefix twice is a literal prefix. Any other key is not a command we know:
                // pass both on rather than lose what was typed.
                if b != self.key {
                    forward.push(self.key);
                }
                forward.push(b);
            } else if b == self.key {
                self.armed = true;
            } else {
                forward.push(b);
            }
        }
        Filtered {
            forward,
            detach: false,
        }
    }
}

/// Parses `C-b`, `C-a`, `^A`, `Ctrl-]`, `C-Space`… into the control byte they send.
pub fn parse_prefix(s: &str) -> Result<u8> {
    let bad = |why: &str| Error::invalid(format!("prefix {s:?}: {why}"));
    let t = s.trim();
    let rest = ["C-", "c-", "Ctrl-", "ctrl-", "CTRL-", "^"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .ok_or_else(|| bad("expected a control key such as C-b, C-a or ^A"))?;
    let byte = match rest {
        "Space" | "space" | "@" => 0,
        _ => {
            let mut chars = rest.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(bad("expected one key after the control modifier"));
            };
            match c {
                'a'..='z' | 'A'..='Z' => (c.to_ascii_lowercase() as u8) & 0x1f,
                '\\' => 0x1c,
                ']' => 0x1d,
                '^' => 0x1e,
                '_' => 0x1f,
                _ => return Err(bad("not a control key")),
            }
        }
    };
    // These are keys every program needs: taking them would break typing.
    match byte {
        0x09 => Err(bad("C-i is Tab")),
        0x0a | 0x0d => Err(bad("C-j / C-m are Enter")),
        0x08 => Err(bad("C-h is Backspace")),
        _ => Ok(byte),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const C_B: u8 = 0x02;

    fn feed_all(p: &mut Prefix, reads: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for r in reads {
            let f = p.feed(r);
            out.extend(f.forward);
            if f.detach {
                return (out, true);
            }
        }
        (out, false)
    }

    #[test]
    fn check_sequences() {
        // (reads, bytes forwarded, detached)
        type Case<'a> = (&'a [&'a [u8]], &'a [u8], bool);
        let cases: &[Case] = &[
            // Plain bytes pass through untouched.
            (&[b"ls -l\r"], b"ls -l\r", false),
            (&[b"\x1b[A\x03"], b"\x1b[A\x03", false),
            // Prefix then d detaches; what came before is still sent, what follows is not.
            (&[b"ab\x02dxyz"], b"ab", true),
            (&[b"\x02d"], b"", true),
            // Prefix twice sends one prefix.
            (&[b"\x02\x02"], b"\x02", false),
            (&[b"\x02\x02d"], b"\x02d", false),
            // Prefix then another key sends both.
            (&[b"\x02x"], b"\x02x", false),
            (&[b"\x02\x1b[A"], b"\x02\x1b[A", false),
            // Split across reads.
            (&[b"echo\x02", b"d"], b"echo", true),
            (&[b"\x02", b"\x02", b"q"], b"\x02q", false),
            (&[b"\x02", b"x"], b"\x02x", false),
            // A lone prefix waits for the next key.
            (&[b"hi\x02"], b"hi", false),
        ];
        for (reads, want, detach) in cases {
            let mut p = Prefix::new(C_B);
            let got = feed_all(&mut p, reads);
            assert_eq!(got, (want.to_vec(), *detach), "reads {reads:?}");
        }
    }

    #[test]
    fn armed_state_survives_between_reads() {
        let mut p = Prefix::new(C_B);
        assert_eq!(p.feed(b"\x02").forward, b"");
        assert!(p.armed());
        let f = p.feed(b"d");
        assert!(f.detach);
        assert!(!p.armed());
    }

    #[test]
    fn parses_prefix_spellings() {
        for (s, want) in [
            ("C-b", 0x02),
            ("C-a", 0x01),
            ("^A", 0x01),
            ("ctrl-B", 0x02),
            ("C-]", 0x1d),
            ("C-\\", 0x1c),
            ("C-Space", 0x00),
        ] {
            assert_eq!(parse_prefix(s).ok(), Some(want), "{s}");
        }
        for bad in ["b", "C-", "C-ab", "C-m", "C-i", "C-1", "M-b"] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
    }
}
