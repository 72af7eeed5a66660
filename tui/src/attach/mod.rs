//! `agentmux attach`: the user's terminal becomes the daemon terminal's screen, like tmux.
//!
//! Threads and tasks: stdin is read on a plain thread (reads block, and a blocked tokio
//! blocking-pool thread would keep the runtime from shutting down); stdout is written on
//! another plain thread that owns the local screen copy, so a slow terminal never stalls the
//! runtime; the async loop joins the daemon's stream, stdin, resizes and signals.

mod passthrough;
mod prefix;

pub use passthrough::AltScan;
pub use prefix::{Filtered, Prefix, parse_prefix};

use crate::client::{AttachEvent, AttachInput, AttachStart, Client, TerminalExit};
use agentmux_shared::types::TerminalStatus;
use agentmux_shared::{Error, Result};
use futures_util::StreamExt;
use passthrough::Passthrough;
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// tmux's default.
pub const DEFAULT_PREFIX: u8 = 0x02;
/// Output chunks queued for the writer thread; a full queue holds the daemon stream back, and
/// the daemon answers a client that falls behind with a fresh snapshot.
const WRITE_QUEUE: usize = 64;
/// How long exit waits for pending output to reach the terminal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Options {
    pub terminal: String,
    pub read_only: bool,
    pub prefix: u8,
}

/// The prefix from `AGENTMUX_PREFIX`, else `C-b`.
pub fn prefix_from_env() -> Result<u8> {
    match std::env::var("AGENTMUX_PREFIX") {
        Ok(s) if !s.trim().is_empty() => parse_prefix(&s),
        _ => Ok(DEFAULT_PREFIX),
    }
}

enum Outcome {
    Detached,
    Exited(TerminalExit),
    /// SIGTERM or SIGHUP to us: leave quietly, the program keeps running.
    Signalled,
}

pub async fn run(c: &Client, opts: Options) -> Result<()> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::invalid(
            "attach needs a terminal on stdin and stdout",
        ));
    }
    let (cols, rows) = crossterm::terminal::size()
        .map_err(|e| Error::internal(format!("cannot read the terminal size: {e}")))?;
    let mut att = c
        .attach(AttachStart {
            terminal: opts.terminal.clone(),
            rows,
            cols,
            read_only: opts.read_only,
        })
        .await?;
    let snap = match att.events.next().await {
        Some(Ok(AttachEvent::Snapshot(s))) => s,
        Some(Err(e)) => return Err(e),
        Some(Ok(_)) | None => {
            return Err(Error::unavailable(
                "the daemon ended the attach without a screen",
            ));
        }
    };
    let name = snap
        .terminal
        .as_ref()
        .map_or(opts.terminal.clone(), |t| t.name.clone());
    if let Some(t) = snap
        .terminal
        .as_ref()
        .filter(|t| t.status == TerminalStatus::Exited)
    {
        // Nothing to interact with: show its last screen as text on the normal screen.
        print_final_screen(&snap.screen, snap.rows, snap.cols);
        let exit = TerminalExit {
            code: t.exit_code,
            signal: t.exit_signal.clone(),
            reason: t.exit_reason.clone(),
        };
        println!("[{name}: {exit}]");
        return Ok(());
    }

    install_panic_hook();
    let guard = RawGuard::enter()?;
    let (out_tx, out_rx) = mpsc::channel(WRITE_QUEUE);
    let (resync_tx, mut resync_rx) = mpsc::unbounded_channel();
    let writer = spawn_writer(out_rx, resync_tx, rows, cols)?;
    let mut stdin = spawn_stdin()?;
    let _ = out_tx.send(WriterMsg::Snapshot(snap)).await;
    let mut io = Io {
        stdin: &mut stdin,
        out: &out_tx,
        resync: &mut resync_rx,
    };
    let outcome = pump(c, att, &opts, &mut io).await;
    // Let the writer finish what it has, without waiting forever on a stuck terminal.
    drop(out_tx);
    let joined = tokio::task::spawn_blocking(move || writer.join());
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, joined).await;
    drop(guard);
    match outcome? {
        Outcome::Detached => println!("[detached from {name}]"),
        Outcome::Exited(e) => println!("[{e}]"),
        Outcome::Signalled => {}
    }
    Ok(())
}

/// The local ends of the threads and of the writer's resync requests.
struct Io<'a> {
    stdin: &'a mut mpsc::Receiver<Vec<u8>>,
    out: &'a mpsc::Sender<WriterMsg>,
    resync: &'a mut mpsc::UnboundedReceiver<()>,
}

/// Moves bytes until detach, exit, a signal or an error.
async fn pump(
    c: &Client,
    mut att: crate::client::Attachment,
    opts: &Options,
    io: &mut Io<'_>,
) -> Result<Outcome> {
    let Io { stdin, out, resync } = io;
    let sig = |k: SignalKind| {
        signal(k).map_err(|e| Error::internal(format!("cannot watch signals: {e}")))
    };
    let mut winch = sig(SignalKind::window_change())?;
    let mut term = sig(SignalKind::terminate())?;
    let mut hup = sig(SignalKind::hangup())?;
    let mut prefix = Prefix::new(opts.prefix);
    loop {
        tokio::select! {
            ev = att.events.next() => match ev {
                Some(Ok(AttachEvent::Snapshot(s))) => {
                    // We fell behind and the daemon skipped ahead: redraw from scratch.
                    if out.send(WriterMsg::Snapshot(s)).await.is_err() {
                        return Err(Error::internal("the output thread stopped"));
                    }
                }
                Some(Ok(AttachEvent::Output(b))) => {
                    if out.send(WriterMsg::Output(b.to_vec())).await.is_err() {
                        return Err(Error::internal("the output thread stopped"));
                    }
                }
                Some(Ok(AttachEvent::Exited(e))) => return Ok(Outcome::Exited(e)),
                Some(Err(e)) => return Err(e),
                None => return Err(Error::unavailable("lost the connection to agentmuxd")),
            },
            input = stdin.recv() => {
                // Stdin closed: nobody is left to type, which is a detach.
                let Some(bytes) = input else {
                    att.sender.send(AttachInput::Detach);
                    return Ok(Outcome::Detached);
                };
                let Filtered { forward, detach } = prefix.feed(&bytes);
                if !forward.is_empty() && !opts.read_only {
                    att.sender.send(AttachInput::Input(forward.into()));
                }
                if detach {
                    att.sender.send(AttachInput::Detach);
                    return Ok(Outcome::Detached);
                }
            }
            _ = winch.recv() => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    if !opts.read_only {
                        att.sender.send(AttachInput::Resize { rows, cols });
                    }
                    let _ = out.send(WriterMsg::Resize { rows, cols }).await;
                }
            }
            Some(()) = resync.recv() => {
                // A new attachment starts with a snapshot of the screen the program is on
                // now; the old one is dropped, which detaches it.
                let (cols, rows) = crossterm::terminal::size().unwrap_or((0, 0));
                att = c
                    .attach(AttachStart {
                        terminal: opts.terminal.clone(),
                        rows,
                        cols,
                        read_only: opts.read_only,
                    })
                    .await?;
            }
            _ = term.recv() => return Ok(Outcome::Signalled),
            _ = hup.recv() => return Ok(Outcome::Signalled),
        }
    }
}

enum WriterMsg {
    Snapshot(Box<crate::client::ScreenSnapshot>),
    Output(Vec<u8>),
    Resize { rows: u16, cols: u16 },
}

fn spawn_writer(
    mut rx: mpsc::Receiver<WriterMsg>,
    resync: mpsc::UnboundedSender<()>,
    rows: u16,
    cols: u16,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("attach-out".into())
        .spawn(move || {
            let mut screen = Passthrough::new(rows, cols);
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            while let Some(mut msg) = rx.blocking_recv() {
                // Write everything queued, then flush once.
                loop {
                    let res = match msg {
                        WriterMsg::Snapshot(s) => {
                            out.write_all(&screen.snapshot(s.rows, s.cols, &s.screen))
                        }
                        WriterMsg::Output(b) => out.write_all(&screen.output(&b)),
                        WriterMsg::Resize { rows, cols } => {
                            screen.resize(rows, cols);
                            Ok(())
                        }
                    };
                    if res.is_err() {
                        return;
                    }
                    if screen.take_resync() {
                        let _ = resync.send(());
                    }
                    match rx.try_recv() {
                        Ok(next) => msg = next,
                        Err(_) => break,
                    }
                }
                if out.flush().is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Error::internal(format!("cannot start the output thread: {e}")))
}

fn spawn_stdin() -> Result<mpsc::Receiver<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("attach-in".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })
        .map_err(|e| Error::internal(format!("cannot start the input thread: {e}")))?;
    Ok(rx)
}

/// Raw mode and the alternate screen while attached; dropping it restores the terminal.
struct RawGuard;

impl RawGuard {
    fn enter() -> Result<RawGuard> {
        let setup = || -> std::io::Result<()> {
            crossterm::terminal::enable_raw_mode()?;
            let mut out = std::io::stdout();
            out.write_all(b"\x1b[?1049h")?;
            out.flush()
        };
        setup().map_err(|e| {
            restore();
            Error::internal(format!("cannot set up the terminal: {e}"))
        })?;
        Ok(RawGuard)
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undoes what the program may have switched on in the user's terminal (mouse reporting,
/// bracketed paste, application keys, a hidden cursor, colours), then leaves the alternate
/// screen and raw mode. Best effort: also runs from the panic hook.
fn restore() {
    const RESET: &[u8] = b"\x18\x1b[0m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\
        \x1b[?1015l\x1b[?2004l\x1b[?1l\x1b>\x1b[0 q\x1b[?25h\x1b[?1049l";
    let mut out = std::io::stdout();
    let _ = out.write_all(RESET).and_then(|()| out.flush());
    let _ = crossterm::terminal::disable_raw_mode();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// An exited terminal's last screen as plain text, without the trailing blank rows.
fn print_final_screen(screen: &[u8], rows: u16, cols: u16) {
    let text = screen_text(screen, rows, cols);
    if !text.is_empty() {
        println!("{text}");
    }
}

fn screen_text(screen: &[u8], rows: u16, cols: u16) -> String {
    let dim = |n: u16| std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN);
    let mut p = vt100::Parser::new(dim(rows), dim(cols), 0);
    p.process(screen);
    p.screen().contents().trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_screen_is_plain_text() {
        let text = screen_text(b"\x1b[1;31m$ exit\x1b[0m\r\nbye\r\n\r\n", 5, 20);
        assert_eq!(text, "$ exit\nbye");
    }
}
