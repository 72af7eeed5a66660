//! Telling the person at the terminal that something needs them while they look elsewhere:
//! an approval arrived, or a turn finished or failed in a session not on screen. The terminal
//! bell by default; OSC 9 (iTerm2, WezTerm, kitty, Windows Terminal) or OSC 777 (foot, rxvt,
//! GNOME's VTE) desktop notifications on request: `AGENTMUX_NOTIFY=bell,osc9`, or `off`.

/// How alerts reach the person; several may be on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    pub bell: bool,
    pub osc9: bool,
    pub osc777: bool,
}

impl Notify {
    /// From `AGENTMUX_NOTIFY` (comma-separated `bell`, `osc9`, `osc777`, or `off`); unset: the
    /// bell. Unknown words are ignored rather than failing the TUI's start.
    pub fn parse(spec: Option<&str>) -> Notify {
        let Some(spec) = spec else {
            return Notify {
                bell: true,
                ..Notify::default()
            };
        };
        let mut n = Notify::default();
        for word in spec.split(',').map(str::trim) {
            match word {
                "bell" => n.bell = true,
                "osc9" => n.osc9 = true,
                "osc777" => n.osc777 = true,
                _ => {}
            }
        }
        n
    }

    pub fn from_env() -> Notify {
        Notify::parse(std::env::var("AGENTMUX_NOTIFY").ok().as_deref())
    }

    /// The bytes to write for one alert (empty when off).
    pub fn bytes(self, text: &str) -> Vec<u8> {
        // Control characters would end the sequence early or move the cursor.
        let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        let mut out = Vec::new();
        if self.osc9 {
            out.extend_from_slice(format!("\x1b]9;{text}\x07").as_bytes());
        }
        if self.osc777 {
            out.extend_from_slice(format!("\x1b]777;notify;agentmux;{text}\x07").as_bytes());
        }
        if self.bell {
            out.push(0x07);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_sanitising() {
        assert_eq!(Notify::parse(None).bytes("x"), b"\x07");
        assert!(Notify::parse(Some("off")).bytes("x").is_empty());
        assert_eq!(
            Notify::parse(Some("osc9, bell")).bytes("done: a\x1b]0;evil\x07"),
            b"\x1b]9;done: a]0;evil\x07\x07"
        );
        assert_eq!(
            Notify::parse(Some("osc777")).bytes("failed"),
            b"\x1b]777;notify;agentmux;failed\x07"
        );
    }
}
