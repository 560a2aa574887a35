//! The gateway plan: from deployments, stored gateways and the previous plan to the complete, sorted list of
//! gateways the proxy should serve — ports assigned, weights normalised, virtual hosts added, targets resolved —
//! and the diff against the previous plan, from which the gateway loop publishes `gateways:<name>` events.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::dsl::{DslError, ErrorCode};
use crate::model::{Deployment, Gateway};

use super::external::deployment_gateway;
use super::internal::internal_gateways;
use super::ports::{assign_ports, PortAllocator, PortRange};
use super::protections::check_gateway_create;
use super::targets::{deployable, TargetResolver};
use super::validate::{gateway_error, normalize_gateway};
use super::virtual_hosts::{merge_virtual_hosts, VirtualHostConfig};

/// What the gateway plan is configured with (`vamp.operation.gateway` and `vamp.gateway-driver.host` in the
/// original). The default is the original's: ports 40000-45000, default virtual hosts on, targets on the agent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct GatewayPlanConfig {
    /// Where gateways without a port get one.
    pub port_range: PortRange,
    /// Default virtual hosts.
    pub virtual_hosts: VirtualHostConfig,
    /// The host gateway-chain targets point at; `None` = the gateway agent itself (`127.0.0.1` when rendered).
    pub agent_host: Option<String>,
}

/// The state a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct GatewayPlanInput<'a> {
    /// All deployments, with their services' instances as last reported by the driver. Internal gateways and
    /// deployment gateways come from here.
    pub deployments: &'a [Deployment],
    /// The stored gateways created through the API (user gateways). Gateways named like an internal gateway are
    /// held back: internal gateways come only from deployments.
    pub gateways: &'a [Gateway],
    /// The previous plan's gateways ([`GatewayPlan::gateways`]); empty on the first plan. Assigned ports are kept
    /// from here and the diff is made against it.
    pub previous: &'a [PlannedGateway],
    /// The configuration.
    pub config: &'a GatewayPlanConfig,
}

/// A planned gateway: complete, with whether it is internal and whether it goes to the proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedGateway {
    /// The gateway with port, weights, strengths, virtual hosts and route targets filled in.
    #[serde(flatten)]
    pub gateway: Gateway,
    /// Whether it is an internal cluster gateway (`deployment/cluster/port`).
    pub internal: bool,
    /// Whether it goes to the proxy ([`deployable`]); written `deployed` as in the original's API.
    #[serde(rename = "deployed")]
    pub deployable: bool,
}

/// How the deployable gateways changed since the previous plan; names in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayDiff {
    /// Deployable now, not before (absent or not deployable): publish `gateways:<name>` + `deployed`.
    pub added: Vec<String>,
    /// Deployable before, not now: publish `gateways:<name>` + `undeployed`.
    pub removed: Vec<String>,
    /// Deployable before and now, with any difference (port, routes, weights, targets, virtual hosts, …).
    pub changed: Vec<String>,
}

impl GatewayDiff {
    /// Whether nothing the proxy serves changed, so the configuration need not be rendered again.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// The tags of the events the original published for this diff: `["gateways:<name>", "deployed"]` per added
    /// gateway, then `["gateways:<name>", "undeployed"]` per removed one.
    pub fn event_tags(&self) -> Vec<[String; 2]> {
        let deployed = self
            .added
            .iter()
            .map(|n| [format!("gateways:{n}"), "deployed".to_string()]);
        let undeployed = self
            .removed
            .iter()
            .map(|n| [format!("gateways:{n}"), "undeployed".to_string()]);
        deployed.chain(undeployed).collect()
    }
}

/// The result of planning.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayPlan {
    /// Every planned gateway, sorted by number of name segments, then name — the order the proxy configuration
    /// is rendered in.
    pub gateways: Vec<PlannedGateway>,
    /// The gateways that could not be planned, one error each (invalid weights, a port conflict, no free port,
    /// a name taken twice, …), sorted like `gateways`. They are not served; the rest of the plan is unaffected.
    pub held_back: Vec<DslError>,
    /// The change of the deployable gateways against the previous plan.
    pub diff: GatewayDiff,
}

impl GatewayPlan {
    /// The gateways that go to the proxy, in plan order: the marshaller's input.
    pub fn deployable(&self) -> impl Iterator<Item = &Gateway> + '_ {
        self.gateways.iter().filter(|p| p.deployable).map(|p| &p.gateway)
    }

    /// The planned gateway called `name`.
    pub fn gateway(&self, name: &str) -> Option<&PlannedGateway> {
        let key = sort_key(name);
        self.gateways
            .binary_search_by(|p| sort_key(&p.gateway.name).cmp(&key))
            .ok()
            .and_then(|i| self.gateways.get(i))
    }
}

/// Plan order: by number of name segments, then by name.
fn sort_key(name: &str) -> (usize, &str) {
    (name.split('/').count(), name)
}

fn name_taken(name: &str) -> DslError {
    gateway_error(
        ErrorCode::UnsupportedGatewayNameError,
        name,
        "name",
        format!(
            "Another gateway is already named '{name}' (gateways of deployments come before stored gateways); \
             rename this one."
        ),
    )
}

/// Collects the candidate gateways in a fixed order — per deployment its internal, then its deployment
/// gateways, then the stored gateways — and holds back the ones that are refused.
struct Candidates<'c> {
    names: HashSet<String>,
    gateways: Vec<Gateway>,
    held_back: Vec<DslError>,
    invalid: Vec<String>,
    virtual_hosts: &'c VirtualHostConfig,
}

impl Candidates<'_> {
    fn admit(&mut self, gateway: Gateway) {
        if !self.names.insert(gateway.name.clone()) {
            self.held_back.push(name_taken(&gateway.name));
            return;
        }
        match normalize_gateway(&gateway) {
            Ok(mut g) => {
                g.virtual_hosts = merge_virtual_hosts(&g, self.virtual_hosts);
                self.gateways.push(g);
            }
            Err(e) => {
                self.invalid.push(gateway.name);
                self.held_back.push(e);
            }
        }
    }
}

/// Plans the gateways of one gateway-loop tick.
///
/// Gateways: for every deployment (the first of a repeated name) its internal gateways
/// ([`internal_gateways`]) and its deployment gateways ([`deployment_gateway`]), then the stored gateways of
/// `input.gateways`. Each is normalised ([`normalize_gateway`]: name, route paths, HTTP-only features, weights,
/// strengths) and gets its virtual hosts (user's first, then the defaults). The list is sorted by number of name
/// segments, then name; ports are assigned in that order ([`assign_ports`]: kept ports first, then new explicit
/// ones, then the lowest free ports of the range); targets are resolved against the planned gateways and
/// `input.deployments` ([`TargetResolver`]) and each gateway is marked [`deployable`]. A gateway that fails
/// any step is held back with its error and the rest is planned regardless; one held back for its content
/// (weights, names, port type) keeps its previous port reserved, so a passing mistake never hands the port of a
/// running gateway (which dependent services reach it by) to another. The diff compares the deployable gateways
/// with those of `input.previous`.
///
/// The same input always gives the same plan. Cost is O(g log g) in the number of gateways plus linear in
/// routes and instances: every lookup is by name in a hash map.
///
/// Fails only when the configured port range is empty or starts at 0 (`NoAvailablePortError`).
pub fn plan_gateways(input: &GatewayPlanInput<'_>) -> Result<GatewayPlan, DslError> {
    let config = input.config;
    if !config.port_range.is_valid() {
        return Err(gateway_error(
            ErrorCode::NoAvailablePortError,
            "",
            "port-range",
            format!(
                "No port available in the range [{}]: the configured gateway port range is empty or starts at 0. \
                 Configure 'lower-upper' with 0 < lower <= upper.",
                config.port_range
            ),
        ));
    }

    let mut candidates = Candidates {
        names: HashSet::new(),
        gateways: Vec::new(),
        held_back: Vec::new(),
        invalid: Vec::new(),
        virtual_hosts: &config.virtual_hosts,
    };
    let mut seen_deployments: HashSet<&str> = HashSet::with_capacity(input.deployments.len());
    for deployment in input.deployments {
        if !seen_deployments.insert(deployment.name.as_str()) {
            continue;
        }
        for gateway in internal_gateways(deployment, |_| None) {
            candidates.admit(gateway);
        }
        for gateway in &deployment.gateways {
            candidates.admit(deployment_gateway(&deployment.name, gateway));
        }
    }
    for gateway in input.gateways {
        match check_gateway_create(gateway) {
            Ok(()) => candidates.admit(gateway.clone()),
            Err(e) => candidates.held_back.push(e),
        }
    }
    let Candidates {
        gateways: mut planned,
        mut held_back,
        invalid,
        ..
    } = candidates;
    planned.sort_by(|a, b| sort_key(&a.name).cmp(&sort_key(&b.name)));

    let previous: HashMap<&str, &PlannedGateway> = input
        .previous
        .iter()
        .map(|p| (p.gateway.name.as_str(), p))
        .collect();
    let previous_port = |name: &str| {
        previous
            .get(name)
            .map(|p| p.gateway.port.number)
            .filter(|n| *n != 0)
    };
    let mut ports = PortAllocator::new(config.port_range);
    for name in &invalid {
        if let Some(port) = previous_port(name) {
            // A clash here means the previous plan was inconsistent; the first reservation stands.
            let _ = ports.claim(port, name);
        }
    }
    let failures = assign_ports(&mut planned, previous_port, &mut ports);
    let failed: HashSet<usize> = failures.iter().map(|(i, _)| *i).collect();
    held_back.extend(failures.into_iter().map(|(_, e)| e));
    let mut gateways: Vec<Gateway> = planned
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !failed.contains(i))
        .map(|(_, g)| g)
        .collect();

    let resolver = TargetResolver::new(&gateways, input.deployments, config.agent_host.as_deref());
    for gateway in &mut gateways {
        resolver.resolve(gateway);
    }
    let gateways: Vec<PlannedGateway> = gateways
        .into_iter()
        .map(|g| PlannedGateway {
            internal: g.is_internal(),
            deployable: deployable(&g),
            gateway: g,
        })
        .collect();

    held_back.sort_by(|a, b| sort_key(&a.artifact.name).cmp(&sort_key(&b.artifact.name)));
    let diff = diff(input.previous, &gateways);
    Ok(GatewayPlan {
        gateways,
        held_back,
        diff,
    })
}

/// The change of the deployable gateways from `previous` to `current`.
fn diff(previous: &[PlannedGateway], current: &[PlannedGateway]) -> GatewayDiff {
    let before: HashMap<&str, &Gateway> = previous
        .iter()
        .filter(|p| p.deployable)
        .map(|p| (p.gateway.name.as_str(), &p.gateway))
        .collect();
    let mut out = GatewayDiff::default();
    let mut now: HashSet<&str> = HashSet::with_capacity(current.len());
    for p in current.iter().filter(|p| p.deployable) {
        now.insert(&p.gateway.name);
        match before.get(p.gateway.name.as_str()) {
            None => out.added.push(p.gateway.name.clone()),
            Some(old) if **old != p.gateway => out.changed.push(p.gateway.name.clone()),
            Some(_) => {}
        }
    }
    let mut removed: Vec<&str> = before.keys().copied().filter(|n| !now.contains(n)).collect();
    removed.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    out.removed = removed.into_iter().map(str::to_string).collect();
    out
}
