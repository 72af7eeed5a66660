//! A terminal's screen state and its output broadcast.
//!
//! Output is handed to attached clients as soon as it is read; a parser thread applies it to
//! the vt100 screen in parallel, so a slow parse never slows the stream. Chunks read but not yet
//! parsed wait in `pending`; an attach takes the parser's snapshot plus that backlog under both
//! locks, so snapshot + backlog + live output has no gap and no overlap.
//!
//! The live parser keeps no scrollback (vt100's scrollback costs two thirds of its speed).
//! Instead the raw output of the last `scrollback` lines is kept, and scrollback text is
//! rebuilt from it only when asked for.

use agentmux_shared::types::ScreenSnapshot;
use bytes::Bytes;
use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Output chunks kept for attached clients; one that falls further behind gets a snapshot.
const OUTPUT_BUFFER: usize = 64;
/// Output read but not yet parsed, beyond which the reader waits (and so does the program).
const MAX_PENDING: usize = 8 * 1024 * 1024;
/// Most bytes of raw history kept, whatever the line count.
const MAX_HISTORY_BYTES: usize = 8 * 1024 * 1024;

pub struct Screen {
    parser: Mutex<vt100::Parser>,
    feed: Mutex<Feed>,
    /// Signals the parser thread: output arrived, or the reader ended.
    wake: Condvar,
    /// Signals the reader: the backlog shrank.
    space: Condvar,
    /// Set by output, cleared when the screen is saved.
    dirty: AtomicBool,
    scrollback: usize,
}

struct Feed {
    pending: VecDeque<Bytes>,
    pending_bytes: usize,
    tx: broadcast::Sender<Bytes>,
    history: History,
    /// Scrollback restored from a saved screen, older than everything in `history`.
    saved_scrollback: Vec<String>,
    /// The reader ended; the parser thread stops once `pending` is empty.
    closed: bool,
    /// Counts program starts, so a reader of an earlier run cannot close a later one's feed.
    generation: u64,
}

/// Raw output covering about the last `max_lines` lines.
#[derive(Default)]
struct History {
    chunks: VecDeque<(Bytes, usize)>,
    lines: usize,
    bytes: usize,
    max_lines: usize,
}

impl History {
    fn push(&mut self, chunk: Bytes) {
        let n = chunk.iter().filter(|b| **b == b'\n').count();
        self.lines += n;
        self.bytes += chunk.len();
        self.chunks.push_back((chunk, n));
        while let Some((front, lines)) = self.chunks.front() {
            let excess_lines = self.lines - lines >= self.max_lines;
            if !(excess_lines || self.bytes > MAX_HISTORY_BYTES) || self.chunks.len() == 1 {
                break;
            }
            self.lines -= lines;
            self.bytes -= front.len();
            self.chunks.pop_front();
        }
    }
}

fn size(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

/// A lock guard even if a thread panicked while holding it: the screen then may be a little
/// off, which is better than losing the terminal.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Screen {
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Screen {
        let (tx, _) = broadcast::channel(OUTPUT_BUFFER);
        Screen {
            parser: Mutex::new(vt100::Parser::new(size(rows), size(cols), 0)),
            feed: Mutex::new(Feed {
                pending: VecDeque::new(),
                pending_bytes: 0,
                tx,
                history: History {
                    max_lines: scrollback + usize::from(rows),
                    ..History::default()
                },
                saved_scrollback: Vec::new(),
                closed: true,
                generation: 0,
            }),
            wake: Condvar::new(),
            space: Condvar::new(),
            dirty: AtomicBool::new(false),
            scrollback,
        }
    }

    /// Starts accepting output (a program is starting); returns this run's generation.
    pub fn open(&self) -> u64 {
        let mut f = lock(&self.feed);
        f.closed = false;
        f.generation += 1;
        f.generation
    }

    /// No more output is coming from run `generation`; the parser thread finishes the backlog
    /// and returns. A stale generation (an earlier run's reader ending late) changes nothing.
    pub fn close(&self, generation: u64) {
        let mut f = lock(&self.feed);
        if f.generation != generation {
            return;
        }
        f.closed = true;
        drop(f);
        self.wake.notify_all();
        self.space.notify_all();
    }

    /// Called by the reader: hands output to attached clients and queues it for parsing.
    pub fn feed(&self, data: &[u8]) {
        let chunk = Bytes::copy_from_slice(data);
        let mut f = lock(&self.feed);
        while f.pending_bytes > MAX_PENDING && !f.closed {
            f = self.space.wait(f).unwrap_or_else(|p| p.into_inner());
        }
        f.pending_bytes += chunk.len();
        f.pending.push_back(chunk.clone());
        f.history.push(chunk.clone());
        // No receivers is fine: nobody is attached.
        let _ = f.tx.send(chunk);
        drop(f);
        self.wake.notify_one();
    }

    /// The parser thread's loop: applies queued output until `close` and an empty backlog.
    pub fn parse_until_closed(&self) {
        loop {
            {
                let mut f = lock(&self.feed);
                while f.pending.is_empty() {
                    if f.closed {
                        return;
                    }
                    f = self.wake.wait(f).unwrap_or_else(|p| p.into_inner());
                }
            }
            // Parser first, then feed: the same order as `attach`, so the backlog an attach
            // sees is exactly what the parser has not applied.
            let mut p = lock(&self.parser);
            let batch: Vec<Bytes> = {
                let mut f = lock(&self.feed);
                f.pending_bytes = 0;
                f.pending.drain(..).collect()
            };
            self.space.notify_all();
            for chunk in &batch {
                p.process(chunk);
            }
            drop(p);
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        lock(&self.parser).set_size(size(rows), size(cols));
        lock(&self.feed).history.max_lines = self.scrollback + usize::from(rows);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The current screen, the output not yet in it, and a receiver for everything after.
    pub fn attach(
        &self,
        scrollback_lines: usize,
    ) -> (ScreenSnapshot, Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let p = lock(&self.parser);
        let f = lock(&self.feed);
        let mut snap = format(&p);
        let backlog: Vec<Bytes> = f.pending.iter().cloned().collect();
        let rx = f.tx.subscribe();
        let history = (scrollback_lines > 0).then(|| history_of(&f));
        drop(f);
        drop(p);
        if let Some((saved, raw)) = history {
            snap.scrollback = scrollback_from(saved, &raw, snap.rows, snap.cols, scrollback_lines);
        }
        (snap, backlog, rx)
    }

    /// The screen with all output read so far applied, and up to `scrollback_lines` of history.
    pub fn snapshot(&self, scrollback_lines: usize) -> ScreenSnapshot {
        let (mut snap, backlog, _) = self.attach(scrollback_lines);
        if !backlog.is_empty() {
            let mut copy = vt100::Parser::new(size(snap.rows), size(snap.cols), 0);
            copy.process(&snap.screen);
            for b in &backlog {
                copy.process(b);
            }
            let scrollback = std::mem::take(&mut snap.scrollback);
            snap = format(&copy);
            snap.scrollback = scrollback;
        }
        snap
    }

    /// Takes the dirty flag: true if output arrived since the last call.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::Relaxed)
    }

    /// Restores a saved screen (after a daemon restart), so an exited terminal still shows it.
    pub fn restore(&self, saved: &ScreenSnapshot) {
        let mut p = lock(&self.parser);
        p.set_size(size(saved.rows), size(saved.cols));
        p.process(&saved.screen);
        lock(&self.feed).saved_scrollback = saved.scrollback.clone();
    }

    /// The visible rows as plain text, with everything read so far applied.
    pub fn text(&self) -> String {
        let snap = self.snapshot(0);
        let mut p = vt100::Parser::new(size(snap.rows), size(snap.cols), 0);
        p.process(&snap.screen);
        p.screen().contents()
    }
}

fn format(p: &vt100::Parser) -> ScreenSnapshot {
    let s = p.screen();
    let (rows, cols) = s.size();
    // vt100 draws the visible screen but does not say which one it is: switch to the
    // alternate screen first so the client's own modes (and its scrollback) match.
    let mut screen = if s.alternate_screen() {
        b"\x1b[?1049h".to_vec()
    } else {
        Vec::new()
    };
    screen.extend_from_slice(s.contents_formatted().as_bytes());
    screen.extend_from_slice(s.input_mode_formatted().as_bytes());
    ScreenSnapshot {
        rows: rows.get(),
        cols: cols.get(),
        screen,
        scrollback: Vec::new(),
        terminal: None,
    }
}

fn history_of(f: &Feed) -> (Vec<String>, Vec<Bytes>) {
    (
        f.saved_scrollback.clone(),
        f.history.chunks.iter().map(|(b, _)| b.clone()).collect(),
    )
}

/// Replays the raw history into a parser that keeps scrollback and reads the last `want` lines.
fn scrollback_from(
    saved: Vec<String>,
    raw: &[Bytes],
    rows: u16,
    cols: u16,
    want: usize,
) -> Vec<String> {
    let mut p = vt100::Parser::new(size(rows), size(cols), want);
    for chunk in raw {
        p.process(chunk);
    }
    let mut lines = saved;
    lines.extend(scrollback_text(&mut p, want));
    let skip = lines.len().saturating_sub(want);
    lines.drain(..skip);
    lines
}

/// The last `want` scrollback lines, read by scrolling the view back one screenful at a time.
fn scrollback_text(parser: &mut vt100::Parser, want: usize) -> Vec<String> {
    let screen = parser.screen_mut();
    screen.set_scrollback(usize::MAX);
    let total = want.min(screen.scrollback());
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
    use std::sync::Arc;

    fn running(
        rows: u16,
        cols: u16,
        scrollback: usize,
    ) -> (Arc<Screen>, std::thread::JoinHandle<()>) {
        let s = Arc::new(Screen::new(rows, cols, scrollback));
        assert_eq!(s.open(), 1);
        let p = s.clone();
        (s, std::thread::spawn(move || p.parse_until_closed()))
    }

    #[test]
    fn snapshot_redraws_the_screen_and_keeps_scrollback() {
        let (s, t) = running(4, 20, 100);
        for i in 0..10 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        s.feed(b"\x1b[1;31mred\x1b[0m");
        s.close(0);
        assert!(
            !lock(&s.feed).closed,
            "a stale generation does not close the feed"
        );
        s.close(1);
        t.join().unwrap();
        let snap = s.snapshot(100);
        assert_eq!((snap.rows, snap.cols), (4, 20));
        assert_eq!(
            snap.scrollback,
            (0..7).map(|i| format!("line {i}")).collect::<Vec<_>>()
        );
        let copy = Screen::new(4, 20, 0);
        copy.restore(&snap);
        assert_eq!(copy.text(), s.text());
        assert!(copy.text().ends_with("red"), "{:?}", copy.text());
        assert_eq!(s.snapshot(3).scrollback, ["line 4", "line 5", "line 6"]);
        assert_eq!(copy.snapshot(3).scrollback, ["line 4", "line 5", "line 6"]);
    }

    #[test]
    fn attach_sees_everything_after_its_snapshot_even_before_parsing() {
        // No parser thread: everything stays pending, and attach must still see it all.
        let s = Screen::new(4, 20, 10);
        s.open();
        s.feed(b"before ");
        let (snap, backlog, mut rx) = s.attach(0);
        s.feed(b"after");
        let mut copy = vt100::Parser::new(size(4), size(20), 0);
        copy.process(&snap.screen);
        for b in backlog {
            copy.process(&b);
        }
        copy.process(&rx.try_recv().unwrap());
        assert_eq!(copy.screen().contents(), "before after");
        assert_eq!(s.text(), "before after");
    }

    #[test]
    fn history_keeps_about_the_last_lines() {
        let mut h = History {
            max_lines: 3,
            ..History::default()
        };
        for i in 0..10 {
            h.push(Bytes::from(format!("{i}\n")));
        }
        assert!(h.lines >= 3 && h.lines <= 4, "{}", h.lines);
        assert_eq!(
            h.chunks.back().map(|(b, _)| b.clone()),
            Some(Bytes::from("9\n"))
        );
    }
}
