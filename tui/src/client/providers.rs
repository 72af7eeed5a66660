//! `ProviderService` calls: the provider registry and npm install jobs.

use super::{Client, status_to_error};
use agentmux_proto::v1 as pb;
use agentmux_shared::Result;
use agentmux_shared::types::{InstallJob, ProviderInfo};

impl Client {
    fn providers(
        &self,
    ) -> pb::provider_service_client::ProviderServiceClient<tonic::transport::Channel> {
        pb::provider_service_client::ProviderServiceClient::new(self.channel.clone())
    }

    pub async fn list_providers(&self) -> Result<Vec<ProviderInfo>> {
        let r = self
            .providers()
            .list_providers(pb::ListProvidersRequest {})
            .await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .providers
            .into_iter()
            .map(ProviderInfo::from)
            .collect())
    }

    pub async fn install_provider(&self, id: &str, version: &str) -> Result<InstallJob> {
        let r = self
            .providers()
            .install_provider(pb::InstallProviderRequest {
                id: id.to_string(),
                version: version.to_string(),
            })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }

    pub async fn list_install_jobs(&self) -> Result<Vec<InstallJob>> {
        let r = self
            .providers()
            .list_install_jobs(pb::ListInstallJobsRequest {})
            .await;
        Ok(r.map_err(status_to_error)?
            .into_inner()
            .jobs
            .into_iter()
            .map(InstallJob::from)
            .collect())
    }

    pub async fn get_install_job(&self, id: &str) -> Result<InstallJob> {
        let r = self
            .providers()
            .get_install_job(pb::GetInstallJobRequest { id: id.to_string() })
            .await;
        Ok(r.map_err(status_to_error)?.into_inner().into())
    }
}
