//! Snapshots of the review view at 80×24 (unified, files above the diff) and 200×50 (files
//! beside a side-by-side diff), the session list's ahead/behind, and what a frame costs with a
//! 20,000-line diff open (printed; run with `--ignored`).

use super::*;
use crate::app::{AppEvent, Reply};
use crate::test_support as ts;
use crate::ui::review::ReviewView;
use agentmux_shared::types::{GitFile, GitStatus, Workspace};
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &crate::app::App, w: u16, h: u16) -> String {
    let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
    if let Err(e) = term.draw(|f| {
        draw(f, &app.state, &app.keymap, &app.views);
    }) {
        panic!("draw: {e}");
    }
    term.backend().to_string()
}

fn app() -> crate::app::App {
    let mut app = ts::app();
    if let Some(s) = app.state.sessions.iter_mut().find(|s| s.id == "s1") {
        s.workspace = Some(Workspace {
            repo: "/home/me/parser".into(),
            path: "/data/worktrees/s1".into(),
            branch: "agentmux/refactor-the-parser".into(),
            base: "main".into(),
            base_commit: "0123456789abcdef".into(),
            state: "ready".into(),
            ..Workspace::default()
        });
    }
    app.update(AppEvent::Reply(Reply::GitStatus {
        session: "s1".into(),
        status: Box::new(GitStatus {
            branch: "agentmux/refactor-the-parser".into(),
            base_commit: "0123456789abcdef".into(),
            base_branch: "main".into(),
            ahead: 2,
            behind: 1,
            files: vec![
                GitFile {
                    path: "src/lib.rs".into(),
                    staged: "M".into(),
                    ..GitFile::default()
                },
                GitFile {
                    path: "big.txt".into(),
                    untracked: true,
                    ..GitFile::default()
                },
            ],
            ..GitStatus::default()
        }),
    }));
    app
}

fn reviewing() -> crate::app::App {
    let mut app = app();
    app.state.git.entry("s1".into()).or_default().reviewing = true;
    app.update(AppEvent::Reply(Reply::GitDiff {
        session: "s1".into(),
        path: String::new(),
        diff: Box::new(ts::diff()),
    }));
    app.views.push(Box::new(ReviewView::new("s1")));
    app
}

#[test]
fn review_80x24() {
    assert_snapshot!(render(&reviewing(), 80, 24));
}

#[test]
fn review_200x50() {
    assert_snapshot!(render(&reviewing(), 200, 50));
}

#[test]
fn the_list_shows_a_worktrees_ahead_behind_and_changes_80x24() {
    let text = render(&app(), 80, 24);
    assert!(text.contains("parser ↑2↓1 ~2"), "{text}");
}

/// Median time to draw a 200×50 frame with a 20,000-line diff open, scrolled to its middle.
#[test]
#[ignore = "a measurement: cargo test -p agentmux-tui -- --ignored --nocapture frame_time"]
fn frame_time_with_a_20000_line_diff() {
    use agentmux_shared::types::{DiffFile, DiffHunk, DiffLine};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app();
    let lines: Vec<DiffLine> = (0..20_000u32)
        .map(|i| DiffLine {
            kind: if i % 3 == 0 { "removed" } else { "added" }.into(),
            text: format!("    let value_{i} = compute({i}, \"some text on the line\");"),
            old_line: i + 1,
            new_line: i + 1,
        })
        .collect();
    let mut d = ts::diff();
    d.files = vec![DiffFile {
        path: "generated.rs".into(),
        status: "modified".into(),
        added: 13_333,
        removed: 6_667,
        hunks: vec![DiffHunk {
            old_start: 1,
            old_lines: 6_667,
            new_start: 1,
            new_lines: 13_333,
            lines,
            ..DiffHunk::default()
        }],
        ..DiffFile::default()
    }];
    app.state.git.entry("s1".into()).or_default().reviewing = true;
    app.update(AppEvent::Reply(Reply::GitDiff {
        session: "s1".into(),
        path: String::new(),
        diff: Box::new(d),
    }));
    app.views.push(Box::new(ReviewView::new("s1")));
    let Ok(mut term) = Terminal::new(TestBackend::new(200, 50));
    for (label, width, key) in [
        ("side by side", 200, None),
        ("unified", 120, Some(KeyCode::PageDown)),
    ] {
        term.backend_mut().resize(width, 50);
        let _ = term.draw(|f| {
            draw(f, &app.state, &app.keymap, &app.views);
        });
        for _ in 0..200 {
            app.update(AppEvent::Key(KeyEvent::new(
                KeyCode::PageDown,
                KeyModifiers::NONE,
            )));
        }
        if let Some(k) = key {
            app.update(AppEvent::Key(KeyEvent::new(k, KeyModifiers::NONE)));
        }
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = std::time::Instant::now();
            let _ = term.draw(|f| {
                draw(f, &app.state, &app.keymap, &app.views);
            });
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "frame_time {label} {width}x50, 20,000-line diff: median {:?}, p99 {:?}",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }
}
