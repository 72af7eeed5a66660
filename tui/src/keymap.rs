//! Key bindings in one struct: dispatch matches against it and the help overlay is generated
//! from it, so the hints can never drift from the behaviour.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }
    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }
    pub const fn with(code: KeyCode, mods: KeyModifiers) -> Key {
        Key { code, mods }
    }

    pub fn matches(&self, ev: &KeyEvent) -> bool {
        if ev.kind == KeyEventKind::Release {
            return false;
        }
        // Terminals report shifted letters as the upper-case char, some with SHIFT set and
        // some without: compare letters by char and ignore SHIFT for them.
        let mods = match ev.code {
            KeyCode::Char(_) => ev.modifiers - KeyModifiers::SHIFT,
            _ => ev.modifiers,
        };
        let want = match self.code {
            KeyCode::Char(_) => self.mods - KeyModifiers::SHIFT,
            _ => self.mods,
        };
        ev.code == self.code && mods == want
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("Shift-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::Enter => s.push_str("Enter"),
            KeyCode::Esc => s.push_str("Esc"),
            KeyCode::Tab => s.push_str("Tab"),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::PageUp => s.push_str("PgUp"),
            KeyCode::PageDown => s.push_str("PgDn"),
            KeyCode::Home => s.push_str("Home"),
            KeyCode::End => s.push_str("End"),
            other => s.push_str(&format!("{other:?}")),
        }
        s
    }
}

/// One action's keys, what the help says about it and its word in the hint line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<Key>,
    pub help: &'static str,
    pub short: &'static str,
}

impl Binding {
    fn new(keys: &[Key], help: &'static str) -> Binding {
        Binding {
            keys: keys.to_vec(),
            help,
            short: help,
        }
    }

    /// The word the hint line uses (the help text is for `?`).
    fn short(mut self, short: &'static str) -> Binding {
        self.short = short;
        self
    }

    pub fn matches(&self, ev: &KeyEvent) -> bool {
        self.keys.iter().any(|k| k.matches(ev))
    }

    pub fn label(&self) -> String {
        self.keys
            .iter()
            .map(Key::label)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// One entry of a hint line: a binding's keys and what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub key: String,
    pub help: &'static str,
}

/// Where a binding applies, for grouping in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Sessions,
    Composer,
    Terminal,
    Approval,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Anywhere",
            Scope::Sessions => "Session list",
            Scope::Composer => "Composer",
            Scope::Terminal => "Terminal pane (every other key goes to the program)",
            Scope::Approval => "Approval",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    pub quit_anywhere: Binding,
    pub switch_focus: Binding,
    pub palette: Binding,
    pub search: Binding,
    pub expand: Binding,
    pub page_up: Binding,
    pub page_down: Binding,
    pub quit: Binding,
    pub help: Binding,
    pub up: Binding,
    pub down: Binding,
    pub first: Binding,
    pub last: Binding,
    pub filter: Binding,
    pub sort: Binding,
    pub top: Binding,
    pub bottom: Binding,
    pub new_session: Binding,
    pub rename: Binding,
    pub delete: Binding,
    pub cancel: Binding,
    pub cancel_hard: Binding,
    pub compose: Binding,
    pub send: Binding,
    pub newline: Binding,
    pub editor: Binding,
    pub recall_older: Binding,
    pub recall_newer: Binding,
    pub leave_composer: Binding,
    pub approvals: Binding,
    pub rules: Binding,
    pub review: Binding,
    pub allow_once: Binding,
    pub allow_always: Binding,
    pub deny: Binding,
    pub close_approval: Binding,
    /// A prefix, not a key of its own: the pane reads it as bytes (see `attach::Prefix`).
    pub term_prefix: Binding,
}

impl Default for KeyMap {
    fn default() -> Self {
        use KeyCode::*;
        KeyMap {
            quit_anywhere: Binding::new(
                &[Key::ctrl('c')],
                "clear the draft; with none, press twice to quit",
            ),
            palette: Binding::new(
                &[Key::ctrl('p'), Key::ch(':')],
                "every action by name (: in the list)",
            )
            .short("actions"),
            search: Binding::new(
                &[Key::ch('/'), Key::ctrl('f')],
                "search the transcript (/ in the list)",
            )
            .short("search"),
            expand: Binding::new(&[Key::ctrl('o')], "show/hide tool output and full diffs"),
            switch_focus: Binding::new(&[Key::plain(Tab)], "switch focus list / composer"),
            page_up: Binding::new(&[Key::plain(PageUp)], "scroll transcript up"),
            page_down: Binding::new(&[Key::plain(PageDown)], "scroll transcript down"),
            quit: Binding::new(&[Key::ch('q')], "quit"),
            help: Binding::new(&[Key::ch('?')], "toggle this help").short("keys"),
            up: Binding::new(&[Key::ch('k'), Key::plain(Up)], "previous session"),
            down: Binding::new(&[Key::ch('j'), Key::plain(Down)], "next session"),
            first: Binding::new(&[Key::ch('g'), Key::plain(Home)], "first in the list"),
            last: Binding::new(&[Key::ch('G'), Key::plain(End)], "last in the list"),
            filter: Binding::new(
                &[Key::ch('f')],
                "filter the list (title, name, dir, provider, status)",
            )
            .short("filter"),
            sort: Binding::new(
                &[Key::ch('s')],
                "sort the list: newest, by directory, by name",
            )
            .short("sort"),
            top: Binding::new(
                &[Key::with(Home, crossterm::event::KeyModifiers::CONTROL)],
                "transcript: oldest loaded (again: older)",
            ),
            bottom: Binding::new(
                &[Key::with(End, crossterm::event::KeyModifiers::CONTROL)],
                "transcript: newest (follow)",
            ),
            new_session: Binding::new(&[Key::ch('n')], "new session").short("new"),
            rename: Binding::new(&[Key::ch('r')], "rename session").short("rename"),
            delete: Binding::new(&[Key::ch('d')], "delete session").short("delete"),
            cancel: Binding::new(&[Key::ch('c')], "cancel the running turn").short("cancel"),
            cancel_hard: Binding::new(&[Key::ch('C')], "cancel turn and drop queue"),
            // On a terminal the same keys focus its pane (the pane's header says so).
            compose: Binding::new(&[Key::plain(Enter), Key::ch('i')], "write a message")
                .short("write"),
            send: Binding::new(&[Key::plain(Enter)], "send"),
            newline: Binding::new(
                &[
                    Key::with(Enter, crossterm::event::KeyModifiers::ALT),
                    Key::with(Enter, crossterm::event::KeyModifiers::SHIFT),
                ],
                "new line",
            ),
            editor: Binding::new(&[Key::ctrl('g')], "write the message in $EDITOR").short("editor"),
            recall_older: Binding::new(
                &[Key::plain(Up)],
                "on the first line: an older sent message",
            ),
            recall_newer: Binding::new(
                &[Key::plain(Down)],
                "on the last line: a newer one, then the draft",
            ),
            leave_composer: Binding::new(&[Key::plain(Esc)], "back to the list (the draft stays)")
                .short("list"),
            approvals: Binding::new(&[Key::ch('a')], "review pending approvals"),
            rules: Binding::new(
                &[Key::ch('R')],
                "the session's always-allowed tools (revoke)",
            ),
            review: Binding::new(
                &[Key::ch('v')],
                "review its changes: diff, stage, commit, merge",
            )
            .short("review"),
            allow_once: Binding::new(&[Key::ch('y')], "allow once"),
            allow_always: Binding::new(&[Key::ch('A')], "allow always"),
            deny: Binding::new(&[Key::ch('n')], "deny (with a message)"),
            close_approval: Binding::new(&[Key::plain(Esc)], "decide later"),
            term_prefix: Binding::new(
                &[Key::ctrl('b')],
                "then d: back to the list; twice: send it",
            ),
        }
    }
}

impl KeyMap {
    /// The terminal pane's prefix as a control byte (`attach::parse_prefix` spelling).
    pub fn with_term_prefix(mut self, byte: u8) -> KeyMap {
        let c = match byte {
            1..=26 => char::from(b'a' + byte - 1),
            0x1c => '\\',
            0x1d => ']',
            0x1e => '^',
            0x1f => '_',
            _ => ' ',
        };
        self.term_prefix.keys = vec![Key::ctrl(c)];
        self
    }

    /// Every binding with its scope, in the order the help shows them. The approval modal's
    /// keys are not here: its footer lists them (`hints(Scope::Approval)`) and the help must
    /// fit a 24-row terminal.
    pub fn entries(&self) -> Vec<(Scope, &Binding)> {
        vec![
            (Scope::Global, &self.quit_anywhere),
            (Scope::Global, &self.switch_focus),
            (Scope::Global, &self.palette),
            (Scope::Global, &self.search),
            (Scope::Global, &self.expand),
            (Scope::Global, &self.page_up),
            (Scope::Global, &self.page_down),
            (Scope::Global, &self.top),
            (Scope::Global, &self.bottom),
            (Scope::Sessions, &self.up),
            (Scope::Sessions, &self.down),
            (Scope::Sessions, &self.first),
            (Scope::Sessions, &self.last),
            (Scope::Sessions, &self.filter),
            (Scope::Sessions, &self.sort),
            (Scope::Sessions, &self.compose),
            (Scope::Sessions, &self.new_session),
            (Scope::Sessions, &self.rename),
            (Scope::Sessions, &self.delete),
            (Scope::Sessions, &self.cancel),
            (Scope::Sessions, &self.cancel_hard),
            (Scope::Sessions, &self.approvals),
            (Scope::Sessions, &self.rules),
            (Scope::Sessions, &self.review),
            (Scope::Sessions, &self.help),
            (Scope::Sessions, &self.quit),
            (Scope::Composer, &self.send),
            (Scope::Composer, &self.newline),
            (Scope::Composer, &self.editor),
            (Scope::Composer, &self.recall_older),
            (Scope::Composer, &self.recall_newer),
            (Scope::Composer, &self.leave_composer),
            (Scope::Terminal, &self.term_prefix),
        ]
    }

    /// The short hint line for the focused pane.
    pub fn hints(&self, scope: Scope) -> Vec<Hint> {
        let short: &[&Binding] = match scope {
            // By priority: the line keeps as many as fit whole, `?` lists the rest.
            Scope::Sessions => &[
                &self.new_session,
                &self.compose,
                &self.help,
                &self.palette,
                &self.filter,
                &self.search,
                &self.cancel,
                &self.rename,
                &self.delete,
                &self.quit,
            ],
            Scope::Composer => &[
                &self.send,
                &self.newline,
                &self.leave_composer,
                &self.editor,
                &self.recall_older,
            ],
            Scope::Terminal => &[&self.term_prefix],
            Scope::Approval => &[
                &self.allow_once,
                &self.allow_always,
                &self.deny,
                &self.close_approval,
            ],
            Scope::Global => &[&self.switch_focus],
        };
        short
            .iter()
            .map(|b| Hint {
                key: b.keys.first().map(Key::label).unwrap_or_default(),
                help: b.short,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_letters_match_with_or_without_shift_flag() {
        let km = KeyMap::default();
        let with = KeyEvent::new(KeyCode::Char('C'), KeyModifiers::SHIFT);
        let without = KeyEvent::new(KeyCode::Char('C'), KeyModifiers::NONE);
        assert!(km.cancel_hard.matches(&with) && km.cancel_hard.matches(&without));
        assert!(!km.cancel.matches(&with));
    }

    #[test]
    fn every_binding_is_listed_in_help() {
        // A new field must also be added to `entries` (or, for the approval modal, to its
        // hints), or nothing would show it.
        let km = KeyMap::default();
        assert_eq!(km.entries().len(), 33);
        assert_eq!(km.hints(Scope::Approval).len(), 4);
    }
}
