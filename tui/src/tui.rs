//! The one owner of the terminal: raw mode, alternate screen, bracketed paste, a panic hook
//! that restores the terminal, and the event loop that redraws only when something changed.

use crate::app::{App, AppEvent};
use crate::client::Target;
use crate::ui;
use crate::worker::Worker;
use crossterm::event::{
    self, DisableBracketedPaste, EnableBracketedPaste, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// At most ~60 frames a second however fast events arrive.
const FRAME: Duration = Duration::from_millis(16);

type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether `enter` pushed keyboard enhancement flags that `restore` must pop.
static ENHANCED: AtomicBool = AtomicBool::new(false);

/// Set while an editor has the terminal: the input thread stops reading it.
static PAUSED: AtomicBool = AtomicBool::new(false);

fn enter() -> std::io::Result<Term> {
    set_up()?;
    Terminal::new(CrosstermBackend::new(stdout()))
}

/// Raw mode, the alternate screen, bracketed paste, and keyboard enhancement where offered.
fn set_up() -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    // Lets terminals that support it report Shift-Enter distinctly (kitty protocol).
    if matches!(terminal::supports_keyboard_enhancement(), Ok(true)) {
        execute!(
            stdout(),
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Best effort: called on exit and from the panic hook, where nothing can be reported.
fn restore() {
    // Not re-queried here: the query reads the terminal, which the input thread is blocked
    // on, and the two would wait for each other.
    if ENHANCED.swap(false, Ordering::Relaxed) {
        let _ = execute!(stdout(), PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Reads the terminal on a plain thread (crossterm's reader blocks) and forwards to the loop.
/// It polls briefly so that, while an editor has the terminal (`PAUSED`), it reads nothing.
fn spawn_input(tx: mpsc::UnboundedSender<AppEvent>) {
    std::thread::spawn(move || {
        loop {
            if PAUSED.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            match event::poll(Duration::from_millis(50)) {
                Ok(true) if !PAUSED.load(Ordering::Acquire) => {}
                Ok(_) => continue,
                Err(_) => return,
            }
            let ev = match event::read() {
                Ok(event::Event::Key(k)) => AppEvent::Key(k),
                Ok(event::Event::Paste(p)) => AppEvent::Paste(p),
                Ok(event::Event::Resize(..)) => AppEvent::Resize,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
    });
}

pub async fn run(target: Target) -> agentmux_shared::Result<()> {
    install_panic_hook();
    ui::highlight::warm_up();
    let mut term = enter().map_err(|e| {
        restore();
        agentmux_shared::Error::internal(format!("cannot set up the terminal: {e}"))
    })?;
    let result = event_loop(&mut term, target).await;
    restore();
    result
}

/// Hands the terminal to the user's editor for the draft and takes it back: the input thread
/// stops reading first (a poll under way gets time to end), the screen is restored, and a
/// full redraw follows.
async fn suspend_for_editor(term: &mut Term, draft: String) -> Result<String, String> {
    PAUSED.store(true, Ordering::Release);
    tokio::time::sleep(Duration::from_millis(120)).await;
    restore();
    let editor = crate::editor::command();
    let result = tokio::task::spawn_blocking(move || crate::editor::edit(&editor, &draft))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let back = enter_again(term);
    PAUSED.store(false, Ordering::Release);
    back.map_err(|e| format!("cannot take the terminal back: {e}"))?;
    result
}

fn enter_again(term: &mut Term) -> std::io::Result<()> {
    set_up()?;
    term.clear()
}

/// Rings or notifies; a terminal that went away is the loop's to notice, not this.
fn alert(notify: crate::notify::Notify, text: &str) {
    use std::io::Write;
    let bytes = notify.bytes(text);
    if bytes.is_empty() {
        return;
    }
    let mut out = stdout();
    let _ = out.write_all(&bytes).and_then(|()| out.flush());
}

async fn event_loop(term: &mut Term, target: Target) -> agentmux_shared::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    spawn_input(tx.clone());
    let mut app = App::with_prefix(crate::attach::prefix_from_env()?);
    let notify = crate::notify::Notify::from_env();
    app.state.start_dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let drafts_file = target
        .paths()
        .ok()
        .map(|p| crate::drafts::path(&p.data_dir));
    if let Some(f) = &drafts_file {
        crate::drafts::restore(&mut app.state, crate::drafts::load(f));
    }
    let mut worker = Worker::new(tx, target);
    let mut last_save = Instant::now();
    let result = run_loop(term, &mut app, &mut rx, &mut worker, notify, |app| {
        save_drafts(app, drafts_file.as_deref(), &mut last_save, false)
    })
    .await;
    // Whatever is typed when the TUI ends is kept, written before the process goes.
    save_drafts(&mut app, drafts_file.as_deref(), &mut last_save, true);
    result
}

/// Writes drafts and history when they changed (at most once a second, in the background),
/// or now and in the foreground at exit.
fn save_drafts(app: &mut App, file: Option<&std::path::Path>, last: &mut Instant, now: bool) {
    let Some(file) = file else { return };
    if !app.state.drafts_dirty || (!now && last.elapsed() < Duration::from_secs(1)) {
        return;
    }
    app.state.drafts_dirty = false;
    *last = Instant::now();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
    let saved = crate::drafts::snapshot(&app.state);
    let file = file.to_path_buf();
    if now {
        let _ = crate::drafts::write_in_order(&file, &saved, seq);
    } else {
        tokio::task::spawn_blocking(move || crate::drafts::write_in_order(&file, &saved, seq));
    }
}

async fn run_loop(
    term: &mut Term,
    app: &mut App,
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
    worker: &mut Worker,
    notify: crate::notify::Notify,
    mut every_wake: impl FnMut(&mut App),
) -> agentmux_shared::Result<()> {
    for a in app.start() {
        worker.run(a);
    }
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            let mut measure = None;
            term.draw(|f| measure = Some(ui::draw(f, &app.state, &app.keymap, &app.views)))
                .map_err(|e| agentmux_shared::Error::internal(format!("draw failed: {e}")))?;
            last_draw = Instant::now();
            dirty = false;
            if let Some(jumped) = measure.and_then(|m| m.jumped) {
                app.update(AppEvent::Jumped(jumped));
            }
            if let Some(m) = measure {
                // A new pane size becomes a resize for the attached terminal.
                for a in app.update(AppEvent::Drawn {
                    view_rows: m.rows,
                    max_scroll: m.max_scroll,
                    term_size: m.term_size,
                }) {
                    worker.run(a);
                }
            }
        }
        every_wake(app);
        let ev = if dirty {
            match tokio::time::timeout(FRAME.saturating_sub(last_draw.elapsed()), rx.recv()).await {
                Ok(ev) => ev,
                Err(_) => continue, // frame due
            }
        } else if app.state.drafts_dirty {
            // A draft waits to be saved: wake for it even if nothing else happens.
            match tokio::time::timeout(Duration::from_millis(1100), rx.recv()).await {
                Ok(ev) => ev,
                Err(_) => continue,
            }
        } else {
            rx.recv().await
        };
        let Some(ev) = ev else { return Ok(()) };
        // Coalesce: apply everything already queued (a burst of deltas) before one draw.
        let mut next = Some(ev);
        while let Some(ev) = next {
            for a in app.update(ev) {
                worker.run(a);
            }
            next = rx.try_recv().ok();
        }
        for text in std::mem::take(&mut app.state.alerts) {
            alert(notify, &text);
        }
        if let Some(draft) = app.state.edit_request.take() {
            let edited = suspend_for_editor(term, draft).await;
            app.update(AppEvent::Edited(edited));
        }
        dirty = true;
        if app.state.quit {
            return Ok(());
        }
    }
}
