//! `ApprovalService` calls: list and decide approvals, revoke a session's rules.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_shared::Result;
use agentmux_shared::types::{Approval, Decision, Session};

impl Client {
    fn approvals(
        &self,
    ) -> pb::approval_service_client::ApprovalServiceClient<tonic::transport::Channel> {
        pb::approval_service_client::ApprovalServiceClient::new(self.channel.clone())
    }

    pub async fn list_approvals(
        &self,
        session_id: &str,
        pending_only: bool,
    ) -> Result<Vec<Approval>> {
        let r = self
            .approvals()
            .list_approvals(pb::ListApprovalsRequest {
                session_id: session_id.to_string(),
                pending_only,
            })
            .await;
        r.map_err(status_to_error)?
            .into_inner()
            .approvals
            .into_iter()
            .map(Approval::try_from)
            .collect()
    }

    pub async fn decide_approval(
        &self,
        id: &str,
        decision: Decision,
        message: &str,
    ) -> Result<Approval> {
        let r = self
            .approvals()
            .decide_approval(pb::DecideApprovalRequest {
                id: id.to_string(),
                decision: pb::Decision::from(decision) as i32,
                // Also as text, for a daemon that predates the enum.
                legacy_decision: decision.as_str().into(),
                message: message.to_string(),
                ..Default::default()
            })
            .await;
        r.map_err(status_to_error)?.into_inner().try_into()
    }

    /// Takes back a session's "allow always" rule for `tool`; returns the session.
    pub async fn revoke_rule(&self, session_id: &str, tool: &str) -> Result<Session> {
        let r = self
            .approvals()
            .revoke_rule(pb::RevokeRuleRequest {
                session_id: session_id.to_string(),
                tool: tool.to_string(),
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }
}
