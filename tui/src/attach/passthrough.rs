//! What `agentmux attach` writes to the user's terminal: the program's bytes as they come,
//! except switches between the main and alternate screen, which are replaced by a redraw
//! from a local copy of the screen.
//!
//! Why: attach runs on the user's alternate screen. A program's own `ESC[?1049l` (vim or less
//! quitting) would drop the user's terminal back to their shell's screen and scribble on it,
//! and a snapshot taken while vim runs cannot say "this is the alternate screen". A local vt100
//! parser knows what each screen holds, so a toggle becomes "draw what is now visible".

use std::num::NonZeroU16;

/// Cancels an escape sequence the terminal may be in the middle of (an earlier chunk can end
/// inside one), then resets attributes, before a redraw.
const RESET: &[u8] = b"\x18\x1b[0m";

pub struct Passthrough {
    parser: vt100::Parser,
    scan: AltScan,
    resync: bool,
}

fn dim(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

impl Passthrough {
    pub fn new(rows: u16, cols: u16) -> Passthrough {
        Passthrough {
            parser: vt100::Parser::new(dim(rows), dim(cols), 0),
            scan: AltScan::default(),
            resync: false,
        }
    }

    /// A fresh snapshot (at attach, or after falling behind): clear and draw it.
    pub fn snapshot(&mut self, rows: u16, cols: u16, screen: &[u8]) -> Vec<u8> {
        self.parser = vt100::Parser::new(dim(rows), dim(cols), 0);
        self.parser.process(screen);
        self.scan = AltScan::default();
        let mut out = Vec::with_capacity(screen.len() + 16);
        out.extend_from_slice(RESET);
        out.extend_from_slice(b"\x1b[H\x1b[2J");
        out.extend_from_slice(screen);
        out
    }

    /// Program output: the same bytes, or a redraw when they switch screens.
    pub fn output<'a>(&mut self, data: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let was_alt = self.parser.screen().alternate_screen();
        self.parser.process(data);
        let switch = self.scan.feed(data);
        if switch.leaves_unknown_screen(was_alt) {
            self.resync = true;
        }
        if !switch.any {
            return std::borrow::Cow::Borrowed(data);
        }
        std::borrow::Cow::Owned(self.redraw())
    }

    /// Whether the program went back to a screen this copy never saw, so only a fresh
    /// snapshot from the daemon can show it. Cleared by the call.
    pub fn take_resync(&mut self) -> bool {
        std::mem::take(&mut self.resync)
    }

    /// The whole visible screen, cursor included.
    pub fn redraw(&self) -> Vec<u8> {
        let mut out = RESET.to_vec();
        out.extend_from_slice(self.parser.screen().contents_formatted().as_bytes());
        out
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.set_size(dim(rows), dim(cols));
    }

    #[cfg(test)]
    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }
}

/// Finds `CSI ? Pm h|l` sequences that switch screens (modes 47, 1047, 1049), across chunk
/// boundaries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AltScan {
    state: Scan,
}

/// The screen switches in one chunk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    pub any: bool,
    /// The first switch in the chunk goes back to the main screen.
    pub first_leaves: bool,
}

impl Switches {
    /// A snapshot cannot say "this is the alternate screen" (nor what the main screen holds),
    /// so a copy built from one taken while vim ran believes it is on the main screen. When
    /// the program then leaves the alternate screen, the copy does not know what to show.
    pub fn leaves_unknown_screen(self, copy_was_alt: bool) -> bool {
        self.first_leaves && !copy_was_alt
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Scan {
    #[default]
    Ground,
    Esc,
    Csi {
        private: bool,
        /// The parameter being read.
        param: u32,
        /// A screen-switching mode was among the parameters so far.
        hit: bool,
    },
}

fn is_alt_mode(p: u32) -> bool {
    matches!(p, 47 | 1047 | 1049)
}

impl AltScan {
    /// The screen switches that `data` completes.
    pub fn feed(&mut self, data: &[u8]) -> Switches {
        let mut found = Switches::default();
        for &b in data {
            self.state = match (self.state, b) {
                (_, 0x1b) => Scan::Esc,
                (Scan::Esc, b'[') => Scan::Csi {
                    private: false,
                    param: 0,
                    hit: false,
                },
                (Scan::Csi { param, hit, .. }, b'?') if param == 0 && !hit => Scan::Csi {
                    private: true,
                    param: 0,
                    hit: false,
                },
                (
                    Scan::Csi {
                        private,
                        param,
                        hit,
                    },
                    b'0'..=b'9',
                ) => Scan::Csi {
                    private,
                    param: param.saturating_mul(10).saturating_add(u32::from(b - b'0')),
                    hit,
                },
                (
                    Scan::Csi {
                        private,
                        param,
                        hit,
                    },
                    b';',
                ) => Scan::Csi {
                    private,
                    param: 0,
                    hit: hit || is_alt_mode(param),
                },
                (
                    Scan::Csi {
                        private,
                        param,
                        hit,
                    },
                    b'h' | b'l',
                ) => {
                    if private && (hit || is_alt_mode(param)) {
                        if !found.any {
                            found.first_leaves = b == b'l';
                        }
                        found.any = true;
                    }
                    Scan::Ground
                }
                // Intermediate bytes keep the sequence going; any other final byte ends it.
                (s @ Scan::Csi { .. }, 0x20..=0x2f) => s,
                _ => Scan::Ground,
            };
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Vec<bool> {
        let mut s = AltScan::default();
        chunks.iter().map(|c| s.feed(c).any).collect()
    }

    #[test]
    fn finds_screen_switches() {
        assert_eq!(scan(&[b"\x1b[?1049h"]), [true]);
        assert_eq!(scan(&[b"text\x1b[?1049l more"]), [true]);
        assert_eq!(scan(&[b"\x1b[?47h"]), [true]);
        assert_eq!(scan(&[b"\x1b[?1;1049h"]), [true]);
        assert_eq!(scan(&[b"\x1b[?1049;1h"]), [true]);
        // Split across chunks: the chunk that completes it counts.
        assert_eq!(scan(&[b"abc\x1b[?10", b"49h"]), [false, true]);
        assert_eq!(scan(&[b"\x1b", b"[?1049l"]), [false, true]);
        // Other modes and non-private sequences do not.
        assert_eq!(scan(&[b"\x1b[?25l\x1b[?2004h\x1b[1049h\x1b[47m"]), [false]);
        assert_eq!(scan(&[b"\x1b[?10490h"]), [false]);
    }

    #[test]
    fn leaving_vim_redraws_the_shell_screen() {
        let mut p = Passthrough::new(5, 20);
        let plain = p.output(b"$ vim\r\n").into_owned();
        assert_eq!(plain, b"$ vim\r\n");
        let enter = p.output(b"\x1b[?1049h\x1b[H\x1b[2J~ vim").into_owned();
        assert!(enter.starts_with(RESET), "{enter:?}");
        assert!(!enter.windows(8).any(|w| w == b"\x1b[?1049"), "{enter:?}");
        assert!(p.screen().contents().contains("~ vim"));
        let leave = p.output(b"\x1b[?1049l").into_owned();
        // The redraw shows the shell's screen again, not vim's.
        let mut copy = vt100::Parser::new(dim(5), dim(20), 0);
        copy.process(&leave);
        assert_eq!(copy.screen().contents(), "$ vim");
    }

    #[test]
    fn leaving_a_screen_the_snapshot_hid_asks_for_a_resync() {
        let mut p = Passthrough::new(5, 20);
        // Attached while vim ran: the copy thinks vim's screen is the main one.
        p.snapshot(5, 20, b"~ vim");
        p.output(b"\x1b[?1049l$ ");
        assert!(p.take_resync());
        assert!(!p.take_resync());
        // Seen from the start, the copy knows both screens.
        p.output(b"\x1b[?1049h~ vim again");
        p.output(b"\x1b[?1049l");
        assert!(!p.take_resync());
    }

    #[test]
    fn snapshot_clears_then_draws() {
        let mut p = Passthrough::new(5, 20);
        let out = p.snapshot(3, 10, b"hello");
        assert!(out.ends_with(b"\x1b[H\x1b[2Jhello"), "{out:?}");
        assert_eq!(p.screen().size(), (dim(3), dim(10)));
        assert_eq!(p.screen().contents(), "hello");
    }
}
