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

/// Marks sessions with an assistant reply not yet looked at.
pub const UNREAD: &str = "●";

/// Marks a terminal in the list.
pub const TERMINAL: &str = "$";
