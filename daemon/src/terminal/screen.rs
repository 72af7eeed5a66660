//! A terminal's screen state and its output broadcast, under one lock so that a snapshot and
//! the output that follows it never overlap or leave a gap.

use bytes::Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::broadcast;

/// Output chunks kept for attached clients; one that falls further behind gets a snapshot.
const OUTPUT_BUFFER: usize = 64;

pub struct Screen {
    inner: Mutex<Inner>,
    /// Set by output, cleared when the screen is saved.
    dirty: AtomicBool,
}

struct Inner {
    parser: vt100::Parser,
    tx: broadcast::Sender<Bytes>,
}

/// What a client needs to draw the current screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub rows: u16,
    pub cols: u16,
    /// Escape sequences that redraw the screen, attributes, cursor and input modes.
    pub screen: Vec<u8>,
    /// Plain-text scrollback lines, oldest first.
    pub scrollback: Vec<String>,
}

fn size(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

impl Screen {
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Screen {
        let (tx, _) = broadcast::channel(OUTPUT_BUFFER);
        Screen {
            inner: Mutex::new(Inner {
                parser: vt100::Parser::new(size(rows), size(cols), scrollback),
                tx,
            }),
            dirty: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the parser half-updated in a way that
        // matters more than losing the terminal, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies program output and hands it to attached clients.
    pub fn feed(&self, data: &[u8]) {
        let mut g = self.lock();
        g.parser.process(data);
        // No receivers is fine: nobody is attached.
        let _ = g.tx.send(Bytes::copy_from_slice(data));
        self.dirty.store(true, Ordering::Relaxed);
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        self.lock().parser.set_size(size(rows), size(cols));
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The current screen and a receiver for everything after it.
    pub fn attach(&self, scrollback_lines: usize) -> (Snapshot, broadcast::Receiver<Bytes>) {
        let mut g = self.lock();
        let snap = snapshot(&mut g.parser, scrollback_lines);
        (snap, g.tx.subscribe())
    }

    pub fn snapshot(&self, scrollback_lines: usize) -> Snapshot {
        snapshot(&mut self.lock().parser, scrollback_lines)
    }

    /// Takes the dirty flag: true if output arrived since the last call.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::Relaxed)
    }

    /// Restores a saved screen (after a daemon restart), so an exited terminal still shows it.
    pub fn restore(&self, saved: &Snapshot) {
        let mut g = self.lock();
        for line in &saved.scrollback {
            g.parser.process(line.as_bytes());
            g.parser.process(b"\r\n");
        }
        g.parser.process(&saved.screen);
    }

    /// The visible rows as plain text (for tests and previews).
    pub fn text(&self) -> String {
        self.lock().parser.screen().contents()
    }
}

fn snapshot(parser: &mut vt100::Parser, scrollback_lines: usize) -> Snapshot {
    let scrollback = scrollback_text(parser, scrollback_lines);
    let s = parser.screen();
    let (rows, cols) = s.size();
    let mut screen = s.contents_formatted().into_bytes();
    screen.extend_from_slice(s.input_mode_formatted().as_bytes());
    Snapshot {
        rows: rows.get(),
        cols: cols.get(),
        screen,
        scrollback,
    }
}

/// The last `want` scrollback lines, read by scrolling the view back one screenful at a time.
fn scrollback_text(parser: &mut vt100::Parser, want: usize) -> Vec<String> {
    if want == 0 {
        return Vec::new();
    }
    let screen = parser.screen_mut();
    screen.set_scrollback(usize::MAX);
    let available = screen.scrollback();
    let total = want.min(available);
    let rows = usize::from(screen.size().0.get());
    let cols = screen.size().1.get();
    let mut out = Vec::with_capacity(total);
    let mut offset = total;
    while offset > 0 {
        screen.set_scrollback(offset);
        let take = offset.min(rows);
        out.extend(screen.rows(0, cols).take(take));
        offset -= take;
    }
    screen.set_scrollback(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_redraws_the_screen_and_keeps_scrollback() {
        let s = Screen::new(4, 20, 100);
        for i in 0..10 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        s.feed(b"\x1b[1;31mred\x1b[0m");
        let snap = s.snapshot(100);
        assert_eq!((snap.rows, snap.cols), (4, 20));
        assert_eq!(
            snap.scrollback,
            (0..7).map(|i| format!("line {i}")).collect::<Vec<_>>()
        );
        let copy = Screen::new(4, 20, 0);
        copy.feed(&snap.screen);
        assert_eq!(copy.text(), s.text());
        assert!(copy.text().ends_with("red"), "{:?}", copy.text());
        assert_eq!(s.snapshot(3).scrollback, ["line 4", "line 5", "line 6"]);
    }

    #[test]
    fn attach_sees_everything_after_its_snapshot() {
        let s = Screen::new(4, 20, 10);
        s.feed(b"before ");
        let (snap, mut rx) = s.attach(0);
        s.feed(b"after");
        let copy = Screen::new(4, 20, 0);
        copy.feed(&snap.screen);
        copy.feed(&rx.try_recv().unwrap());
        assert_eq!(copy.text(), "before after");
    }
}
