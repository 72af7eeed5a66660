//! The terminal pane: snapshots of a fixed vt100 screen at 80x24 and 40x20, and the cell
//! styles that a text snapshot cannot show.

use super::terminal::{cell_style, render_screen};
use super::*;
use crate::state::Focus;
use crate::test_support as ts;
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

fn render(app: &crate::app::App, w: u16, h: u16) -> (String, Option<(u16, u16)>) {
    let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
    if let Err(e) = term.draw(|f| {
        draw(f, &app.state, &app.keymap, &app.views);
    }) {
        panic!("draw: {e}");
    }
    let cursor = term
        .get_cursor_position()
        .ok()
        .filter(|_| app.state.focus == Focus::Terminal)
        .map(|p| (p.x, p.y));
    (term.backend().to_string(), cursor)
}

/// Pane size for a whole screen of `w`x`h`: what `draw` reports as `term_size`.
fn pane(w: u16, h: u16) -> (u16, u16) {
    let list_w = (w / 3).clamp(12, 30);
    (h - 2, w - list_w - 1)
}

#[test]
fn terminal_pane_80x24() {
    let (rows, cols) = pane(80, 24);
    let mut app = ts::app_with_terminal(rows, cols);
    app.state.focus = Focus::Terminal;
    let (screen, cursor) = render(&app, 80, 24);
    assert_snapshot!(screen);
    // After "$ " on the fifth row of the pane, which starts below the header.
    assert_eq!(cursor, Some((27 + 2, 1 + 4)));
}

#[test]
fn terminal_pane_40x20() {
    let (rows, cols) = pane(40, 20);
    let app = ts::app_with_terminal(rows, cols);
    assert_snapshot!(render(&app, 40, 20).0);
}

/// A screen larger than the pane is clipped, and a wide character cut by the pane's edge
/// becomes a blank rather than spilling past it.
#[test]
fn screen_and_pane_sizes_may_differ() {
    let mut view = crate::term_view::TermView::new("t", 1, (3, 6), 2);
    view.snapshot(&crate::client::ScreenSnapshot {
        rows: 3,
        cols: 6,
        screen: "中文ab".as_bytes().to_vec(),
        ..Default::default()
    });
    let row = |w: u16| {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, 2));
        render_screen(view.screen(), buf.area, &mut buf);
        (0..w)
            .map(|x| buf[(x, 0)].symbol().to_string())
            .collect::<String>()
    };
    assert_eq!(row(6), "中 文 ab");
    assert_eq!(row(4), "中 文 ");
    assert_eq!(row(3), "中  ", "half a wide char is a blank");
    // A pane wider than the screen leaves the rest alone.
    assert_eq!(row(8), "中 文 ab  ");
}

#[test]
fn cells_keep_colours_and_attributes() {
    let app = ts::app_with_terminal(6, 40);
    let Some(view) = &app.state.term else {
        panic!("no terminal view");
    };
    let area = Rect::new(0, 0, 40, 6);
    let mut buf = Buffer::empty(area);
    render_screen(view.screen(), area, &mut buf);
    let cell = |x: u16, y: u16| &buf[(x, y)];

    // "src": bold, indexed blue; default background.
    assert_eq!(cell(0, 1).symbol(), "s");
    assert_eq!(cell(0, 1).fg, Color::Indexed(4));
    assert_eq!(cell(0, 1).bg, Color::Reset);
    assert!(cell(0, 1).modifier.contains(Modifier::BOLD));
    // "red.txt": indexed red, not bold.
    assert_eq!(cell(5, 1).fg, Color::Indexed(1));
    assert!(!cell(5, 1).modifier.contains(Modifier::BOLD));
    // "rgb": 24-bit foreground and background.
    assert_eq!(cell(14, 1).symbol(), "r");
    assert_eq!(cell(14, 1).fg, Color::Rgb(255, 128, 0));
    assert_eq!(cell(14, 1).bg, Color::Rgb(0, 0, 64));
    // Underline, inverse, italic.
    assert!(cell(0, 2).modifier.contains(Modifier::UNDERLINED));
    assert!(cell(6, 2).modifier.contains(Modifier::REVERSED));
    assert!(cell(14, 2).modifier.contains(Modifier::ITALIC));
    assert!(!cell(5, 2).modifier.contains(Modifier::UNDERLINED));
    // Wide characters: the glyph, then a cell ratatui skips.
    assert_eq!(cell(0, 3).symbol(), "中");
    assert_eq!(cell(2, 3).symbol(), "文");
    assert_eq!(cell(4, 3).symbol(), " ");
    assert_eq!(cell(5, 3).symbol(), "w");

    let plain = view.screen().cell(0, 0).map(cell_style);
    assert_eq!(plain.and_then(|s| s.fg), Some(Color::Reset));
}
