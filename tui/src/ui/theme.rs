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
/// Refused by a person or a policy: not an error of the agent's.
pub fn denied() -> Style {
    Style::default().fg(Color::Magenta)
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
/// Inline code.
pub fn code() -> Style {
    Style::default().fg(Color::LightYellow)
}
/// The text of a code block.
pub fn code_block() -> Style {
    Style::default().fg(Color::LightYellow)
}
/// Headings by rank (1 = `#`).
pub fn heading(rank: u8) -> Style {
    let s = Style::default()
        .fg(Color::LightBlue)
        .add_modifier(Modifier::BOLD);
    if rank == 1 {
        s.add_modifier(Modifier::UNDERLINED)
    } else {
        s
    }
}
pub fn link() -> Style {
    Style::default()
        .fg(Color::Blue)
        .add_modifier(Modifier::UNDERLINED)
}
pub fn quote() -> Style {
    Style::default().fg(Color::DarkGray)
}
pub fn bullet() -> Style {
    Style::default().fg(Color::LightBlue)
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

/// A directory as people write it: the home directory as `~`.
pub fn short_dir(dir: &str) -> String {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && home != "/" => match dir.strip_prefix(home.as_str()) {
            Some("") => "~".to_string(),
            Some(rest) if rest.starts_with('/') => format!("~{rest}"),
            _ => dir.to_string(),
        },
        _ => dir.to_string(),
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
