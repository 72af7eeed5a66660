//! The one fold of a turn's events into its answer: the runner keeps the answer with it while
//! the turn streams, recovery rebuilds an interrupted answer from the log with it, and
//! clients show a live answer with it, so the three cannot disagree.

use super::{EventPayload, FileChange, MAX_TOOL_CALLS, Message, MessageStatus, merge_tool_call};

impl Message {
    /// Folds one event into this answer. Text and the end of the turn name their message and
    /// are ignored when they name another; tool calls, file changes and plans name only the
    /// session, so the caller passes just those of this answer's turn.
    pub fn apply(&mut self, p: &EventPayload) {
        match p {
            EventPayload::MessageDelta { message_id, text } if *message_id == self.id => {
                self.content.push_str(text);
                if self.status == MessageStatus::Queued {
                    self.status = MessageStatus::Streaming;
                }
            }
            EventPayload::ReasoningDelta { message_id, text } if *message_id == self.id => {
                self.reasoning.push_str(text);
            }
            EventPayload::ToolCall(t) => merge_tool_call(&mut self.tools, t),
            EventPayload::FileChanged { path, diff } if self.changes.len() < MAX_TOOL_CALLS => {
                self.changes.push(FileChange {
                    path: path.clone(),
                    diff: diff.clone(),
                });
            }
            EventPayload::PlanUpdated { entries } => self.plan = entries.clone(),
            EventPayload::TurnFinished(t) if t.assistant_message_id == self.id => {
                self.status = t.status;
                self.stop_reason = t.stop_reason.clone();
                self.usage = t.usage;
                if !t.error.is_empty() {
                    self.error = t.error.clone();
                }
            }
            EventPayload::MessageCompleted { message } if message.id == self.id => {
                *self = message.clone();
            }
            _ => {}
        }
    }

    /// Whether an event is one `apply` folds into some answer of its session.
    pub fn folds(p: &EventPayload) -> bool {
        matches!(
            p,
            EventPayload::MessageDelta { .. }
                | EventPayload::ReasoningDelta { .. }
                | EventPayload::ToolCall(_)
                | EventPayload::FileChanged { .. }
                | EventPayload::PlanUpdated { .. }
                | EventPayload::TurnFinished(_)
                | EventPayload::MessageCompleted { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PlanEntry, PlanStatus, ToolCall, ToolCallStatus, TurnFinished, Usage};
    use super::*;
    use pretty_assertions::assert_eq;

    fn answer() -> Message {
        Message {
            id: "m1".into(),
            status: MessageStatus::Streaming,
            ..Message::default()
        }
    }

    fn delta(id: &str, text: &str) -> EventPayload {
        EventPayload::MessageDelta {
            message_id: id.into(),
            text: text.into(),
        }
    }

    fn tool(id: &str, name: &str, status: &str) -> EventPayload {
        EventPayload::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            input_json: if name.is_empty() { "" } else { "{}" }.into(),
            status: ToolCallStatus::parse(status).unwrap(),
            output: String::new(),
        })
    }

    #[test]
    fn a_turn_folds_into_its_answer() {
        let mut m = answer();
        for p in [
            delta("m1", "Hel"),
            delta("other", "ignored"),
            tool("t1", "Write", "started"),
            EventPayload::FileChanged {
                path: "a.txt".into(),
                diff: "+a".into(),
            },
            // An update keeps the name and input it leaves out.
            tool("t1", "", "finished"),
            EventPayload::PlanUpdated {
                entries: vec![PlanEntry {
                    content: "one".into(),
                    status: PlanStatus::Completed,
                    priority: String::new(),
                }],
            },
            delta("m1", "lo"),
            EventPayload::TurnFinished(TurnFinished {
                user_message_id: "u".into(),
                assistant_message_id: "m1".into(),
                status: MessageStatus::Complete,
                stop_reason: "end_turn".into(),
                error: String::new(),
                usage: Usage {
                    input_tokens: 3,
                    ..Usage::default()
                },
                cost_usd: 0.0,
            }),
        ] {
            m.apply(&p);
        }
        assert_eq!(m.content, "Hello");
        assert_eq!(m.status, MessageStatus::Complete);
        assert_eq!(m.stop_reason, "end_turn");
        assert_eq!(m.usage.input_tokens, 3);
        assert_eq!(m.tools.len(), 1);
        assert_eq!(
            (m.tools[0].name.as_str(), m.tools[0].input_json.as_str()),
            ("Write", "{}")
        );
        assert_eq!(m.tools[0].status, "finished");
        assert_eq!(m.changes.len(), 1);
        assert_eq!(m.plan.len(), 1);
    }

    #[test]
    fn activity_is_bounded() {
        let mut m = answer();
        for i in 0..MAX_TOOL_CALLS + 10 {
            m.apply(&tool(&format!("t{i}"), "Bash", "started"));
            m.apply(&EventPayload::FileChanged {
                path: format!("f{i}"),
                diff: String::new(),
            });
        }
        assert_eq!(m.tools.len(), MAX_TOOL_CALLS);
        assert_eq!(m.changes.len(), MAX_TOOL_CALLS);
    }

    #[test]
    fn a_completed_message_replaces_the_live_one() {
        let mut m = answer();
        m.apply(&delta("m1", "partial"));
        let done = Message {
            id: "m1".into(),
            content: "whole".into(),
            status: MessageStatus::Complete,
            ..Message::default()
        };
        m.apply(&EventPayload::MessageCompleted {
            message: done.clone(),
        });
        assert_eq!(m, done);
        assert!(Message::folds(&delta("x", "y")));
        assert!(!Message::folds(&EventPayload::Warning {
            message: String::new()
        }));
    }
}
