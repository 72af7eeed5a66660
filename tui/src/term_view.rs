//! The TUI's copy of the selected terminal's screen: a vt100 parser fed with the daemon's
//! snapshot and output, plus the state of its attachment. Part of `State`, so only
//! `App::update` changes it.

use crate::attach::{AltScan, Prefix};
use crate::client::{ScreenSnapshot, TerminalExit};
use std::num::NonZeroU16;

/// Where the attachment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Asked for; no snapshot yet.
    Attaching,
    /// Snapshot received; output flows.
    Attached,
    /// The program exited (see `exit`) or the stream ended.
    Ended,
}

pub struct TermView {
    pub id: String,
    /// Of the attachment whose events are applied; events of older ones are dropped.
    pub generation: u64,
    pub link: Link,
    pub exit: Option<TerminalExit>,
    /// Why the attachment ended, when it was not the program exiting.
    pub error: Option<String>,
    /// The size last asked of the daemon (rows, cols).
    pub size: (u16, u16),
    /// Prefix-key state for the keys typed into the pane.
    pub prefix: Prefix,
    parser: vt100::Parser,
    scan: AltScan,
}

fn dim(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

impl TermView {
    pub fn new(id: &str, generation: u64, size: (u16, u16), prefix: u8) -> TermView {
        TermView {
            id: id.to_string(),
            generation,
            link: Link::Attaching,
            exit: None,
            error: None,
            size,
            prefix: Prefix::new(prefix),
            parser: vt100::Parser::new(dim(size.0), dim(size.1), 0),
            scan: AltScan::default(),
        }
    }

    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Replaces the screen with a snapshot (at attach, or after this client fell behind).
    pub(crate) fn snapshot(&mut self, s: &ScreenSnapshot) {
        self.parser = vt100::Parser::new(dim(s.rows), dim(s.cols), 0);
        self.parser.process(&s.screen);
        self.scan = AltScan::default();
        self.link = Link::Attached;
        self.exit = None;
        self.error = None;
    }

    /// Applies program output. True when the program went back to a screen this copy never
    /// saw (it attached while vim ran and vim quit): only a fresh snapshot can show it.
    pub(crate) fn output(&mut self, data: &[u8]) -> bool {
        let was_alt = self.parser.screen().alternate_screen();
        self.parser.process(data);
        self.scan.feed(data).leaves_unknown_screen(was_alt)
    }

    pub(crate) fn resize(&mut self, rows: u16, cols: u16) {
        self.size = (rows, cols);
        self.parser.set_size(dim(rows), dim(cols));
    }
}

// vt100's parser is neither Clone nor comparable; its formatted state stands in for it, which
// is what a redraw would reproduce.
impl Clone for TermView {
    fn clone(&self) -> Self {
        let (rows, cols) = self.parser.screen().size();
        let mut parser = vt100::Parser::new(rows, cols, 0);
        parser.process(self.parser.screen().state_formatted().as_bytes());
        TermView {
            id: self.id.clone(),
            generation: self.generation,
            link: self.link.clone(),
            exit: self.exit.clone(),
            error: self.error.clone(),
            size: self.size,
            prefix: self.prefix,
            parser,
            scan: self.scan.clone(),
        }
    }
}

impl PartialEq for TermView {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.generation == other.generation
            && self.link == other.link
            && self.exit == other.exit
            && self.error == other.error
            && self.size == other.size
            && self.prefix == other.prefix
            && self.parser.screen().state_formatted() == other.parser.screen().state_formatted()
    }
}

impl Eq for TermView {}

impl std::fmt::Debug for TermView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermView")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .field("link", &self.link)
            .field("exit", &self.exit)
            .field("size", &self.size)
            .field("contents", &self.parser.screen().contents())
            .finish()
    }
}
