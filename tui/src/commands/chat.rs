//! Talking to a session from a script: `send` (with `--wait`, the answer streams to stdout as
//! it arrives), `log` (the transcript, `--follow` for what comes next) and `events`.

use crate::cli::{EventsArgs, LogArgs, SendArgs};
use crate::client::Client;
use crate::exit::{Exit, Failure};
use crate::output::Out;
use agentmux_shared::types::{
    Event, EventPayload, Message, MessageStatus, Role, StreamItem, ToolCallStatus,
};
use agentmux_shared::{Error, ErrorKind, Result};
use futures_util::StreamExt;
use std::io::{IsTerminal, Read};

/// Messages per page when printing a transcript.
const LOG_PAGE: u32 = 500;

/// The message: the argument, or stdin when it is `-` or missing and stdin is not a terminal.
fn message_text(arg: Option<String>) -> Result<String> {
    let from_stdin = match arg.as_deref() {
        Some("-") => true,
        Some(_) => false,
        None if std::io::stdin().is_terminal() => {
            return Err(Error::invalid(
                "no message: give it as an argument, or `-` to read it from stdin",
            ));
        }
        None => true,
    };
    if !from_stdin {
        return Ok(arg.unwrap_or_default());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::invalid(format!("cannot read the message from stdin: {e}")))?;
    if text.trim().is_empty() {
        return Err(Error::invalid("the message read from stdin is empty"));
    }
    Ok(text)
}

pub async fn send(c: &Client, out: &mut Out, args: SendArgs) -> std::result::Result<(), Failure> {
    let text = message_text(args.text)?;
    if !args.wait {
        let r = c.send_message(&args.session, &text, false).await?;
        if out.json {
            return Ok(out.json_value(&r)?);
        }
        let q = if r.queued { " (queued)" } else { "" };
        return Ok(out.line(&format!("{}{q}", r.message.id))?);
    }
    let session = c.get_session(&args.session).await?.id;
    // Subscribing from the head read before sending misses nothing of the turn.
    let head = c.info().await?.last_seq;
    let r = c.send_message(&session, &text, false).await?;
    follow_turn(c, out, &session, head, &r.message.id).await
}

/// What a followed turn has shown so far.
#[derive(Default)]
struct Turn {
    reply: Option<String>,
    denied: Vec<String>,
    /// The last character printed of the answer (to end it with a newline).
    last: Option<char>,
}

/// Prints the answer to `user_message_id` as it streams (every event of the turn as a JSON
/// line under `--json`) and exits by how the turn ended.
async fn follow_turn(
    c: &Client,
    out: &mut Out,
    session: &str,
    mut after: u64,
    user_message_id: &str,
) -> std::result::Result<(), Failure> {
    let mut turn = Turn::default();
    loop {
        let mut stream = c.subscribe(after, session).await?;
        let mut lagged = false;
        while let Some(item) = stream.next().await {
            let e = match item? {
                StreamItem::Event(e) => e,
                StreamItem::Heartbeat { .. } => continue,
                StreamItem::Lagged { resume_after_seq } => {
                    after = resume_after_seq.max(after);
                    lagged = true;
                    break;
                }
            };
            after = e.seq;
            if let Some(end) = turn_event(out, &e, &mut turn, session, user_message_id)? {
                return end;
            }
        }
        if !lagged {
            return Err(Error::unavailable("the event stream ended before the turn did").into());
        }
    }
}

/// Applies one event; `Some` when the turn is over.
fn turn_event(
    out: &mut Out,
    e: &Event,
    turn: &mut Turn,
    session: &str,
    mine: &str,
) -> Result<Option<std::result::Result<(), Failure>>> {
    match &e.payload {
        EventPayload::TurnStarted {
            user_message_id,
            assistant_message_id,
        } if user_message_id == mine => {
            turn.reply = Some(assistant_message_id.clone());
        }
        EventPayload::MessageDelta { message_id, text }
            if !out.json && turn.reply.as_deref() == Some(message_id.as_str()) =>
        {
            out.raw(text)?;
            turn.last = text.chars().next_back().or(turn.last);
        }
        EventPayload::ToolCall(t) if turn.reply.is_some() && t.status == ToolCallStatus::Denied => {
            let why = t.output.lines().next().unwrap_or("").trim();
            turn.denied.push(format!("{} ({why})", t.name));
        }
        // Dropped from the queue by a hard cancel: its turn never comes.
        EventPayload::MessageCompleted { message }
            if message.id == mine && message.status == MessageStatus::Cancelled =>
        {
            return Ok(Some(Err(Failure::new(
                Exit::TurnStopped,
                Error::precondition("the message was dropped from the queue by a cancel"),
            ))));
        }
        // The session's runner gave up mid-turn (it says why on the session).
        EventPayload::SessionUpdated { session: s }
            if s.id == session && turn.reply.is_some() && !s.busy =>
        {
            if turn.last.is_some_and(|c| c != '\n') && !out.json {
                out.raw("\n")?;
            }
            return Ok(Some(Err(Failure::new(
                Exit::TurnFailed,
                Error::internal(or(&s.last_error, "the turn ended without an answer").to_string()),
            ))));
        }
        EventPayload::SessionDeleted { id } if id == session => {
            return Ok(Some(Err(Error::new(
                ErrorKind::NotFound,
                "the session was deleted during the turn",
            )
            .into())));
        }
        EventPayload::TurnFinished(f) if f.user_message_id == mine => {
            if out.json {
                out.event(e)?;
            } else if turn.last.is_some_and(|c| c != '\n') {
                out.raw("\n")?;
            }
            let end = match f.status {
                MessageStatus::Complete if turn.denied.is_empty() => Ok(()),
                MessageStatus::Complete => Err(Failure::new(
                    Exit::ApprovalDenied,
                    Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "the turn finished, but the agent was denied: {}",
                            turn.denied.join(", ")
                        ),
                    ),
                )),
                MessageStatus::Failed => Err(Failure::new(
                    Exit::TurnFailed,
                    Error::internal(or(&f.error, "no reason given").to_string()),
                )),
                other => Err(Failure::new(
                    Exit::TurnStopped,
                    Error::precondition(format!(
                        "the turn ended {}{}",
                        other.as_str(),
                        if f.error.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", f.error)
                        }
                    )),
                )),
            };
            return Ok(Some(end));
        }
        _ => {}
    }
    if out.json && turn.reply.is_some() {
        out.event(e)?;
    }
    Ok(None)
}

fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}

/// `log SESSION`: every message, oldest first; `--follow` then prints new ones as they come.
pub async fn log(c: &Client, out: &mut Out, args: LogArgs) -> Result<()> {
    let session = c.get_session(&args.session).await?;
    let mut after_index = 0;
    let mut head = 0;
    loop {
        let page = c.list_messages(&session.id, after_index, LOG_PAGE).await?;
        if head == 0 {
            // The head as of the first page: following from it misses nothing later pages skip.
            head = page.last_seq;
        }
        for m in &page.messages {
            print_message(out, m)?;
        }
        if !page.more {
            break;
        }
        after_index = page.next_index;
    }
    if !args.follow {
        return Ok(());
    }
    let mut after = head;
    loop {
        let mut stream = c.subscribe(after, &session.id).await?;
        let mut lagged = false;
        while let Some(item) = stream.next().await {
            match item? {
                StreamItem::Event(e) => {
                    after = e.seq;
                    match &e.payload {
                        EventPayload::MessageCreated { message } if message.role == Role::User => {
                            print_message(out, message)?;
                        }
                        EventPayload::MessageCompleted { message } => print_message(out, message)?,
                        EventPayload::SessionDeleted { .. } => {
                            return Err(Error::new(ErrorKind::NotFound, "the session was deleted"));
                        }
                        _ => {}
                    }
                }
                StreamItem::Heartbeat { .. } => {}
                StreamItem::Lagged { resume_after_seq } => {
                    after = resume_after_seq.max(after);
                    lagged = true;
                    break;
                }
            }
        }
        if !lagged {
            return Err(Error::unavailable("the event stream ended"));
        }
    }
}

/// A message as a JSON line, or as a header and its text for people.
fn print_message(out: &mut Out, m: &Message) -> Result<()> {
    if out.json {
        let text = serde_json::to_string(m)
            .map_err(|e| Error::internal(format!("cannot encode JSON: {e}")))?;
        return out.line(&text);
    }
    let who = match m.role {
        Role::User => "you".to_string(),
        Role::Assistant if m.model.is_empty() => "assistant".to_string(),
        Role::Assistant => format!("assistant ({})", m.model),
        Role::System => "system".to_string(),
    };
    let status = match m.status {
        MessageStatus::Complete => String::new(),
        MessageStatus::Failed => format!(" [failed: {}]", or(&m.error, "no reason")),
        other => format!(" [{}]", other.as_str()),
    };
    let mut text = format!("## {who} #{}{status}\n", m.index);
    if !m.content.is_empty() {
        text.push_str(&m.content);
        if !m.content.ends_with('\n') {
            text.push('\n');
        }
    }
    for t in &m.tools {
        text.push_str(&format!("  tool {} · {}\n", t.name, t.status.as_str()));
    }
    for ch in &m.changes {
        text.push_str(&format!("  changed {}\n", ch.path));
    }
    text.push('\n');
    out.raw(&text)
}

/// Replays and/or streams events. With no `--after`/`--all` it starts at the head and follows
/// (only what happens from now); with one it replays from there and stops at the head unless
/// `--follow`.
pub async fn events(c: &Client, out: &mut Out, args: EventsArgs) -> Result<()> {
    let session = match &args.session {
        // Resolve a prefix once: the subscription filter wants the full id.
        Some(s) => c.get_session(s).await?.id,
        None => String::new(),
    };
    let head = c.info().await?.last_seq;
    let (mut after, follow) = match (args.after, args.all) {
        (Some(n), _) => (n, args.follow),
        (None, true) => (0, args.follow),
        (None, false) => (head, true),
    };
    if !follow && after >= head {
        return Ok(());
    }
    loop {
        let mut stream = c.subscribe(after, &session).await?;
        let mut resumed = false;
        while let Some(item) = stream.next().await {
            match item? {
                StreamItem::Event(e) => {
                    after = e.seq;
                    out.event(&e)?;
                    if !follow && e.seq >= head {
                        return Ok(());
                    }
                }
                StreamItem::Heartbeat { last_seq } => {
                    // With a session filter the head itself may belong to another session;
                    // a heartbeat past the head says the replay has covered it.
                    if !follow && last_seq >= head {
                        return Ok(());
                    }
                }
                StreamItem::Lagged { resume_after_seq } => {
                    after = resume_after_seq.max(after);
                    resumed = true;
                    break;
                }
            }
        }
        if !resumed {
            return Err(Error::unavailable("the event stream ended"));
        }
    }
}
