//! Colours and the strings every view shares, kept in one place.

use agentmux_shared::types::Session;
use ratatui::style::{Color, Modifier, Style};

pub fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}
pub fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}
pub fn user() -> Style {
    Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}
pub fn assistant() -> Style {
    Style::default()
        .fg(Color::Green)
        .add_modifier(Modifier::BOLD)
}
pub fn busy() -> Style {
    Style::default().fg(Color::Yellow)
}
pub fn queued() -> Style {
    Style::default().fg(Color::Magenta)
}
pub fn interrupted() -> Style {
    Style::default().fg(Color::LightRed)
}
pub fn failed() -> Style {
    Style::default().fg(Color::Red)
}
pub fn selected(focused: bool) -> Style {
    if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
}

/// Something waits for a person (approvals).
pub fn attention() -> Style {
    Style::default()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::BOLD)
}
pub fn diff_add() -> Style {
    Style::default().fg(Color::Green)
}
pub fn diff_del() -> Style {
    Style::default().fg(Color::Red)
}
pub fn diff_hunk() -> Style {
    Style::default().fg(Color::Cyan)
}

/// Colour for `Session::display_status()`.
pub fn status(s: &Session) -> Style {
    match s.display_status() {
        "busy" => busy(),
        "queued" => queued(),
        "interrupted" => interrupted(),
        "failed" => failed(),
        _ => dim(),
    }
}

pub fn title_of(s: &Session) -> String {
    if s.title.is_empty() {
        "(untitled)".to_string()
    } else {
        s.title.clone()
    }
}

/// How far a message's body and its activity sit under its header.
pub const INDENT: &str = "  ";

/// Marks sessions with an assistant reply not yet looked at.
pub const UNREAD: &str = "●";

/// Marks a session with approvals waiting.
pub const APPROVAL: &str = "!";

/// Marks a terminal in the list.
pub const TERMINAL: &str = "$";
