//! [`Values`]: a [`ValueSource`] made of plain maps, and how a deployment fills it (§2.2 of the behaviour
//! reference): every cluster's host is the gateway agent host, every cluster port is the port of its internal
//! cluster gateway, and cluster environment variables and constants are those of the cluster's services.

use indexmap::IndexMap;

use super::environment::merged_environment;
use super::interpolate::ValueSource;
use super::reference::{parse_value, Part};
use crate::model::{Deployment, Gateway};

/// The schemes of `${scheme://path}` that read the configuration.
pub const CONFIG_SCHEMES: [&str; 3] = ["conf", "config", "configuration"];

/// Values of references, keyed by cluster name. Unknown keys resolve to `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    hosts: IndexMap<String, String>,
    ports: IndexMap<String, IndexMap<String, u16>>,
    host_ports: IndexMap<String, IndexMap<String, String>>,
    environment: IndexMap<String, IndexMap<String, String>>,
    constants: IndexMap<String, IndexMap<String, String>>,
    locals: IndexMap<String, String>,
    globals: IndexMap<String, IndexMap<String, String>>,
}

impl Values {
    /// No values at all.
    pub fn new() -> Self {
        Values::default()
    }

    /// What the references of `deployment`'s services resolve to:
    /// * `$c.host` → `gateway_host` (config `vamp.gateway-driver.host`) for every cluster `c`;
    /// * `$c.ports.p` → the port number of the internal gateway `deployment/c/p`, taken from `gateways` (and from
    ///   the cluster's own gateways, whose last name segment is the port) once it is assigned (not 0);
    /// * `$c.host:$c.ports.p` → that gateway's service host and port number once the gateway is deployed, else
    ///   `gateway_host:port`;
    /// * `$c.environment_variables.X` / `$c.constants.X` → the first service of `c` (undeploying ones last)
    ///   that has it: its interpolated value, or its value when that holds no reference. A value that still
    ///   needs resolving is left out until its own service has been resolved.
    ///
    /// Locals and globals are not filled: add them with [`Values::with_local`] and [`Values::with_config`].
    pub fn for_deployment(deployment: &Deployment, gateway_host: &str, gateways: &[Gateway]) -> Values {
        let mut values = Values::new();
        for cluster in &deployment.clusters {
            values = values.with_host(&cluster.name, gateway_host);
            let prefix = format!("{}/{}/", deployment.name, cluster.name);
            let own = cluster
                .gateways
                .iter()
                .filter_map(|g| Some((g.name.rsplit('/').next()?, g)));
            let listed = gateways
                .iter()
                .filter_map(|g| Some((g.name.strip_prefix(&prefix)?, g)));
            for (port, gateway) in own.chain(listed) {
                if gateway.port.number == 0 || port.contains('/') {
                    continue;
                }
                values = values.with_port(&cluster.name, port, gateway.port.number);
                if let Some(service) = &gateway.service {
                    let address = format!("{}:{}", service.host, gateway.port.number);
                    values = values.with_host_port(&cluster.name, port, &address);
                }
            }
            let mut services: Vec<_> = cluster.services.iter().collect();
            services.sort_by_key(|s| s.status.is_undeploying());
            for service in services {
                for var in merged_environment(deployment, cluster, service) {
                    let value = var
                        .interpolated
                        .clone()
                        .or_else(|| var.value.as_deref().and_then(literal));
                    if let Some(value) = value {
                        values
                            .environment
                            .entry(cluster.name.clone())
                            .or_default()
                            .entry(var.name)
                            .or_insert(value);
                    }
                }
                for constant in &service.breed.constants {
                    if let Some(value) = literal(&constant.value) {
                        let entry = values.constants.entry(cluster.name.clone()).or_default();
                        entry.entry(constant.name.clone()).or_insert(value);
                    }
                }
            }
        }
        values
    }

    /// With `$cluster.host` → `host`.
    pub fn with_host(mut self, cluster: &str, host: &str) -> Self {
        self.hosts.insert(cluster.to_string(), host.to_string());
        self
    }

    /// With `$cluster.ports.port` → `number`.
    pub fn with_port(mut self, cluster: &str, port: &str, number: u16) -> Self {
        self.ports
            .entry(cluster.to_string())
            .or_default()
            .insert(port.to_string(), number);
        self
    }

    /// With `$cluster.host:$cluster.ports.port` → `address`, overriding the joined host and port.
    pub fn with_host_port(mut self, cluster: &str, port: &str, address: &str) -> Self {
        self.host_ports
            .entry(cluster.to_string())
            .or_default()
            .insert(port.to_string(), address.to_string());
        self
    }

    /// With `$cluster.environment_variables.name` → `value`.
    pub fn with_environment(mut self, cluster: &str, name: &str, value: &str) -> Self {
        self.environment
            .entry(cluster.to_string())
            .or_default()
            .insert(name.to_string(), value.to_string());
        self
    }

    /// With `$cluster.constants.name` → `value`.
    pub fn with_constant(mut self, cluster: &str, name: &str, value: &str) -> Self {
        self.constants
            .entry(cluster.to_string())
            .or_default()
            .insert(name.to_string(), value.to_string());
        self
    }

    /// With `$name` → `value`.
    pub fn with_local(mut self, name: &str, value: &str) -> Self {
        self.locals.insert(name.to_string(), value.to_string());
        self
    }

    /// With `${scheme://path}` → `value`.
    pub fn with_global(mut self, scheme: &str, path: &str, value: &str) -> Self {
        self.globals
            .entry(scheme.to_string())
            .or_default()
            .insert(path.to_string(), value.to_string());
        self
    }

    /// With the configuration key `key` (read by `${conf://key}`, `${config://key}`, `${configuration://key}`).
    pub fn with_config(self, key: &str, value: &str) -> Self {
        self.with_global("config", key, value)
    }
}

/// The text of a value without references (`$$` read as `$`); `None` when it has references or is malformed.
fn literal(value: &str) -> Option<String> {
    parse_value(value)
        .ok()?
        .into_iter()
        .map(|p| match p {
            Part::Text(t) => Some(t),
            Part::Reference(_) => None,
        })
        .collect()
}

fn nested<'m, V>(map: &'m IndexMap<String, IndexMap<String, V>>, outer: &str, inner: &str) -> Option<&'m V> {
    map.get(outer)?.get(inner)
}

impl ValueSource for Values {
    fn host(&self, cluster: &str) -> Option<String> {
        self.hosts.get(cluster).cloned()
    }

    fn port(&self, cluster: &str, port: &str) -> Option<u16> {
        nested(&self.ports, cluster, port).copied()
    }

    fn environment(&self, cluster: &str, name: &str) -> Option<String> {
        nested(&self.environment, cluster, name).cloned()
    }

    fn constant(&self, cluster: &str, name: &str) -> Option<String> {
        nested(&self.constants, cluster, name).cloned()
    }

    fn local(&self, name: &str) -> Option<String> {
        self.locals.get(name).cloned()
    }

    fn global(&self, scheme: &str, path: &str) -> Option<String> {
        let scheme = if CONFIG_SCHEMES.contains(&scheme) {
            "config"
        } else {
            scheme
        };
        nested(&self.globals, scheme, path).cloned()
    }

    fn host_port(&self, cluster: &str, port: &str) -> Option<String> {
        nested(&self.host_ports, cluster, port)
            .cloned()
            .or_else(|| Some(format!("{}:{}", self.host(cluster)?, self.port(cluster, port)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{interpolate, Strictness};

    #[test]
    fn every_config_scheme_reads_the_configuration() {
        let values = Values::new().with_config("vamp.gateway-driver.host", "10.0.0.9");
        for scheme in CONFIG_SCHEMES {
            let text = format!("${{{scheme}://vamp.gateway-driver.host}}");
            assert_eq!(
                interpolate(&text, &values, Strictness::Strict).unwrap(),
                "10.0.0.9"
            );
        }
        assert!(interpolate("${vault://vamp.gateway-driver.host}", &values, Strictness::Strict).is_err());
    }

    #[test]
    fn host_port_prefers_the_gateway_service_address() {
        let joined = Values::new().with_host("db", "vga").with_port("db", "pg", 40001);
        assert_eq!(
            interpolate("$db.host:$db.ports.pg", &joined, Strictness::Strict).unwrap(),
            "vga:40001"
        );
        let served = joined.with_host_port("db", "pg", "10.1.1.1:40001");
        assert_eq!(
            interpolate("$db.host:$db.ports.pg", &served, Strictness::Strict).unwrap(),
            "10.1.1.1:40001"
        );
    }

    #[test]
    fn literal_values_unescape_and_refuse_references() {
        assert_eq!(literal("a$$b"), Some("a$b".into()));
        assert_eq!(literal("$db.host"), None);
        assert_eq!(literal(""), Some(String::new()));
    }
}
