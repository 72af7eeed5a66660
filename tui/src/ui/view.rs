//! The `View` trait every pane and modal implements (draw from `&State`, keys to `Intent`s,
//! key hints), and what a view may ask of `App::update`.

use crate::action::Action;
use crate::keymap::{Hint, KeyMap};
use crate::state::{Focus, Input, State};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use std::any::Any;

/// What a view reads while drawing or handling a key.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub state: &'a State,
    pub km: &'a KeyMap,
    /// Nothing is above this view, so keys reach it (a pane also checks `state.focus`).
    pub top: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a State, km: &'a KeyMap) -> Ctx<'a> {
        Ctx {
            state,
            km,
            top: true,
        }
    }
}

/// What a view asks `App::update` to do: views read `State` but never change it.
#[derive(Debug)]
pub enum Intent {
    /// A daemon call, run as is.
    Call(Action),
    /// Puts a modal on top of the stack.
    Open(Box<dyn View>),
    Quit,
    /// Ctrl-C: clears the draft; with none, arms quitting, and quits when armed.
    Interrupt,
    /// A key pressed on the user's behalf (the palette), dispatched like a typed one.
    Press(KeyEvent),
    /// Shows or hides tool output and full diffs.
    ToggleExpand,
    Focus(Focus),
    /// Moves the list selection by this many items (`isize::MIN`/`MAX`: first/last).
    Select(isize),
    /// Sets the list filter; `typing` while its prompt is open.
    Filter {
        text: String,
        typing: bool,
    },
    /// The next order of the session list.
    Sort,
    /// Find `query` in the transcript: `step` 0 from the newest match, 1 the next older, -1
    /// the next newer.
    Search {
        query: String,
        step: isize,
    },
    /// The transcript's oldest loaded line (again: older pages) or its newest.
    ScrollTop,
    ScrollBottom,
    PageUp,
    PageDown,
    /// The selected session's oldest pending approval, else any.
    OpenApprovals,
    /// Opens (or refreshes) the review of a session's work.
    Review(String),
    /// The review of this session closed: its diff need not be kept fresh.
    EndReview(String),
    /// A line-editing key for the composer.
    Edit(KeyEvent),
    /// Text typed or pasted into the composer.
    Insert(String),
    /// An older (`-1`) or newer (`1`) sent message into the composer.
    Recall(isize),
    /// Sends the composer's text to the selected session.
    Send,
    /// Hands the draft to the user's editor (the loop suspends the TUI for it).
    OpenEditor,
    /// A key for the terminal pane's program (through its prefix machine).
    TermKey(KeyEvent),
    TermPaste(String),
}

/// How a view took a key (or a paste).
#[derive(Debug)]
pub enum KeyOutcome {
    /// Not this view's: the view below gets it.
    Pass,
    /// Taken; the view stays.
    Consumed(Vec<Intent>),
    /// Taken, and the view closes (it is off the stack before the intents run).
    Close(Vec<Intent>),
}

impl KeyOutcome {
    pub fn intent(i: Intent) -> KeyOutcome {
        KeyOutcome::Consumed(vec![i])
    }
    pub fn done() -> KeyOutcome {
        KeyOutcome::Consumed(Vec::new())
    }
}

/// A pane or a modal. `Any` lets the app ask what is on top (`ViewStack::top_as`).
pub trait View: Any + std::fmt::Debug {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame);

    fn handle_key(&mut self, key: KeyEvent, cx: &Ctx) -> KeyOutcome;

    /// Text pasted while this view has the keys. A modal swallows what it cannot use, as it
    /// does keys: nothing typed at a modal lands in the pane behind it.
    fn handle_paste(&mut self, _text: &str, _cx: &Ctx) -> KeyOutcome {
        KeyOutcome::done()
    }

    /// Keys for the status bar. None leaves the bar to the view below: a modal that lists its
    /// keys in its own frame.
    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        Vec::new()
    }
}

/// Line-editing keys shared by the composer and inline prompts.
pub fn edit(input: &mut Input, k: KeyEvent) {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Char('u') if ctrl => {
            input.take();
        }
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char(c) if !ctrl => input.insert_str(c.encode_utf8(&mut [0; 4])),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        _ => {}
    }
}

/// Pasted text with newlines as `\n`: terminals send CR for them inside bracketed paste.
pub fn pasted(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// A one-line prompt takes the first line of a paste.
pub fn paste_line(input: &mut Input, text: &str) {
    input.insert_str(pasted(text).lines().next().unwrap_or(""));
}
