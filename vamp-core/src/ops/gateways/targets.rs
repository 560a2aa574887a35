//! Route targets: where each route of a gateway sends traffic, resolved from the gateways' ports and the
//! deployments' running instances.
//!
//! | route path | targets |
//! |---|---|
//! | `gw`, `deployment/port`, `deployment/cluster/port` | that gateway's port on the agent host (chaining) |
//! | `deployment/cluster/service/port` | every running instance of the service, `host:instance_port` |
//! | `[host:port]` | the external address |
//!
//! A path that cannot be resolved has no targets.

use std::collections::HashMap;

use crate::model::{Deployment, Gateway, RoutePath, RouteTarget};

/// Resolves route paths against a set of gateways (by name, with their ports) and deployments (by name).
///
/// Lookups are hash-map lookups, so resolving every route of every gateway is linear in the number of routes.
#[derive(Debug, Clone)]
pub struct TargetResolver<'a> {
    gateway_ports: HashMap<String, u16>,
    deployments: HashMap<&'a str, &'a Deployment>,
    agent_host: Option<String>,
}

impl<'a> TargetResolver<'a> {
    /// A resolver over `gateways` (those with port 0 are not resolvable) and `deployments`. `agent_host` is the
    /// host gateway targets point at; `None` means the gateway agent itself (the marshaller renders
    /// `127.0.0.1`). When names repeat, the first gateway or deployment of that name is used.
    pub fn new<'g>(
        gateways: impl IntoIterator<Item = &'g Gateway>,
        deployments: &'a [Deployment],
        agent_host: Option<&str>,
    ) -> Self {
        let mut gateway_ports = HashMap::new();
        for g in gateways {
            if g.port.number != 0 {
                gateway_ports.entry(g.name.clone()).or_insert(g.port.number);
            }
        }
        let mut by_name = HashMap::with_capacity(deployments.len());
        for d in deployments {
            by_name.entry(d.name.as_str()).or_insert(d);
        }
        TargetResolver {
            gateway_ports,
            deployments: by_name,
            agent_host: agent_host.map(str::to_string),
        }
    }

    /// The targets of a route path (see the module's table).
    ///
    /// For a service path, only instances that are deployed and expose the port count, services being
    /// undeployed have none, and targets are sorted by instance name so a driver listing instances in another
    /// order does not change the plan. A 1- to 3-segment path resolves only to a gateway of exactly that name
    /// with an assigned port. Anything else, and any path with 5 or more segments, has no targets.
    pub fn targets(&self, path: &RoutePath) -> Vec<RouteTarget> {
        if let Some(address) = path.external() {
            return vec![RouteTarget::External {
                url: address.to_string(),
            }];
        }
        let segments: Vec<&str> = path.0.split('/').collect();
        match segments.as_slice() {
            [_] | [_, _] | [_, _, _] => match self.gateway_ports.get(&path.0) {
                Some(&port) => {
                    vec![RouteTarget::Internal {
                        name: path.0.clone(),
                        host: self.agent_host.clone(),
                        port,
                    }]
                }
                None => Vec::new(),
            },
            [deployment, cluster, service, port] => self.instance_targets(deployment, cluster, service, port),
            _ => Vec::new(),
        }
    }

    fn instance_targets(
        &self,
        deployment: &str,
        cluster: &str,
        service: &str,
        port: &str,
    ) -> Vec<RouteTarget> {
        let service = self
            .deployments
            .get(deployment)
            .and_then(|d| d.cluster(cluster))
            .and_then(|c| {
                c.services
                    .iter()
                    .find(|s| s.breed.name == service && !s.status.is_undeploying())
            });
        let Some(service) = service else {
            return Vec::new();
        };
        let mut instances: Vec<_> = service
            .instances
            .iter()
            .filter(|i| i.deployed)
            .filter_map(|i| i.ports.get(port).map(|&p| (i, p)))
            .collect();
        instances.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
        instances
            .into_iter()
            .map(|(i, p)| RouteTarget::Internal {
                name: i.name.clone(),
                host: Some(i.host.clone()),
                port: p,
            })
            .collect()
    }

    /// Sets the targets of every route of `gateway`.
    pub fn resolve(&self, gateway: &mut Gateway) {
        for route in &mut gateway.routes {
            route.targets = self.targets(&route.path);
        }
    }
}

/// Whether a gateway with resolved targets can be pushed to the proxy: an external gateway always (a route
/// without targets just gets no traffic), an internal gateway only when it has routes and every route has
/// targets, so a cluster is reachable through its gateway only once all its services run.
pub fn deployable(gateway: &Gateway) -> bool {
    if !gateway.is_internal() {
        return true;
    }
    !gateway.routes.is_empty() && gateway.routes.iter().all(|r| !r.targets.is_empty())
}
