//! Alerts (bell or desktop notification) for what happens in sessions not on screen.

use super::*;
use crate::test_support::{self as ts, event};
use pretty_assertions::assert_eq;

fn finished(seq: u64, session: &str, status: MessageStatus, error: &str) -> AppEvent {
    event(
        seq,
        session,
        EventPayload::TurnFinished(TurnFinished {
            user_message_id: "u".into(),
            assistant_message_id: "a".into(),
            status,
            stop_reason: String::new(),
            error: error.into(),
            usage: Default::default(),
            cost_usd: 0.0,
        }),
    )
}

#[test]
fn turns_and_approvals_elsewhere_alert_and_the_viewed_session_does_not() {
    let mut app = ts::app();
    assert_eq!(app.state.selected.as_deref(), Some("s1"));
    app.update(finished(102, "s1", MessageStatus::Complete, ""));
    assert!(
        app.state.alerts.is_empty(),
        "the session on screen needs no alert"
    );
    app.update(finished(103, "s2", MessageStatus::Failed, "upstream 529"));
    app.update(finished(104, "s3", MessageStatus::Complete, ""));
    app.update(event(
        105,
        "s2",
        EventPayload::ApprovalRequested {
            approval: ts::approval("apr_9", "s2"),
        },
    ));
    assert_eq!(
        app.state.alerts,
        [
            "agentmux: flaky test hunt: failed: upstream 529",
            "agentmux: s3: done",
            "agentmux: flaky test hunt asks: Write /work/hello.txt",
        ]
    );
}
