//! The main screen, the bottom of the view stack: lays out the panes (list; transcript and
//! composer, or the terminal pane), takes the keys that work in any pane and hands the rest
//! to the focused one.

use super::composer::{self, ComposerPane};
use super::palette::PaletteView;
use super::sessions::SessionsPane;
use super::terminal::{self, TerminalPane};
use super::transcript::{Measure, TranscriptPane};
use super::view::{Ctx, Intent, KeyOutcome, View};
use crate::keymap::Hint;
use crate::state::Focus;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

#[derive(Debug, Default)]
pub struct Screen {
    pub sessions: SessionsPane,
    pub transcript: TranscriptPane,
    pub composer: ComposerPane,
    pub terminal: TerminalPane,
}

impl Screen {
    /// Draws the panes into `area` and reports the transcript's measurements for scrolling.
    pub fn draw(&self, cx: &Ctx, area: Rect, frame: &mut Frame) -> Measure {
        let state = cx.state;
        let list_w = (area.width / 3).clamp(12, 30);
        let [list, right] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(1)]).areas(area);
        // The pane replaces transcript and composer; its size is measured either way, so an
        // attach can start at the size it will be shown at.
        let term_area = Rect {
            x: right.x + 1,
            width: right.width.saturating_sub(1),
            ..right
        };
        let term_screen = terminal::screen_area(term_area);
        let term_size = (term_screen.height, term_screen.width);
        if state.selected_terminal().is_some() {
            self.sessions.render(cx, list, frame);
            self.terminal.render(cx, term_area, frame);
            return Measure {
                rows: state.view_rows,
                max_scroll: state.max_scroll.unwrap_or(0),
                term_size,
                jumped: None,
            };
        }
        let [transcript_area, composer_area] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(composer::height(state)),
        ])
        .areas(right);
        // One column of air between the list's border and the transcript.
        let transcript_area = Rect {
            x: transcript_area.x + 1,
            width: transcript_area.width.saturating_sub(1),
            ..transcript_area
        };
        self.sessions.render(cx, list, frame);
        let mut measure = self
            .transcript
            .draw(state, cx.km, transcript_area, frame.buffer_mut());
        measure.term_size = term_size;
        self.composer.render(cx, composer_area, frame);
        measure
    }

    fn focused(&mut self, focus: Focus) -> &mut dyn View {
        match focus {
            Focus::Sessions => &mut self.sessions,
            Focus::Composer => &mut self.composer,
            Focus::Terminal => &mut self.terminal,
        }
    }
}

impl View for Screen {
    fn render(&self, cx: &Ctx, area: Rect, frame: &mut Frame) {
        self.draw(cx, area, frame);
    }

    fn handle_key(&mut self, k: KeyEvent, cx: &Ctx) -> KeyOutcome {
        let (state, km) = (cx.state, cx.km);
        // Every key belongs to the program (Ctrl-C, Tab, Esc included) except the prefix.
        if state.focus == Focus::Terminal {
            return self.terminal.handle_key(k, cx);
        }
        if km.quit_anywhere.matches(&k) {
            return KeyOutcome::intent(Intent::Interrupt);
        }
        if km.expand.matches(&k) {
            return KeyOutcome::intent(Intent::ToggleExpand);
        }
        // Ctrl-F anywhere; `/` only where it is not text (the list).
        if km.search.matches(&k)
            && (k.code != KeyCode::Char('/') || state.focus == Focus::Sessions)
            && state.selected_session().is_some()
        {
            return KeyOutcome::intent(Intent::Open(Box::<super::search::SearchView>::default()));
        }
        // Ctrl-P anywhere; `:` only where it is not text (the list).
        if km.palette.matches(&k)
            && (k.code != KeyCode::Char(':') || state.focus == Focus::Sessions)
        {
            return KeyOutcome::intent(Intent::Open(Box::<PaletteView>::default()));
        }
        if km.switch_focus.matches(&k) {
            let beside = if state.selected_terminal().is_some() {
                Focus::Terminal
            } else {
                Focus::Composer
            };
            let next = match state.focus {
                Focus::Sessions => beside,
                Focus::Composer | Focus::Terminal => Focus::Sessions,
            };
            return KeyOutcome::intent(Intent::Focus(next));
        }
        // Scrolling works from the list and the composer alike.
        match self.transcript.handle_key(k, cx) {
            KeyOutcome::Pass => self.focused(state.focus).handle_key(k, cx),
            taken => taken,
        }
    }

    fn handle_paste(&mut self, text: &str, cx: &Ctx) -> KeyOutcome {
        let state = cx.state;
        if state.focus == Focus::Terminal {
            return self.terminal.handle_paste(text, cx);
        }
        // The composer is not shown next to a terminal.
        if state.selected_terminal().is_some() {
            return KeyOutcome::done();
        }
        self.composer.handle_paste(text, cx)
    }

    fn hints(&self, cx: &Ctx) -> Vec<Hint> {
        match cx.state.focus {
            Focus::Sessions => self.sessions.hints(cx),
            Focus::Composer => self.composer.hints(cx),
            Focus::Terminal => self.terminal.hints(cx),
        }
    }
}
