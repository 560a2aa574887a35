//! Gateway: a port where traffic enters, split over weighted and conditional routes.
//!
//! Names say what a gateway is: `gw` (up to 4 segments) is a user gateway, `deployment/port` a deployment gateway
//! from a blueprint, and `deployment/cluster/port` an internal cluster gateway created per cluster port.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::canary::CanaryPolicy;
use super::condition::Condition;
use super::rewrite::Rewrite;
use super::traits::Protocol;
use super::units::Percentage;
use super::{is_empty_map, Metadata, Ref};

/// A gateway's port: a number (0 = assign one from the configured range) and a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GatewayPort {
    /// The port number; 0 until assigned.
    pub number: u16,
    /// HTTP or TCP.
    pub protocol: Protocol,
}

impl GatewayPort {
    /// Parses `8080`, `8080/http` or `8080/tcp`.
    pub fn parse(s: &str) -> Option<GatewayPort> {
        let (n, protocol) = match s.trim().rsplit_once('/') {
            Some((n, p)) => (n, super::traits::parse_protocol(p)?),
            None => (s.trim(), Protocol::Http),
        };
        let number: u16 = n.trim().parse().ok()?;
        Some(GatewayPort { number, protocol })
    }
}

impl fmt::Display for GatewayPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol)
    }
}

impl Serialize for GatewayPort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Session stickiness: pin a client to a route, or to one instance of it. HTTP only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sticky {
    /// A cookie pins the client to the route it was first sent to.
    Route,
    /// A cookie pins the client to one instance.
    Instance,
}

/// Where a gateway is reachable once deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayService {
    /// Host or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A route's key: `gw`, `deployment/port`, `deployment/cluster/port`, `deployment/cluster/service/port`, a name
/// inside a blueprint (`service`, `cluster/port`), or an external address `[host:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoutePath(pub String);

impl RoutePath {
    /// The path's `/`-separated segments; one segment for an external address.
    pub fn segments(&self) -> Vec<String> {
        if self.external().is_some() {
            return vec![self.0.clone()];
        }
        self.0.split('/').map(str::to_string).collect()
    }

    /// `host:port` when the path is an external address `[host:port]`.
    pub fn external(&self) -> Option<&str> {
        self.0.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
    }

    /// Whether the path has 1 to 4 non-empty segments or is an external address.
    pub fn is_valid(&self) -> bool {
        if let Some(addr) = self.external() {
            return addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        }
        let segs = self.segments();
        (1..=4).contains(&segs.len()) && segs.iter().all(|s| !s.is_empty())
    }
}

impl fmt::Display for RoutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a route sends traffic to once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum RouteTarget {
    /// An address Vamp resolved: an instance, or another gateway on the agent host.
    Internal {
        /// A stable name for the target (instance or gateway).
        name: String,
        /// Host; the agent host when absent.
        host: Option<String>,
        /// Port.
        port: u16,
    },
    /// An external `host:port` given by the user.
    External {
        /// `host:port`.
        url: String,
    },
}

/// The routing of one route: weight, condition, strength, rewrites and balance.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Route {
    /// The name when stored as an artifact; empty inline.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// Share of the traffic not taken by conditions; `None` = filled in by weight distribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<Percentage>,
    /// Requests matching it are sent here with probability `condition_strength`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Ref<Condition>>,
    /// Defaults to 100% with a condition, 0% without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_strength: Option<Percentage>,
    /// Path rewrites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<Ref<Rewrite>>,
    /// HAProxy balance algorithm; `None` or `default` = the gateway's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
}

/// A route of a gateway: its path and its routing (inline or a reference to a stored route).
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRoute {
    /// The route's key.
    pub path: RoutePath,
    /// The routing.
    pub route: Ref<Route>,
    /// Where it sends traffic, once resolved (read-only).
    pub targets: Vec<RouteTarget>,
}

impl GatewayRoute {
    /// An inline route with no weight, condition or rewrite.
    pub fn new(path: impl Into<String>) -> Self {
        GatewayRoute {
            path: RoutePath(path.into()),
            route: Ref::Inline(Route::default()),
            targets: Vec::new(),
        }
    }

    /// The inline routing, if not a reference.
    pub fn inline(&self) -> Option<&Route> {
        self.route.inline()
    }
}

fn routes_as_map<S: Serializer>(routes: &[GatewayRoute], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(routes.len()))?;
    for r in routes {
        m.serialize_entry(&r.path.0, &r.route)?;
    }
    m.end()
}

/// A gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gateway {
    /// The gateway's name (see the module doc for the forms).
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// Where it listens.
    pub port: GatewayPort,
    /// Where it is reachable once deployed (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<GatewayService>,
    /// Stickiness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    /// Host names routed to this gateway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_hosts: Vec<String>,
    /// Routes, in the order written.
    #[serde(serialize_with = "routes_as_map")]
    pub routes: Vec<GatewayRoute>,
    /// An automated canary release between two of the routes: on a user gateway, or in a cluster's gateway
    /// settings (there its routes name services by breed) and on the internal gateway planned from them (full
    /// paths). A deployment's own gateways (`deployment/port`) take none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryPolicy>,
}

impl Gateway {
    /// A gateway with no routes.
    pub fn new(name: impl Into<String>, port: GatewayPort) -> Self {
        Gateway {
            name: name.into(),
            metadata: Metadata::new(),
            port,
            service: None,
            sticky: None,
            virtual_hosts: Vec::new(),
            routes: Vec::new(),
            canary: None,
        }
    }

    /// Whether this is an internal cluster gateway (`deployment/cluster/port`).
    pub fn is_internal(&self) -> bool {
        self.name.split('/').count() == 3
    }

    /// The route with `path`.
    pub fn route(&self, path: &str) -> Option<&GatewayRoute> {
        self.routes.iter().find(|r| r.path.0 == path)
    }

    /// The gateway's `lookup_name`.
    pub fn lookup_name(&self) -> String {
        super::lookup::gateway_lookup(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_paths_have_one_to_four_segments_or_an_address() {
        assert!(RoutePath("a/b/c/d".into()).is_valid());
        assert!(!RoutePath("a/b/c/d/e".into()).is_valid());
        assert!(!RoutePath("a//b".into()).is_valid());
        assert!(RoutePath("[10.0.0.1:8080]".into()).is_valid());
        assert_eq!(
            RoutePath("[10.0.0.1:8080]".into()).external(),
            Some("10.0.0.1:8080")
        );
        assert!(!RoutePath("[10.0.0.1]".into()).is_valid());
    }

    #[test]
    fn gateway_port_parses_protocol() {
        assert_eq!(
            GatewayPort::parse("9050/tcp").map(|p| (p.number, p.protocol)),
            Some((9050, Protocol::Tcp))
        );
        assert_eq!(
            GatewayPort::parse("9050").map(|p| p.protocol),
            Some(Protocol::Http)
        );
        assert!(GatewayPort::parse("70000").is_none());
    }
}
