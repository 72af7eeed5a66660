//! Pending approvals: keeping the pending set current from events, and when to show one
//! (`ui::approval::ApprovalView` draws it and takes its keys).

use super::{Action, App};
use crate::state::Focus;
use crate::ui::approval::ApprovalView;
use agentmux_shared::types::Approval;

impl App {
    /// A new approval is waiting: shown at once when the user is looking at its session in the
    /// list; otherwise only announced, so keys typed into the composer or a terminal never
    /// land in the modal (a stray `y` must not allow anything).
    pub(super) fn offer_approval(&mut self, id: &str) {
        let s = &mut self.state;
        let Some(a) = s.approvals.get(id) else {
            return;
        };
        let looking = s.focus == Focus::Sessions && s.selected.as_deref() == Some(&a.session_id);
        if !self.views.has_modal() && looking {
            self.views.push(Box::new(ApprovalView::new(id)));
            return;
        }
        if self.views.top_as::<ApprovalView>().is_none() {
            let key = self.keymap.approvals.label();
            s.notice = Some(format!(
                "approval needed: {} (press {key} in the list)",
                crate::ui::text::truncate(&a.summary, 40)
            ));
        }
    }

    /// An approval ended (here or elsewhere): off the pending set, its modal closed, and the
    /// same session's next one shown.
    pub(super) fn approval_resolved(&mut self, a: &Approval) {
        let s = &mut self.state;
        s.approvals.remove(&a.id);
        if self
            .views
            .top_as::<ApprovalView>()
            .is_some_and(|v| v.id == a.id)
        {
            self.views.pop();
            let how = a.reason.map(|r| r.as_str()).unwrap_or("unresolved");
            s.notice = Some(format!("{} {} ({how})", a.id, a.status.as_str()));
            let next = s
                .approvals
                .values()
                .find(|x| x.session_id == a.session_id)
                .map(|x| x.id.clone());
            if let Some(next) = next {
                self.views.push(Box::new(ApprovalView::new(&next)));
            }
        }
    }

    /// `a` in the list: the selected session's oldest pending approval, else any.
    pub(super) fn open_approvals(&mut self, out: &mut Vec<Action>) {
        let Some(a) = self.state.next_approval().cloned() else {
            self.state.notice = Some("no pending approvals".into());
            return;
        };
        if self.state.selected.as_deref() != Some(&a.session_id) {
            self.state.selected = Some(a.session_id.clone());
            self.state.scroll = 0;
            self.ensure_history(&a.session_id, out);
        }
        self.views.push(Box::new(ApprovalView::new(&a.id)));
    }
}
