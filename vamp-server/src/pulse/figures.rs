//! Figures per gateway, route, service, cluster and deployment, read live from the metrics source
//! (`Vamp::metrics`): what the publisher publishes, the API serves and the Prometheus exposition shows.
//!
//! - A gateway's or route's figures are those of its own window (a gateway's counts every request it took,
//!   also those no route took).
//! - A service's figures are those of its routes in its cluster's internal gateways (`d/c/<port>`, route
//!   `d/c/<breed>/<port>`), merged over the ports — the original's health job read the route whose name is the
//!   service's breed.
//! - A cluster's and a deployment's traffic figures are those of their services' merged windows; their `health`
//!   and `score` are the products of their parts' (services, clusters), as in the original.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use vamp_core::metrics::MetricsWindow;
use vamp_core::model::{Deployment, DeploymentCluster, Gateway, GatewayRoute};
use vamp_core::ops::deployment::remove_undeployed;
use vamp_core::ops::health::{compose, figures, Figures};
use vamp_core::{Error, Result};

use super::allocation::{allocation, Allocation};
use crate::vamp::Vamp;

/// The lengths of the health window (error figures) and the metrics window (traffic figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// The window of `errors`, `errorRate`, `health` and `score`.
    pub health: Duration,
    /// The window of `requests`, `rate`, `responseTime` and the percentiles.
    pub metrics: Duration,
}

impl Windows {
    /// The same length for both.
    pub fn both(span: Duration) -> Windows {
        Windows {
            health: span,
            metrics: span,
        }
    }
}

/// The figures of one route of a gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteFigures {
    /// The route path as written in the gateway.
    pub route: String,
    /// Its figures.
    pub figures: Figures,
}

/// The figures of a gateway and of each of its routes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayFigures {
    /// The gateway name.
    pub gateway: String,
    /// The gateway as a whole.
    pub figures: Figures,
    /// Each route, in the gateway's order.
    pub routes: Vec<RouteFigures>,
}

/// The figures of a service of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceFigures {
    /// The service's breed name.
    pub service: String,
    /// Its figures.
    pub figures: Figures,
}

/// The figures of a cluster and of each of its services.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFigures {
    /// The cluster name.
    pub cluster: String,
    /// The cluster: merged traffic, health and score the products of the services'.
    pub figures: Figures,
    /// Each service.
    pub services: Vec<ServiceFigures>,
}

/// The figures of a deployment, of each cluster and service, and what it allocates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentFigures {
    /// The deployment name.
    pub deployment: String,
    /// The deployment: merged traffic, health and score the products of the clusters'.
    pub figures: Figures,
    /// Each cluster.
    pub clusters: Vec<ClusterFigures>,
    /// CPU, memory and instances summed over its services.
    pub allocation: Allocation,
}

/// The figures of everything at one moment: one pass of the publisher, one Prometheus scrape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pulse {
    /// Every gateway `GET /api/v1/gateways` lists, by name.
    pub gateways: Vec<GatewayFigures>,
    /// Every deployment, by name.
    pub deployments: Vec<DeploymentFigures>,
}

/// The requests of one gateway or route over both windows.
#[derive(Debug, Clone, Default)]
struct Traffic {
    health: MetricsWindow,
    metrics: MetricsWindow,
}

impl Traffic {
    fn merge(&mut self, other: &Traffic) {
        self.health.merge(&other.health);
        self.metrics.merge(&other.metrics);
    }

    fn figures(&self, windows: Windows) -> Figures {
        figures(&self.metrics, windows.metrics).with_health_of(&figures(&self.health, windows.health))
    }

    fn composed(&self, windows: Windows, parts: &[Figures]) -> Figures {
        compose(&self.metrics, windows.metrics, parts).with_health_of(&compose(
            &self.health,
            windows.health,
            parts,
        ))
    }
}

/// Reads windows from the metrics source, each (gateway, route) once per reader.
struct Reader<'a> {
    vamp: &'a Vamp,
    windows: Windows,
    cache: HashMap<(String, Option<String>), Traffic>,
}

impl<'a> Reader<'a> {
    fn new(vamp: &'a Vamp, windows: Windows) -> Self {
        Reader {
            vamp,
            windows,
            cache: HashMap::new(),
        }
    }

    async fn traffic(&mut self, gateway: &str, route: Option<&str>) -> Result<Traffic> {
        let key = (gateway.to_string(), route.map(str::to_string));
        if let Some(t) = self.cache.get(&key) {
            return Ok(t.clone());
        }
        let metrics = self.vamp.metrics(gateway, route, self.windows.metrics).await?;
        let health = if self.windows.health == self.windows.metrics {
            metrics.clone()
        } else {
            self.vamp.metrics(gateway, route, self.windows.health).await?
        };
        let traffic = Traffic { health, metrics };
        self.cache.insert(key, traffic.clone());
        Ok(traffic)
    }

    async fn gateway(&mut self, gateway: &Gateway) -> Result<GatewayFigures> {
        let figures = self.traffic(&gateway.name, None).await?.figures(self.windows);
        let mut routes = Vec::with_capacity(gateway.routes.len());
        for route in &gateway.routes {
            let traffic = self.traffic(&gateway.name, Some(&route.path.0)).await?;
            routes.push(RouteFigures {
                route: route.path.0.clone(),
                figures: traffic.figures(self.windows),
            });
        }
        Ok(GatewayFigures {
            gateway: gateway.name.clone(),
            figures,
            routes,
        })
    }

    async fn service(&mut self, gateways: &[Gateway], d: &str, c: &str, breed: &str) -> Result<Traffic> {
        let mut traffic = Traffic::default();
        for (gateway, route) in service_routes(gateways, d, c, breed) {
            traffic.merge(&self.traffic(&gateway.name, Some(&route.path.0)).await?);
        }
        Ok(traffic)
    }

    async fn cluster(
        &mut self,
        gateways: &[Gateway],
        d: &str,
        cluster: &DeploymentCluster,
    ) -> Result<(Traffic, ClusterFigures)> {
        let mut merged = Traffic::default();
        let mut services = Vec::with_capacity(cluster.services.len());
        for service in &cluster.services {
            let traffic = self
                .service(gateways, d, &cluster.name, &service.breed.name)
                .await?;
            merged.merge(&traffic);
            services.push(ServiceFigures {
                service: service.breed.name.clone(),
                figures: traffic.figures(self.windows),
            });
        }
        let parts: Vec<Figures> = services.iter().map(|s| s.figures).collect();
        let figures = merged.composed(self.windows, &parts);
        let cluster = ClusterFigures {
            cluster: cluster.name.clone(),
            figures,
            services,
        };
        Ok((merged, cluster))
    }

    async fn deployment(
        &mut self,
        gateways: &[Gateway],
        deployment: &Deployment,
        default_scale: &vamp_core::model::Scale,
    ) -> Result<DeploymentFigures> {
        let mut merged = Traffic::default();
        let mut clusters = Vec::with_capacity(deployment.clusters.len());
        for cluster in &deployment.clusters {
            let (traffic, figures) = self.cluster(gateways, &deployment.name, cluster).await?;
            merged.merge(&traffic);
            clusters.push(figures);
        }
        let parts: Vec<Figures> = clusters.iter().map(|c| c.figures).collect();
        Ok(DeploymentFigures {
            deployment: deployment.name.clone(),
            figures: merged.composed(self.windows, &parts),
            clusters,
            allocation: allocation(deployment, default_scale),
        })
    }
}

/// The routes of `breed` in the internal gateways of cluster `c` of deployment `d`: gateways named
/// `d/c/<port>` and their routes `d/c/<breed>/<port>` (or written as the bare breed name).
fn service_routes<'g>(
    gateways: &'g [Gateway],
    d: &str,
    c: &str,
    breed: &str,
) -> Vec<(&'g Gateway, &'g GatewayRoute)> {
    let mut out = Vec::new();
    for gateway in gateways {
        let segments: Vec<&str> = gateway.name.split('/').collect();
        if !matches!(segments.as_slice(), [gd, gc, _] if *gd == d && *gc == c) {
            continue;
        }
        for route in &gateway.routes {
            let path = route.path.segments();
            let of_breed = match path.as_slice() {
                [rd, rc, rb, _] => rd == d && rc == c && rb == breed,
                [only] => only == breed,
                _ => false,
            };
            if of_breed {
                out.push((gateway, route));
            }
        }
    }
    out
}

fn no_gateway(name: &str) -> Error {
    Error::not_found(format!("There is no gateway '{name}'."))
}

fn no_route(gateway: &Gateway, route: &str) -> Error {
    let routes: Vec<&str> = gateway.routes.iter().map(|r| r.path.0.as_str()).collect();
    Error::not_found(format!(
        "The gateway '{}' has no route '{route}'; its routes are: {}.",
        gateway.name,
        if routes.is_empty() {
            "none".to_string()
        } else {
            routes.join(", ")
        }
    ))
}

impl Vamp {
    /// Every gateway as `GET /api/v1/gateways` lists it: the planned ones (user, deployment and internal
    /// gateways) and the stored ones the plan holds back, by name.
    pub async fn all_gateways(&self) -> Result<Vec<Gateway>> {
        let plan = self.current_plan().await?;
        let mut all: Vec<Gateway> = plan.gateways.into_iter().map(|p| p.gateway).collect();
        let planned: HashSet<String> = all.iter().map(|g| g.name.clone()).collect();
        all.extend(
            self.stored_gateways()
                .await?
                .into_iter()
                .filter(|g| !planned.contains(&g.name)),
        );
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The figures of every gateway, route, deployment, cluster and service now, with each deployment's
    /// allocation. Fails when the metrics source or the stores do.
    pub async fn pulse(&self, windows: Windows) -> Result<Pulse> {
        let gateways = self.all_gateways().await?;
        let mut reader = Reader::new(self, windows);
        let mut out = Pulse {
            gateways: Vec::with_capacity(gateways.len()),
            deployments: Vec::new(),
        };
        for gateway in &gateways {
            out.gateways.push(reader.gateway(gateway).await?);
        }
        let default_scale = self.settings().deployment.scale();
        let mut deployments: Vec<Deployment> = self
            .load_deployments()
            .await?
            .into_iter()
            .filter_map(|(_, d)| remove_undeployed(d))
            .collect();
        deployments.sort_by(|a, b| a.name.cmp(&b.name));
        for deployment in &deployments {
            out.deployments
                .push(reader.deployment(&gateways, deployment, &default_scale).await?);
        }
        Ok(out)
    }

    /// The figures of `gateway` (of its route `route`, a route path as written in the gateway), now.
    /// `NotFound` for an unknown gateway or route.
    pub async fn gateway_figures(
        &self,
        gateway: &str,
        route: Option<&str>,
        windows: Windows,
    ) -> Result<Figures> {
        let gateways = self.all_gateways().await?;
        self.gateway_figures_in(&gateways, gateway, route, windows).await
    }

    /// [`Vamp::gateway_figures`] with the gateways already listed ([`Vamp::all_gateways`]).
    pub(crate) async fn gateway_figures_in(
        &self,
        gateways: &[Gateway],
        gateway: &str,
        route: Option<&str>,
        windows: Windows,
    ) -> Result<Figures> {
        let found = gateways
            .iter()
            .find(|g| g.name == gateway)
            .ok_or_else(|| no_gateway(gateway))?;
        if let Some(route) = route {
            if !found.routes.iter().any(|r| r.path.0 == route) {
                return Err(no_route(found, route));
            }
        }
        let mut reader = Reader::new(self, windows);
        Ok(reader.traffic(gateway, route).await?.figures(windows))
    }

    /// The figures of deployment `deployment`, or of its cluster `cluster`, or of that cluster's service
    /// `service` (a breed name), now. `NotFound`, naming what is missing, for an unknown deployment, cluster
    /// or service.
    pub async fn deployment_figures(
        &self,
        deployment: &str,
        cluster: Option<&str>,
        service: Option<&str>,
        windows: Windows,
    ) -> Result<Figures> {
        let found = self
            .deployment(deployment)
            .await?
            .and_then(remove_undeployed)
            .ok_or_else(|| Error::not_found(format!("There is no deployment '{deployment}'.")))?;
        let gateways = self.all_gateways().await?;
        let mut reader = Reader::new(self, windows);
        let Some(cluster) = cluster else {
            let scale = self.settings().deployment.scale();
            return Ok(reader.deployment(&gateways, &found, &scale).await?.figures);
        };
        let c = found.cluster(cluster).ok_or_else(|| {
            Error::not_found(format!(
                "The deployment '{deployment}' has no cluster '{cluster}'."
            ))
        })?;
        let (_, figures) = reader.cluster(&gateways, deployment, c).await?;
        let Some(service) = service else {
            return Ok(figures.figures);
        };
        figures
            .services
            .into_iter()
            .find(|s| s.service == service)
            .map(|s| s.figures)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "The cluster '{cluster}' of deployment '{deployment}' has no service '{service}'."
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::model::{GatewayPort, GatewayRoute};

    fn gateway(name: &str, routes: &[&str]) -> Gateway {
        let mut g = Gateway::new(name, GatewayPort::default());
        g.routes = routes.iter().map(|r| GatewayRoute::new(*r)).collect();
        g
    }

    #[test]
    fn a_service_is_its_breeds_route_in_every_port_gateway_of_its_cluster() {
        let gateways = [
            gateway(
                "shop/frontend/web",
                &["shop/frontend/frontend:1.0/web", "shop/frontend/frontend:2.0/web"],
            ),
            gateway("shop/frontend/admin", &["shop/frontend/frontend:1.0/admin"]),
            gateway("shop/backend/web", &["shop/backend/frontend:1.0/web"]),
            gateway("shop/web", &["shop/frontend/web"]),
            gateway("other/frontend/web", &["other/frontend/frontend:1.0/web"]),
        ];
        let found: Vec<(&str, &str)> = service_routes(&gateways, "shop", "frontend", "frontend:1.0")
            .into_iter()
            .map(|(g, r)| (g.name.as_str(), r.path.0.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("shop/frontend/web", "shop/frontend/frontend:1.0/web"),
                ("shop/frontend/admin", "shop/frontend/frontend:1.0/admin"),
            ]
        );
    }
}
