//! The view stack: the top view gets keys and pastes first, a view may pass them down or
//! close itself, and the status bar's hints follow the view that has the keys.

use super::help::HelpView;
use super::overlay::RenameView;
use super::view::{Ctx, KeyOutcome, View};
use crate::action::Action;
use crate::app::{App, AppEvent};
use crate::keymap::{Hint, Scope};
use crate::state::Focus;
use crate::test_support as ts;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pretty_assertions::assert_eq;
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::cell::RefCell;
use std::rc::Rc;

type Log = Rc<RefCell<Vec<(&'static str, KeyCode)>>>;

/// Records the keys it is offered; takes them or passes them on; Esc closes it.
#[derive(Debug)]
struct Probe {
    name: &'static str,
    log: Log,
    pass: bool,
    hints: Vec<Hint>,
}

impl Probe {
    fn boxed(name: &'static str, log: &Log, pass: bool) -> Box<Probe> {
        Box::new(Probe {
            name,
            log: log.clone(),
            pass,
            hints: Vec::new(),
        })
    }
}

impl View for Probe {
    fn render(&self, _cx: &Ctx, _area: Rect, _frame: &mut Frame) {}

    fn handle_key(&mut self, k: KeyEvent, _cx: &Ctx) -> KeyOutcome {
        self.log.borrow_mut().push((self.name, k.code));
        if k.code == KeyCode::Esc {
            KeyOutcome::Close(Vec::new())
        } else if self.pass {
            KeyOutcome::Pass
        } else {
            KeyOutcome::done()
        }
    }

    fn hints(&self, _cx: &Ctx) -> Vec<Hint> {
        self.hints.clone()
    }
}

fn key(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn selected(app: &App) -> Option<&str> {
    app.state.selected.as_deref()
}

#[test]
fn the_top_view_gets_the_key_first() {
    let mut app = ts::app();
    let log = Log::default();
    assert_eq!(selected(&app), Some("s1"));
    app.views.push(Probe::boxed("probe", &log, false));
    // `j` would move the list's selection: the probe takes it instead.
    assert!(app.update(key(KeyCode::Char('j'))).is_empty());
    assert_eq!(*log.borrow(), [("probe", KeyCode::Char('j'))]);
    assert_eq!(selected(&app), Some("s1"));
    // Once it is gone the list gets the key.
    app.views.pop();
    app.update(key(KeyCode::Char('j')));
    assert_eq!(selected(&app), Some("s2"));
}

#[test]
fn a_view_that_passes_hands_the_key_down() {
    let mut app = ts::app();
    let log = Log::default();
    app.views.push(Probe::boxed("under", &log, true));
    app.views.push(Probe::boxed("over", &log, true));
    app.update(key(KeyCode::Char('j')));
    assert_eq!(
        *log.borrow(),
        [("over", KeyCode::Char('j')), ("under", KeyCode::Char('j'))]
    );
    assert_eq!(selected(&app), Some("s2"), "the screen got it last");
    // A passing view above does not stop the one below from taking a key.
    app.views.pop();
    app.views.pop();
    app.views.push(Probe::boxed("under", &log, false));
    app.views.push(Probe::boxed("over", &log, true));
    app.update(key(KeyCode::Char('j')));
    assert_eq!(selected(&app), Some("s2"));
}

#[test]
fn esc_pops_the_view_that_takes_it_and_only_that_one() {
    let mut app = ts::app();
    let log = Log::default();
    app.views.push(Probe::boxed("under", &log, true));
    app.views.push(Probe::boxed("over", &log, false));
    app.update(key(KeyCode::Esc));
    let top = app.views.top_as::<Probe>().map(|p| p.name);
    assert_eq!(top, Some("under"));
    app.update(key(KeyCode::Esc));
    assert!(!app.views.has_modal());
    // With nothing above it, Esc in the list does nothing and the screen stays.
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert_eq!(app.state.focus, Focus::Sessions);
}

#[test]
fn the_real_modals_open_from_the_list_and_esc_closes_them() {
    let mut app = ts::app();
    for (open, what) in [('?', "help"), ('r', "rename"), ('d', "delete")] {
        app.update(key(KeyCode::Char(open)));
        assert!(app.views.has_modal(), "{what} opened");
        assert!(app.update(key(KeyCode::Esc)).is_empty(), "{what}");
        assert!(!app.views.has_modal(), "{what} closed");
    }
    assert!(app.views.top_as::<HelpView>().is_none());
}

#[test]
fn a_closing_modal_is_gone_before_its_actions_run() {
    let mut app = ts::app();
    app.update(key(KeyCode::Char('r')));
    assert!(app.views.top_as::<RenameView>().is_some());
    // The paste goes to the prompt (first line only), not to the composer behind it.
    app.update(AppEvent::Paste("!\r\nsecond line".into()));
    assert_eq!(app.state.composer.text, "");
    let actions = app.update(key(KeyCode::Enter));
    assert_eq!(
        actions,
        vec![Action::Rename {
            id: "s1".into(),
            title: "refactor the parser!".into(),
        }]
    );
    assert!(!app.views.has_modal());
}

#[test]
fn hints_follow_the_top_view() {
    let mut app = ts::app();
    let log = Log::default();
    let hints = |app: &App| {
        app.views
            .hints(&Ctx::new(&app.state, &app.keymap))
            .into_iter()
            .map(|h| h.help)
            .collect::<Vec<_>>()
    };
    let of = |app: &App, scope| {
        let h = app.keymap.hints(scope);
        h.into_iter().map(|h| h.help).collect::<Vec<_>>()
    };
    assert_eq!(hints(&app), of(&app, Scope::Sessions));
    app.update(key(KeyCode::Tab));
    assert_eq!(hints(&app), of(&app, Scope::Composer));
    let mut probe = Probe::boxed("probe", &log, false);
    probe.hints = vec![Hint {
        key: "x".into(),
        help: "probe things",
    }];
    app.views.push(probe);
    assert_eq!(hints(&app), ["probe things"]);
    let Ok(mut term) = Terminal::new(TestBackend::new(80, 24));
    if let Err(e) = term.draw(|f| {
        super::draw(f, &app.state, &app.keymap, &app.views);
    }) {
        panic!("draw: {e}");
    }
    let screen = term.backend().to_string();
    // The bar draws them.
    let bar = screen.lines().last().unwrap_or("");
    assert!(bar.contains("x probe things"), "{bar}");
    // A modal without bar hints (it lists its keys itself) leaves the bar to the one below.
    app.views.push(Box::new(HelpView::default()));
    assert_eq!(hints(&app), ["probe things"]);
    app.views.pop();
    app.views.pop();
    assert_eq!(hints(&app), of(&app, Scope::Composer));
}
