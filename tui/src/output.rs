//! CLI output: kubectl-style aligned tables for people, serde JSON for scripts.

use agentmux_shared::types::{
    ApiKey, CredentialsStatus, Event, EventPayload, Info, InstallJob, ProviderInfo, ProviderKind,
    Session, Terminal, TerminalStatus,
};
use agentmux_shared::{Error, Result};
use serde::Serialize;
use std::io::Write;

pub struct Out {
    pub json: bool,
    stdout: std::io::Stdout,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            json,
            stdout: std::io::stdout(),
        }
    }

    pub fn raw(&mut self, text: &str) -> Result<()> {
        let mut lock = self.stdout.lock();
        let r = lock.write_all(text.as_bytes()).and_then(|()| lock.flush());
        match r {
            Ok(()) => Ok(()),
            // `agentmux events | head` closes the pipe: that is the reader being done, not an
            // error worth a message or a non-zero status.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => Err(Error::internal(format!("cannot write to stdout: {e}"))),
        }
    }

    pub fn line(&mut self, text: &str) -> Result<()> {
        self.raw(&format!("{text}\n"))
    }

    pub fn err_line(&mut self, text: &str) {
        // Nothing sensible to do if stderr is gone.
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    pub fn json_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::internal(format!("cannot encode JSON: {e}")))?;
        self.line(&text)
    }

    pub fn session(&mut self, s: &Session) -> Result<()> {
        if self.json {
            return self.json_value(s);
        }
        self.fields(&session_fields(s))
    }

    /// `key: value` lines with the values aligned.
    pub fn fields(&mut self, fields: &[(&str, String)]) -> Result<()> {
        let w = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        let mut text = String::new();
        for (k, v) in fields {
            text.push_str(&format!("{:<w$} {v}\n", format!("{k}:")));
        }
        self.raw(&text)
    }

    pub fn sessions_table(&mut self, sessions: &[Session], now_ms: i64) -> Result<()> {
        let text = sessions_table(sessions, now_ms);
        self.raw(&text)
    }

    pub fn terminal(&mut self, t: &Terminal) -> Result<()> {
        if self.json {
            return self.json_value(t);
        }
        self.fields(&terminal_fields(t, now_ms()))
    }

    pub fn keys_table(&mut self, keys: &[ApiKey], now_ms: i64) -> Result<()> {
        let rows = keys
            .iter()
            .map(|k| {
                let state = if k.revoked_at_ms == 0 {
                    "valid".to_string()
                } else {
                    format!("revoked {}", ago(now_ms, k.revoked_at_ms))
                };
                vec![
                    k.id.clone(),
                    k.name.clone(),
                    k.prefix.clone(),
                    ago(now_ms, k.created_at_ms),
                    state,
                ]
            })
            .collect::<Vec<_>>();
        self.raw(&table(&["ID", "NAME", "PREFIX", "CREATED", "STATE"], &rows))
    }

    /// One line per event: JSON objects for scripts, a compact summary for people.
    pub fn event(&mut self, e: &Event) -> Result<()> {
        if self.json {
            let text = serde_json::to_string(e)
                .map_err(|e| Error::internal(format!("cannot encode JSON: {e}")))?;
            return self.line(&text);
        }
        self.line(&event_line(e))
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// "5s ago", "3m ago", "2h ago", "4d ago"; "-" for an unset time.
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    if then_ms <= 0 {
        return "-".into();
    }
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            line.push_str(cell);
            line.push_str(&" ".repeat(w.saturating_sub(cell.chars().count()) + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `agentmux providers ls`: what is installed, where, and whether it can log in.
pub fn providers_table(providers: &[ProviderInfo]) -> String {
    let rows: Vec<Vec<String>> = providers
        .iter()
        .map(|p| {
            let (installed, version, path) = match p.kind {
                ProviderKind::Http => ("-".to_string(), "-".to_string(), p.base_url.clone()),
                ProviderKind::Cli if p.installed => (
                    format!("yes ({})", p.source),
                    if p.version.is_empty() {
                        "?".to_string()
                    } else {
                        p.version.clone()
                    },
                    p.path.clone(),
                ),
                ProviderKind::Cli => ("no".to_string(), "-".to_string(), p.install_hint.clone()),
            };
            let credentials = match p.credentials_status {
                CredentialsStatus::Found => format!("found: {}", p.credentials),
                other => other.as_str().replace('_', " "),
            };
            vec![
                p.id.clone(),
                p.kind.as_str().to_string(),
                installed,
                version,
                path,
                credentials,
            ]
        })
        .collect();
    table(
        &["ID", "KIND", "INSTALLED", "VERSION", "PATH", "CREDENTIALS"],
        &rows,
    )
}

/// `agentmux providers jobs`.
pub fn install_jobs_table(jobs: &[InstallJob], now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let detail = if j.error.is_empty() {
                j.version.clone()
            } else {
                clip(&j.error, 80)
            };
            vec![
                j.id.clone(),
                j.provider.clone(),
                j.state.as_str().to_string(),
                j.package.clone(),
                ago(now_ms, j.created_at_ms),
                detail,
            ]
        })
        .collect();
    table(
        &["ID", "PROVIDER", "STATE", "PACKAGE", "CREATED", "DETAIL"],
        &rows,
    )
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn sessions_table(sessions: &[Session], now_ms: i64) -> String {
    let rows = sessions
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.id.clone(),
                if s.title.is_empty() {
                    "-".into()
                } else {
                    s.title.clone()
                },
                s.provider.clone(),
                s.display_status().to_string(),
                s.message_count.to_string(),
                ago(now_ms, s.updated_at_ms),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "NAME", "ID", "TITLE", "PROVIDER", "STATUS", "MSGS", "UPDATED",
        ],
        &rows,
    )
}

/// "running", "exited 0", "killed SIGKILL": short enough for a table column.
pub fn terminal_status(t: &Terminal) -> String {
    match t.status {
        TerminalStatus::Running => "running".into(),
        TerminalStatus::Exited if !t.exit_reason.is_empty() => t.exit_reason.clone(),
        TerminalStatus::Exited if t.exit_signal.is_empty() => format!("exited {}", t.exit_code),
        TerminalStatus::Exited => format!("killed {}", t.exit_signal),
    }
}

/// The command line as a shell would show it (arguments with spaces quoted).
pub fn command_line(t: &Terminal) -> String {
    std::iter::once(&t.command)
        .chain(&t.args)
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const COMMAND_COLUMN: usize = 40;

pub fn terminals_table(terminals: &[Terminal], now_ms: i64) -> String {
    let rows = terminals
        .iter()
        .map(|t| {
            let mut cmd = command_line(t);
            if cmd.chars().count() > COMMAND_COLUMN {
                cmd = cmd.chars().take(COMMAND_COLUMN - 1).collect::<String>() + "…";
            }
            vec![
                t.id.clone(),
                t.name.clone(),
                cmd,
                terminal_status(t),
                if t.pid == 0 {
                    "-".into()
                } else {
                    t.pid.to_string()
                },
                t.clients.to_string(),
                format!("{}x{}", t.cols, t.rows),
                ago(now_ms, t.created_at_ms),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "ID", "NAME", "COMMAND", "STATUS", "PID", "CLIENTS", "SIZE", "AGE",
        ],
        &rows,
    )
}

pub fn terminal_fields(t: &Terminal, now_ms: i64) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("command", command_line(t)),
        ("cwd", t.cwd.clone()),
        ("status", terminal_status(t)),
        ("pid", t.pid.to_string()),
        ("clients", t.clients.to_string()),
        ("size", format!("{}x{} (cols x rows)", t.cols, t.rows)),
        ("created", ago(now_ms, t.created_at_ms)),
        ("started", ago(now_ms, t.started_at_ms)),
    ];
    if t.status == TerminalStatus::Exited {
        f.push(("exited", ago(now_ms, t.exited_at_ms)));
    }
    if !t.preset.is_empty() {
        f.push(("preset", t.preset.clone()));
    }
    if !t.provider_session_id.is_empty() {
        f.push(("provider session", t.provider_session_id.clone()));
    }
    for (k, v) in &t.env {
        f.push(("env", format!("{k}={v}")));
    }
    f
}

pub fn session_fields(s: &Session) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("name", s.name.clone()),
        ("id", s.id.clone()),
        ("title", s.title.clone()),
        ("provider", s.provider.clone()),
        ("model", s.model.clone()),
        ("cwd", s.cwd.clone()),
        ("status", s.display_status().to_string()),
        ("queued", s.queued.to_string()),
        ("messages", s.message_count.to_string()),
        (
            "tokens",
            format!("{} in, {} out", s.usage.input_tokens, s.usage.output_tokens),
        ),
    ];
    if let Some(w) = &s.workspace {
        f.push((
            "worktree",
            format!("{} on {} from {} ({})", w.path, w.branch, w.base, w.state),
        ));
    }
    if !s.forked_from.is_empty() {
        f.push(("forked from", s.forked_from.clone()));
    }
    if !s.last_error.is_empty() {
        f.push(("last error", s.last_error.clone()));
    }
    f
}

pub fn info_fields(i: &Info) -> Vec<(&'static str, String)> {
    vec![
        ("version", i.version.clone()),
        ("pid", i.pid.to_string()),
        ("data dir", i.data_dir.clone()),
        ("socket", i.socket.clone()),
        (
            "tcp listen",
            if i.tcp_listen.is_empty() {
                "off".into()
            } else {
                i.tcp_listen.clone()
            },
        ),
        ("last seq", i.last_seq.to_string()),
        ("sessions", i.sessions.to_string()),
    ]
}

fn event_line(e: &Event) -> String {
    let detail = match &e.payload {
        EventPayload::SessionCreated { session }
        | EventPayload::SessionUpdated { session }
        | EventPayload::SessionReset { session } => {
            format!("{} {:?}", session.display_status(), session.title)
        }
        EventPayload::SessionDeleted { id } => id.clone(),
        EventPayload::MessageCreated { message } | EventPayload::MessageCompleted { message } => {
            format!(
                "{} {} {} {:?}",
                message.id,
                message.role.as_str(),
                message.status.as_str(),
                message.content
            )
        }
        EventPayload::MessageDelta { message_id, text }
        | EventPayload::ReasoningDelta { message_id, text } => format!("{message_id} {text:?}"),
        EventPayload::TurnStarted {
            user_message_id,
            assistant_message_id,
        } => format!("{user_message_id} -> {assistant_message_id}"),
        EventPayload::TurnFinished(t) => {
            let mut s = format!("{} {}", t.assistant_message_id, t.status.as_str());
            if !t.error.is_empty() {
                s.push_str(&format!(" {:?}", t.error));
            }
            s
        }
        EventPayload::Warning { message } => format!("{message:?}"),
        EventPayload::TerminalCreated { terminal } | EventPayload::TerminalUpdated { terminal } => {
            format!(
                "{} {} {}",
                terminal.id,
                terminal.name,
                terminal.status.as_str()
            )
        }
        EventPayload::TerminalRemoved { id } => id.clone(),
        EventPayload::ApprovalRequested { approval }
        | EventPayload::ApprovalResolved { approval } => {
            format!(
                "{} {} {:?} {}",
                approval.id,
                approval.status.as_str(),
                approval.summary,
                approval.reason.map(|r| r.as_str()).unwrap_or_default()
            )
        }
        EventPayload::ToolCall(t) => format!("{} {} {}", t.id, t.name, t.status),
        EventPayload::FileChanged { path, .. } => path.clone(),
        EventPayload::PlanUpdated { entries } => entries
            .iter()
            .map(|e| format!("[{}] {}", e.status, e.content))
            .collect::<Vec<_>>()
            .join("; "),
        EventPayload::WorkspaceChanged {
            reason,
            paths,
            truncated,
        } => format!(
            "{reason} {}{}",
            paths.join(" "),
            if *truncated { " …" } else { "" }
        ),
        EventPayload::ProviderInstall { job, lines } => {
            let mut s = format!("{} {} {}", job.id, job.provider, job.state.as_str());
            if !lines.is_empty() {
                s.push_str(&format!(" +{} lines", lines.len()));
            }
            if !job.error.is_empty() {
                s.push_str(&format!(" {:?}", job.error));
            }
            s
        }
    };
    format!("{} {} {} {}", e.seq, e.session_id, e.payload.name(), detail)
}

/// `git status` for people: the branch line, then one file a line with its letters.
#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn providers_table_shows_install_state_and_credentials() {
        let claude = ProviderInfo {
            id: "claude".into(),
            installed: true,
            source: "managed".into(),
            version: "2.1.197".into(),
            path: "/d/clis/bin/claude".into(),
            credentials_status: CredentialsStatus::Found,
            credentials: "ANTHROPIC_API_KEY (environment)".into(),
            ..ProviderInfo::default()
        };
        let codex = ProviderInfo {
            id: "codex".into(),
            install_hint: "agentmux providers install codex".into(),
            ..ProviderInfo::default()
        };
        let openai = ProviderInfo {
            id: "openai".into(),
            kind: ProviderKind::Http,
            base_url: "http://127.0.0.1:1/v1".into(),
            credentials_status: CredentialsStatus::NotNeeded,
            ..ProviderInfo::default()
        };
        assert_eq!(
            providers_table(&[claude, codex, openai]),
            "ID      KIND  INSTALLED      VERSION  PATH                              CREDENTIALS\n\
             claude  cli   yes (managed)  2.1.197  /d/clis/bin/claude                found: ANTHROPIC_API_KEY (environment)\n\
             codex   cli   no             -        agentmux providers install codex  missing\n\
             openai  http  -              -        http://127.0.0.1:1/v1             not needed\n"
        );
    }

    #[test]
    fn sessions_table_aligns_columns() {
        let now = 1_000_000_000;
        let s = |id: &str, title: &str, busy: bool, queued: u32| Session {
            id: id.into(),
            name: agentmux_shared::types::slug(title),
            title: title.into(),
            provider: "openai".into(),
            busy,
            queued,
            status: if busy {
                agentmux_shared::types::SessionStatus::Busy
            } else {
                agentmux_shared::types::SessionStatus::Idle
            },
            message_count: 12,
            updated_at_ms: now - 125_000,
            ..Session::default()
        };
        let text = sessions_table(
            &[s("a1", "refactor parser", false, 0), s("b22", "", true, 2)],
            now,
        );
        assert_eq!(
            text,
            "NAME             ID   TITLE            PROVIDER  STATUS  MSGS  UPDATED\n\
             refactor-parser  a1   refactor parser  openai    idle    12    2m ago\n\
             \x20                b22  -                openai    queued  12    2m ago\n"
        );
    }

    #[test]
    fn terminals_table_aligns_columns() {
        let now = 1_000_000_000;
        let running = Terminal {
            id: "term_1".into(),
            name: "sh".into(),
            command: "bash".into(),
            args: vec!["-c".into(), "echo hi there".into()],
            rows: 24,
            cols: 80,
            pid: 4242,
            clients: 1,
            created_at_ms: now - 5_000,
            ..Terminal::default()
        };
        let exited = Terminal {
            id: "term_22".into(),
            name: "vim".into(),
            command: "vim".into(),
            status: TerminalStatus::Exited,
            exit_signal: "SIGKILL".into(),
            rows: 30,
            cols: 100,
            created_at_ms: now - 125_000,
            ..Terminal::default()
        };
        assert_eq!(
            terminals_table(&[running, exited], now),
            "ID       NAME  COMMAND                  STATUS          PID   CLIENTS  SIZE    AGE\n\
             term_1   sh    bash -c \"echo hi there\"  running         4242  1        80x24   5s ago\n\
             term_22  vim   vim                      killed SIGKILL  -     0        100x30  2m ago\n"
        );
    }

    #[test]
    fn ago_buckets() {
        for (delta, want) in [
            (0, "0s ago"),
            (59_999, "59s ago"),
            (61_000, "1m ago"),
            (7_200_000, "2h ago"),
            (200_000_000, "2d ago"),
        ] {
            assert_eq!(ago(1_000_000_000_000 + delta, 1_000_000_000_000), want);
        }
        assert_eq!(ago(5, 0), "-");
    }
}
