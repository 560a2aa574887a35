//! Converts a docker-compose (v2/v3) file into a blueprint, as the original's `/api/v1/docker-compose` did: each
//! service becomes a cluster with an inline breed `<service>:1.0.0` (image, ports, environment, `depends_on` as
//! dependencies, `command` in the `docker` dialect); published ports become blueprint gateways. What has no
//! blueprint equivalent (volumes, restart policies, …) is listed in the returned notes rather than dropped silently.

use indexmap::IndexMap;

use crate::dsl::cursor::{describe, index, join, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{
    Blueprint, Breed, Cluster, Deployable, Dialects, EnvironmentVariable, Gateway, GatewayPort, GatewayRoute,
    Metadata, Port, Protocol, Ref, Service,
};

/// A published or exposed port of a compose service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComposePort {
    /// The port on the host, when published.
    pub host: Option<u16>,
    /// The port in the container.
    pub container: u16,
    /// Its protocol.
    pub protocol: Protocol,
}

fn port_range(ctx: &Ctx, text: &str, path: &str, node: &Node) -> R<Vec<u16>> {
    let bad = || {
        ctx.err_at(
            ErrorCode::InvalidValueError,
            path,
            node,
            format!("'{text}' is not a port or a port range such as 3000-3005"),
        )
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b || b - a > 1000 {
                return Err(bad());
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![text.trim().parse().map_err(|_| bad())?]),
    }
}

/// Parses a compose port: `"3000"`, `"3000-3005"`, `"8000:80"`, `"9090-9091:8080-8081"`, `"127.0.0.1:8001:8001"`,
/// with an optional `/tcp`; `/udp` (or any other protocol) is `UnsupportedProtocolError`.
pub(crate) fn read_compose_port(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<ComposePort>> {
    let text = scalar_text(ctx, node, path)?;
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p)) if p.eq_ignore_ascii_case("tcp") => (s, Protocol::Tcp),
        Some((_, p)) => {
            return Err(ctx.err_at(
                ErrorCode::UnsupportedProtocolError,
                path,
                node,
                format!("protocol '{p}' is not supported: Vamp gateways carry http and tcp"),
            ))
        }
        None => (text.as_str(), Protocol::Http),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container) = match parts.as_slice() {
        [c] => (None, *c),
        [h, c] => (Some(*h), *c),
        [_, h, c] => (Some(*h), *c),
        _ => {
            return Err(ctx.err_at(
                ErrorCode::InvalidValueError,
                path,
                node,
                format!("'{text}' is not a compose port"),
            ))
        }
    };
    let containers = port_range(ctx, container, path, node)?;
    let hosts = match host {
        None => vec![None; containers.len()],
        Some(h) => {
            let hs = port_range(ctx, h, path, node)?;
            if hs.len() != containers.len() {
                return Err(ctx.err_at(
                    ErrorCode::InvalidValueError,
                    path,
                    node,
                    format!("'{text}': host and container ranges differ in length"),
                ));
            }
            hs.into_iter().map(Some).collect()
        }
    };
    Ok(hosts
        .into_iter()
        .zip(containers)
        .map(|(host, container)| ComposePort {
            host,
            container,
            protocol,
        })
        .collect())
}

/// Reads a `ports` list.
pub(crate) fn read_compose_ports(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<ComposePort>> {
    let Value::List(items) = &node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a list of ports, found {}", describe(node)),
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        out.extend(read_compose_port(ctx, item, &index(path, i))?);
    }
    Ok(out)
}

fn read_compose_environment(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<EnvironmentVariable>> {
    let mut vars = Vec::new();
    match &node.value {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let text = scalar_text(ctx, item, &index(path, i))?;
                let (k, v) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (text.clone(), None),
                };
                vars.push(EnvironmentVariable::new(k, v));
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let value = if v.is_null() {
                    None
                } else {
                    Some(scalar_text(ctx, v, &join(path, k))?)
                };
                vars.push(EnvironmentVariable::new(k.clone(), value));
            }
        }
        Value::Null => {}
        _ => {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                path,
                node,
                "environment is a list of NAME=value or a map",
            ))
        }
    }
    Ok(vars)
}

const SUPPORTED: [&str; 6] = ["image", "ports", "environment", "depends_on", "command", "expose"];

/// Converts a compose document into a blueprint named `name`, with notes on what was not converted.
pub(crate) fn read_compose(ctx: &Ctx, node: &Node, name: &str) -> R<(Blueprint, Vec<String>)> {
    let c = MapCursor::new(ctx, node, "")?;
    let mut notes = Vec::new();
    for key in c.keys() {
        if !matches!(key, "version" | "services") {
            notes.push(format!("top-level '{key}' is not supported and was ignored"));
        }
    }
    c.take_all();
    let services_node = node.get("services").ok_or_else(|| c.missing("services"))?;
    let Value::Map(services) = &services_node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            "services",
            services_node,
            "expected a map of services",
        ));
    };
    let mut clusters = Vec::new();
    let mut gateways = Vec::new();
    for (svc, def) in services {
        let path = join("services", svc);
        super::common::check_name(ctx, svc, &path, def)?;
        let s = MapCursor::new(ctx, def, &path)?;
        for key in s.keys() {
            if !SUPPORTED.contains(&key) {
                notes.push(format!("services.{svc}.{key} is not supported and was ignored"));
            }
        }
        let image = s.required_text("image")?;
        let mut breed = Breed::new(format!("{svc}:1.0.0"), Deployable::docker(image));
        let mut ports: Vec<ComposePort> = Vec::new();
        if let Some(p) = s.value("ports") {
            ports.extend(read_compose_ports(ctx, p, &s.path_of("ports"))?);
        }
        if let Some(p) = s.value("expose") {
            ports.extend(read_compose_ports(ctx, p, &s.path_of("expose"))?);
        }
        for p in &ports {
            let port_name = format!("port_{}", p.container);
            if breed.port(&port_name).is_none() {
                breed.ports.push(Port {
                    name: port_name.clone(),
                    value: p.container.to_string(),
                    protocol: p.protocol,
                });
            }
            if let Some(host) = p.host {
                let mut gw = Gateway::new(
                    host.to_string(),
                    GatewayPort {
                        number: host,
                        protocol: p.protocol,
                    },
                );
                gw.routes.push(GatewayRoute::new(format!("{svc}/{port_name}")));
                gateways.push(gw);
            }
        }
        if let Some(e) = s.value("environment") {
            breed.environment_variables = read_compose_environment(ctx, e, &s.path_of("environment"))?;
        }
        if let Some(d) = s.value("depends_on") {
            let deps: Vec<String> = match &d.value {
                Value::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
                _ => super::common::read_string_list(ctx, d, &s.path_of("depends_on"))?,
            };
            breed.dependencies = deps
                .into_iter()
                .map(|dep| (dep.clone(), Ref::Named(format!("{dep}:1.0.0"))))
                .collect();
        }
        let mut dialects = Dialects::new();
        if let Some(cmd) = s.value("command") {
            let mut docker = serde_json::Map::new();
            docker.insert("cmd".into(), cmd.to_json());
            dialects.insert("docker".into(), serde_json::Value::Object(docker));
        }
        s.take_all();
        let mut service = Service::new(Ref::Inline(breed));
        service.dialects = dialects;
        clusters.push(Cluster::new(svc.clone(), vec![service]));
    }
    let blueprint = Blueprint {
        name: name.to_string(),
        metadata: Metadata::new(),
        gateways,
        clusters,
        environment_variables: Vec::new(),
        dialects: IndexMap::new(),
    };
    Ok((blueprint, notes))
}
