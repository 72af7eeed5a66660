//! The terminal attach protocol, one set of types for the daemon, the TUI and both gateways:
//! gRPC `Attach` maps them to its messages, the WebSocket serialises its text frames from
//! `AttachFrame` and reads `AttachControl`.

use super::Terminal;
use bytes::Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A terminal's whole screen: what an attaching client gets first (and again when it fell
/// behind), and what the daemon saves to show after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenSnapshot {
    pub rows: u16,
    pub cols: u16,
    /// Escape sequences that redraw the screen (attributes, cursor, input modes) on a clear
    /// terminal.
    pub screen: Vec<u8>,
    /// Plain-text scrollback lines, oldest first.
    pub scrollback: Vec<String>,
    /// The terminal's record, when sent to an attaching client.
    pub terminal: Option<Terminal>,
}

impl ScreenSnapshot {
    /// Scrollback then screen as one stream of bytes a terminal emulator can be fed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in &self.scrollback {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&self.screen);
        out
    }
}

/// How a terminal's program ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TerminalExit {
    #[serde(rename = "exit_code")]
    pub code: i32,
    /// `SIGKILL`, ..., empty when it exited by itself.
    #[serde(rename = "exit_signal")]
    pub signal: String,
    /// Why it ended when not on its own terms, e.g. "daemon stopped".
    #[serde(rename = "exit_reason")]
    pub reason: String,
}

impl std::fmt::Display for TerminalExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.reason.is_empty() {
            return f.write_str(&self.reason);
        }
        match self.signal.as_str() {
            "" => write!(f, "exited with code {}", self.code),
            s => write!(f, "killed by {s}"),
        }
    }
}

/// What an attached client receives, in order: a snapshot first, then output; a fresh
/// snapshot whenever it fell behind; `Exited` last if the program ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    Snapshot(Box<ScreenSnapshot>),
    Output(Bytes),
    Exited(TerminalExit),
}

/// What an attached client sends after it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachInput {
    Input(Bytes),
    Resize { rows: u16, cols: u16 },
    Detach,
}

/// A WebSocket text frame from the daemon (binary frames are the terminal's output; a
/// `snapshot` frame is followed by one binary frame that redraws the screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttachFrame {
    Snapshot {
        rows: u16,
        cols: u16,
        terminal: Option<Box<Terminal>>,
    },
    Exited(TerminalExit),
    /// A control frame or input the daemon refused; the attachment goes on.
    Error {
        error: AttachError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttachError {
    pub code: String,
    pub message: String,
}

/// A WebSocket text frame from the client (binary frames are input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttachControl {
    Resize {
        rows: u16,
        cols: u16,
    },
    /// Input as text, for clients that cannot send binary frames.
    Input {
        data: String,
    },
    Detach,
}

impl From<AttachControl> for AttachInput {
    fn from(c: AttachControl) -> Self {
        match c {
            AttachControl::Resize { rows, cols } => AttachInput::Resize { rows, cols },
            AttachControl::Input { data } => AttachInput::Input(Bytes::from(data)),
            AttachControl::Detach => AttachInput::Detach,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn frames_keep_their_wire_form() {
        let exited = AttachFrame::Exited(TerminalExit {
            code: 3,
            signal: String::new(),
            reason: "daemon stopped".into(),
        });
        assert_eq!(
            serde_json::to_value(&exited).unwrap(),
            serde_json::json!({"type": "exited", "exit_code": 3, "exit_signal": "", "exit_reason": "daemon stopped"})
        );
        let snap = AttachFrame::Snapshot {
            rows: 24,
            cols: 80,
            terminal: None,
        };
        assert_eq!(
            serde_json::to_value(&snap).unwrap(),
            serde_json::json!({"type": "snapshot", "rows": 24, "cols": 80, "terminal": null})
        );
        for (text, want) in [
            (
                r#"{"type":"resize","rows":5,"cols":9}"#,
                AttachControl::Resize { rows: 5, cols: 9 },
            ),
            (
                r#"{"type":"input","data":"ls\n"}"#,
                AttachControl::Input {
                    data: "ls\n".into(),
                },
            ),
            (r#"{"type":"detach"}"#, AttachControl::Detach),
        ] {
            assert_eq!(serde_json::from_str::<AttachControl>(text).unwrap(), want);
        }
        assert!(serde_json::from_str::<AttachControl>(r#"{"type":"reboot"}"#).is_err());
    }

    #[test]
    fn exits_read_like_tmux() {
        let e = |code, signal: &str, reason: &str| TerminalExit {
            code,
            signal: signal.into(),
            reason: reason.into(),
        };
        assert_eq!(e(3, "", "").to_string(), "exited with code 3");
        assert_eq!(e(1, "SIGKILL", "").to_string(), "killed by SIGKILL");
        assert_eq!(e(-1, "", "daemon stopped").to_string(), "daemon stopped");
    }

    #[test]
    fn a_snapshot_streams_scrollback_then_screen() {
        let s = ScreenSnapshot {
            scrollback: vec!["a".into(), "b".into()],
            screen: b"\x1b[Hc".to_vec(),
            ..ScreenSnapshot::default()
        };
        assert_eq!(s.to_bytes(), b"a\r\nb\r\n\x1b[Hc");
    }
}
