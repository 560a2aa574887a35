//! The deployment sub-resources: a service's scale (`/deployments/{d}/clusters/{c}/services/{breed}/scale`) and
//! a cluster's SLA (`/deployments/{d}/clusters/{c}/sla`).

use chrono::Utc;
use vamp_core::model::{Artifact, Deployment, Intention, Kind, Ref, Scale, ServiceStatus, Sla};
use vamp_core::ops::deployment::source::not_found;
use vamp_core::{Error, Result};

use super::archive::ArchiveAction;
use super::codec::decode;
use super::options::WriteOptions;
use crate::vamp::Vamp;

fn no_deployment(name: &str) -> Error {
    Error::not_found(format!("There is no deployment '{name}'."))
}

fn no_cluster(deployment: &str, cluster: &str) -> Error {
    Error::not_found(format!("Deployment '{deployment}' has no cluster '{cluster}'."))
}

fn no_service(deployment: &str, cluster: &str, service: &str) -> Error {
    Error::not_found(format!(
        "Cluster '{cluster}' of deployment '{deployment}' has no service '{service}'."
    ))
}

impl Vamp {
    /// The scale of a service; `NotFound` when the deployment, cluster or service does not exist.
    pub async fn scale(&self, deployment: &str, cluster: &str, service: &str) -> Result<Option<Scale>> {
        let (_, d) = self
            .load_deployment(deployment)
            .await?
            .ok_or_else(|| no_deployment(deployment))?;
        let c = d
            .cluster(cluster)
            .ok_or_else(|| no_cluster(deployment, cluster))?;
        let s = c
            .service(service)
            .ok_or_else(|| no_service(deployment, cluster, service))?;
        Ok(s.scale.clone())
    }

    /// Sets the scale of a service (a stored scale by reference, `NotFound` when missing, or inline) and
    /// resets its status to `Deployment/Initiated`, so the deployment loop redeploys it. Returns the scale.
    pub async fn set_scale(
        &self,
        deployment: &str,
        cluster: &str,
        service: &str,
        scale: Ref<Scale>,
        options: &WriteOptions,
    ) -> Result<Scale> {
        let scale = match scale {
            Ref::Inline(s) => s,
            Ref::Named(name) => match self.inner.artifacts.get(Kind::Scale, &name).await? {
                Some(stored) => match decode(&stored)? {
                    Artifact::Scale(s) => s,
                    _ => return Err(not_found(Kind::Scale, &name)),
                },
                None => return Err(not_found(Kind::Scale, &name)),
            },
        };
        let applied = scale.clone();
        self.change_deployment(deployment, options, move |d| {
            let c = d
                .cluster_mut(cluster)
                .ok_or_else(|| no_cluster(deployment, cluster))?;
            let s = c
                .services
                .iter_mut()
                .find(|s| s.breed.name == service)
                .ok_or_else(|| no_service(deployment, cluster, service))?;
            s.scale = Some(applied);
            s.status = ServiceStatus::initiated(Intention::Deployment, Utc::now());
            Ok(())
        })
        .await?;
        Ok(scale)
    }

    /// The SLA of a cluster; `NotFound` when the deployment or cluster does not exist.
    pub async fn sla(&self, deployment: &str, cluster: &str) -> Result<Option<Ref<Sla>>> {
        let (_, d) = self
            .load_deployment(deployment)
            .await?
            .ok_or_else(|| no_deployment(deployment))?;
        let c = d
            .cluster(cluster)
            .ok_or_else(|| no_cluster(deployment, cluster))?;
        Ok(c.sla.clone())
    }

    /// Replaces the SLA of a cluster. A reference must name a stored SLA (`NotFound`).
    pub async fn set_sla(
        &self,
        deployment: &str,
        cluster: &str,
        sla: Ref<Sla>,
        options: &WriteOptions,
    ) -> Result<Ref<Sla>> {
        if let Ref::Named(name) = &sla {
            if self.inner.artifacts.get(Kind::Sla, name).await?.is_none() {
                return Err(not_found(Kind::Sla, name));
            }
        }
        let applied = sla.clone();
        self.change_deployment(deployment, options, move |d| {
            let c = d
                .cluster_mut(cluster)
                .ok_or_else(|| no_cluster(deployment, cluster))?;
            c.sla = Some(applied);
            Ok(())
        })
        .await?;
        Ok(sla)
    }

    /// Removes the SLA of a cluster; says whether it had one.
    pub async fn delete_sla(&self, deployment: &str, cluster: &str, options: &WriteOptions) -> Result<bool> {
        let mut had = false;
        let had_ref = &mut had;
        self.change_deployment(deployment, options, move |d| {
            let c = d
                .cluster_mut(cluster)
                .ok_or_else(|| no_cluster(deployment, cluster))?;
            *had_ref = c.sla.take().is_some();
            Ok(())
        })
        .await?;
        Ok(had)
    }

    /// Reads deployment `name`, applies `change`, stores it at the revision read (unless `validate_only`),
    /// archives the update and wakes the loops.
    pub(crate) async fn change_deployment(
        &self,
        name: &str,
        options: &WriteOptions,
        change: impl FnOnce(&mut Deployment) -> Result<()>,
    ) -> Result<Deployment> {
        let guard = self.inner.deployment_lock.lock().await;
        let (revision, mut deployment) = self
            .load_deployment(name)
            .await?
            .ok_or_else(|| no_deployment(name))?;
        change(&mut deployment)?;
        if options.validate_only {
            return Ok(deployment);
        }
        self.store_deployment(&deployment, revision).await?;
        drop(guard);
        let artifact = Artifact::Deployment(deployment.clone());
        self.archive(
            Kind::Deployment,
            name,
            ArchiveAction::Update,
            options,
            Some(&artifact),
        )
        .await;
        self.wake_deployments();
        Ok(deployment)
    }
}
