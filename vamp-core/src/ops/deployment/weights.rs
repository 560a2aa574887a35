//! Route weights of a cluster's internal gateways, as merge and slice check them.
//!
//! A cluster gateway is keyed by breed port name and its routes by service (breed) name. For each port, the
//! services that declare it take part; a participant's weight is the `weight` of its inline route, and a
//! participant with no route or no weight is *weightless*: gateway planning later shares whatever the explicit
//! weights leave over among the weightless ones. So a port is valid when its explicit weights total 0% or 100%,
//! or total less than 100% with at least one weightless participant to take the rest.

use crate::model::{DeploymentCluster, DeploymentService};

/// The weight situation of one port of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortWeight {
    /// The breed port name (the cluster gateway's name).
    pub port: String,
    /// Sum of the explicit weights of the participants, in percent.
    pub explicit: u32,
    /// Participants without an explicit weight.
    pub weightless: usize,
}

impl PortWeight {
    /// Whether weight distribution can make this port total 0% or 100%.
    pub fn is_valid(&self) -> bool {
        self.explicit == 0 || self.explicit == 100 || (self.explicit < 100 && self.weightless > 0)
    }
}

/// The weights of every port of `cluster`, counting only the services `participates` accepts. Ports are those
/// the cluster's gateways name, then those the participants' breeds declare, each once, in that order.
pub(crate) fn port_weights(
    cluster: &DeploymentCluster,
    participates: impl Fn(&DeploymentService) -> bool,
) -> Vec<PortWeight> {
    let services: Vec<&DeploymentService> = cluster.services.iter().filter(|s| participates(s)).collect();
    let mut ports: Vec<&str> = Vec::new();
    let gateway_ports = cluster.gateways.iter().map(|g| g.name.as_str());
    let breed_ports = services
        .iter()
        .flat_map(|s| s.breed.ports.iter().map(|p| p.name.as_str()));
    for port in gateway_ports.chain(breed_ports) {
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
        .into_iter()
        .map(|port| {
            let gateway = cluster.gateways.iter().find(|g| g.name == port);
            let mut explicit = 0u32;
            let mut weightless = 0usize;
            for service in services.iter().filter(|s| s.breed.port(port).is_some()) {
                let weight = gateway
                    .and_then(|g| g.route(&service.breed.name))
                    .and_then(|r| r.inline())
                    .and_then(|r| r.weight);
                match weight {
                    Some(w) => explicit += u32::from(w.0),
                    None => weightless += 1,
                }
            }
            PortWeight {
                port: port.to_string(),
                explicit,
                weightless,
            }
        })
        .collect()
}
