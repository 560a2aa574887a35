//! Gateways through the API: user gateways are stored; the gateways of deployments (`deployment/port`) and the
//! internal cluster gateways (`deployment/cluster/port`) live in their deployment, so writing one changes the
//! deployment's routing — a canary policy on a cluster's gateway included, kept in the cluster's gateway
//! settings with its routes by service name. Reads show the gateways as the gateway loop plans them: ports assigned, weights filled
//! in, virtual hosts and targets resolved.

use std::collections::HashSet;

use vamp_core::dsl::validate::canary::validate_canary;
use vamp_core::dsl::DslError;
use vamp_core::model::{Artifact, Deployment, Gateway, GatewayPort, GatewayRoute, Kind};
use vamp_core::ops::deployment::validate;
use vamp_core::ops::gateways::{
    breed_of_route, check_gateway_create, check_gateway_remove, check_gateway_update, check_port_available,
    contract_canary_policy, expand_canary_policy, internal_gateways, normalize_gateway, plan_gateways,
    GatewayPlan, GatewayPlanInput,
};
use vamp_core::store::{Page, Paged};
use vamp_core::{Error, Result};

use super::archive::ArchiveAction;
use super::codec::{decode, encode};
use super::options::WriteOptions;
use crate::vamp::Vamp;

impl Vamp {
    /// Every stored (user) gateway, in name order.
    pub(crate) async fn stored_gateways(&self) -> Result<Vec<Gateway>> {
        let mut out = Vec::new();
        for s in self.list_all(Kind::Gateway).await? {
            if let Artifact::Gateway(g) = decode(&s)? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// A gateway plan of the current state, keeping the ports of the gateway loop's last plan.
    pub(crate) async fn current_plan(&self) -> Result<GatewayPlan> {
        let deployments: Vec<Deployment> = self
            .load_deployments()
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let gateways = self.stored_gateways().await?;
        let previous = self
            .inner
            .gateway_plan
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let config = self.settings().gateways.plan_config();
        let plan = plan_gateways(&GatewayPlanInput {
            deployments: &deployments,
            gateways: &gateways,
            previous: &previous,
            config: &config,
        })?;
        Ok(plan)
    }

    pub(crate) async fn list_gateways(&self, page: Page) -> Result<Paged<Artifact>> {
        Ok(Paged::slice(self.all_gateways().await?, page).map(Artifact::Gateway))
    }

    pub(crate) async fn get_gateway(&self, name: &str) -> Result<Option<Artifact>> {
        let plan = self.current_plan().await?;
        if let Some(p) = plan.gateway(name) {
            return Ok(Some(Artifact::Gateway(p.gateway.clone())));
        }
        match self.inner.artifacts.get(Kind::Gateway, name).await? {
            Some(s) => Ok(Some(decode(&s)?)),
            None => Ok(None),
        }
    }

    /// Creates or updates a gateway (see [`Vamp::create`] and [`Vamp::update`]); returns it normalised.
    pub(crate) async fn write_gateway(
        &self,
        gateway: Gateway,
        options: &WriteOptions,
        create: bool,
    ) -> Result<Gateway> {
        if gateway.is_internal() {
            if create {
                check_gateway_create(&gateway)?;
            }
            return self.write_deployment_gateway(gateway, options).await;
        }
        let first = gateway.name.split('/').next().unwrap_or_default().to_string();
        if gateway.name.split('/').count() == 2 {
            if let Some((_, d)) = self.load_deployment(&first).await? {
                if d.gateways.iter().any(|g| g.name == gateway.name) {
                    return self.write_deployment_gateway(gateway, options).await;
                }
            }
        }
        let normalized = normalize_gateway(&gateway)?;
        self.check_user_gateway_port(&normalized, create).await?;
        if options.validate_only {
            return Ok(normalized);
        }
        let artifact = Artifact::Gateway(normalized.clone());
        self.inner
            .artifacts
            .put(Kind::Gateway, &normalized.name, encode(&artifact)?, None)
            .await?;
        let action = if create {
            ArchiveAction::Create
        } else {
            ArchiveAction::Update
        };
        self.archive(Kind::Gateway, &normalized.name, action, options, Some(&artifact))
            .await;
        self.wake_gateways();
        Ok(normalized)
    }

    /// An explicit port must not be used by any other gateway; on create not even by a gateway of the same
    /// name (the original's rule: a POST of an existing gateway with its port is refused).
    async fn check_user_gateway_port(&self, gateway: &Gateway, create: bool) -> Result<()> {
        if gateway.port.number == 0 {
            return Ok(());
        }
        let mut others = self.stored_gateways().await?;
        for (_, d) in self.load_deployments().await? {
            others.extend(d.gateways);
        }
        if let Ok(plan) = self.inner.gateway_plan.read() {
            others.extend(plan.iter().filter(|p| p.internal).map(|p| p.gateway.clone()));
        }
        if create {
            for g in &mut others {
                if g.name == gateway.name {
                    g.name = format!("{} (stored)", g.name);
                }
            }
        }
        check_port_available(gateway, &others)?;
        Ok(())
    }

    /// Applies a write of a deployment gateway or an internal gateway to its deployment's routing.
    async fn write_deployment_gateway(&self, gateway: Gateway, options: &WriteOptions) -> Result<Gateway> {
        super::canary::refuse_on_deployment_port_gateway(&gateway)?;
        let segments: Vec<String> = gateway.name.split('/').map(str::to_string).collect();
        let deployment_name = segments.first().cloned().unwrap_or_default();
        let guard = self.inner.deployment_lock.lock().await;
        let loaded = self.load_deployment(&deployment_name).await?;
        let Some((revision, mut deployment)) = loaded else {
            check_gateway_update(None, &gateway, |_| false)?;
            return Err(Error::not_found(format!(
                "Gateway '{}' belongs to deployment '{deployment_name}', which does not exist.",
                gateway.name
            )));
        };
        let mut gateway = gateway;
        if let [deployment, cluster, port] = segments.as_slice() {
            gateway.canary = gateway
                .canary
                .map(|p| expand_canary_policy(&p, deployment, cluster, port));
        }
        let normalized = normalize_gateway(&gateway)?;
        if let [_, cluster_name, port] = segments.as_slice() {
            let existing = internal_gateways(&deployment, |_| None)
                .into_iter()
                .find(|g| g.name == gateway.name);
            check_gateway_update(existing.as_ref(), &gateway, |_| true)?;
            let Some(cluster) = deployment.cluster_mut(cluster_name) else {
                return Err(Error::not_found(format!(
                    "Deployment '{deployment_name}' has no cluster '{cluster_name}'."
                )));
            };
            let mut settings = Gateway::new(
                port.as_str(),
                GatewayPort {
                    number: 0,
                    protocol: gateway.port.protocol,
                },
            );
            settings.metadata = gateway.metadata.clone();
            settings.sticky = gateway.sticky;
            settings.virtual_hosts = gateway.virtual_hosts.clone();
            validate_canary(&normalized)?;
            settings.canary = gateway.canary.as_ref().map(contract_canary_policy);
            settings.routes = gateway
                .routes
                .iter()
                .map(|r| {
                    let mut route = GatewayRoute::new(breed_of_route(&r.path.0));
                    route.route = r.route.clone();
                    route
                })
                .collect();
            cluster
                .gateways
                .retain(|g| g.name != *port && g.name != gateway.name);
            cluster.gateways.push(settings);
        } else {
            let Some(target) = deployment.gateways.iter_mut().find(|g| g.name == gateway.name) else {
                return Err(Error::not_found(format!(
                    "Deployment '{deployment_name}' has no gateway '{}'.",
                    gateway.name
                )));
            };
            target.metadata = gateway.metadata.clone();
            target.sticky = gateway.sticky;
            target.virtual_hosts = gateway.virtual_hosts.clone();
            target.routes = gateway.routes.clone();
        }
        validate(&deployment).map_err(Error::from)?;
        if options.validate_only {
            return Ok(normalized);
        }
        self.store_deployment(&deployment, revision).await?;
        drop(guard);
        self.archive(
            Kind::Gateway,
            &gateway.name,
            ArchiveAction::Update,
            options,
            Some(&Artifact::Gateway(normalized.clone())),
        )
        .await;
        self.wake_gateways();
        Ok(normalized)
    }

    /// Removes a stored gateway; an internal gateway of an existing deployment is refused.
    pub(crate) async fn delete_gateway(&self, name: &str, options: &WriteOptions) -> Result<bool> {
        let deployments: HashSet<String> = self
            .list_all(Kind::Deployment)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        check_gateway_remove(name, |d| deployments.contains(d)).map_err(|e: DslError| Error::from(e))?;
        if options.validate_only {
            return Ok(self.inner.artifacts.get(Kind::Gateway, name).await?.is_some());
        }
        let existed = self.inner.artifacts.delete(Kind::Gateway, name).await?;
        if existed {
            self.archive(Kind::Gateway, name, ArchiveAction::Delete, options, None)
                .await;
            self.wake_gateways();
        }
        Ok(existed)
    }
}
