//! Reads blueprints with every shorthand of the original: a cluster given as a breed name, a list of services, or
//! a single service written directly in the cluster; services given as a breed name, `{ref: …}` or an inline
//! breed; blueprint gateways keyed by port (`9050/http: cluster/port`) or by name with a `port`; cluster gateways
//! keyed by breed port, or anonymous when the cluster has one port.

use super::breed::read_breed_ref;
use super::common::{
    check_name, read_arguments, read_dialects, read_environment, read_health_checks, read_metadata,
    read_name, read_scale_ref,
};
use super::gateway::{read_gateway_body, read_gateway_port, GATEWAY_BODY_KEYS};
use super::sla::read_sla_ref;
use crate::dsl::cursor::{describe, index, join, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{Blueprint, Cluster, Gateway, GatewayPort, Ref, Service};

/// Reads a blueprint from a map node (validation is [`crate::dsl::validate`]'s job).
pub(crate) fn read_blueprint(ctx: &Ctx, node: &Node, path: &str) -> R<Blueprint> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Blueprint)?;
    let name = read_name(&c)?;
    let bp = read_blueprint_fields(&c, name)?;
    c.finish()?;
    Ok(bp)
}

/// Reads the fields of a blueprint (shared with deployment requests, which tolerate `kind: deployment`).
pub(crate) fn read_blueprint_fields(c: &MapCursor, name: String) -> R<Blueprint> {
    let metadata = read_metadata(c)?;
    let gateways = match c.value("gateways") {
        None => Vec::new(),
        Some(n) => read_gateway_map(c.ctx, n, &c.path_of("gateways"), true)?,
    };
    let clusters = match c.value("clusters") {
        None => Vec::new(),
        Some(n) => read_clusters(c.ctx, n, &c.path_of("clusters"))?,
    };
    let environment_variables = read_environment(c, false)?;
    let dialects = read_dialects(c)?;
    Ok(Blueprint {
        name,
        metadata,
        gateways,
        clusters,
        environment_variables,
        dialects,
    })
}

/// Reads gateways keyed by name: each a route (or routes) or a gateway body. With `key_is_port`, a key that is a
/// port (`9050/http`) gives the port unless the body has `port`; otherwise the port is left to be assigned.
pub(crate) fn read_gateway_map(ctx: &Ctx, node: &Node, path: &str, key_is_port: bool) -> R<Vec<Gateway>> {
    let Value::Map(entries) = &node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a map of port: routes, found {}", describe(node)),
        ));
    };
    let mut out = Vec::new();
    for (key, v) in entries {
        let p = join(path, key);
        let gw = match &v.value {
            Value::Map(_) => {
                let gc = MapCursor::new(ctx, v, &p)?;
                let port = match gc.value("port") {
                    Some(pn) => read_gateway_port(ctx, pn, &gc.path_of("port"))?,
                    None if key_is_port => key_port(ctx, key, &p, v)?,
                    None => GatewayPort::default(),
                };
                let mut gw = read_gateway_body(&gc, key.clone(), port)?;
                if key_is_port {
                    super::canary::refuse_canary(&gc)?;
                } else {
                    gw.canary = super::canary::read_optional_canary(&gc)?;
                }
                gc.finish()?;
                gw
            }
            _ => {
                let port = if key_is_port {
                    key_port(ctx, key, &p, v)?
                } else {
                    GatewayPort::default()
                };
                let mut gw = Gateway::new(key.clone(), port);
                gw.routes = super::gateway::read_routes(ctx, v, &p)?;
                gw
            }
        };
        out.push(gw);
    }
    Ok(out)
}

fn key_port(ctx: &Ctx, key: &str, path: &str, node: &Node) -> R<GatewayPort> {
    GatewayPort::parse(key).ok_or_else(|| {
        ctx.err_at(
            ErrorCode::InvalidGatewayPortError,
            path,
            node,
            format!("'{key}' is not a port: key blueprint gateways by port (e.g. 9050/http) or give 'port'"),
        )
    })
}

fn read_clusters(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Cluster>> {
    let Value::Map(entries) = &node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!(
                "expected a map of cluster name: cluster, found {}",
                describe(node)
            ),
        ));
    };
    let mut out = Vec::new();
    for (name, v) in entries {
        let p = join(path, name);
        check_name(ctx, name, &p, v)?;
        out.push(read_cluster(ctx, name, v, &p)?);
    }
    Ok(out)
}

/// Keys that belong to the cluster when a cluster is written as its single service.
const CLUSTER_KEYS: [&str; 2] = ["sla", "gateways"];

fn read_cluster(ctx: &Ctx, name: &str, node: &Node, path: &str) -> R<Cluster> {
    match &node.value {
        Value::Map(entries) => {
            let c = MapCursor::new(ctx, node, path)?;
            let has_services = entries.iter().any(|(k, _)| k == "services");
            let (services, metadata, health_checks, network, dialects) = if has_services {
                let services = match c.value("services") {
                    None => Vec::new(),
                    Some(s) => read_services(ctx, s, &c.path_of("services"))?,
                };
                (
                    services,
                    read_metadata(&c)?,
                    read_health_checks(&c)?,
                    c.text("network")?,
                    read_dialects(&c)?,
                )
            } else {
                let service_entries: Vec<(String, Node)> = entries
                    .iter()
                    .filter(|(k, _)| !CLUSTER_KEYS.contains(&k.as_str()))
                    .cloned()
                    .collect();
                for (k, _) in &service_entries {
                    c.take(k);
                }
                let service_node = Node {
                    value: Value::Map(service_entries),
                    ..node.clone()
                };
                let service = read_service(ctx, &service_node, path)?;
                (vec![service], Default::default(), None, None, Default::default())
            };
            let gateways = match c.value("gateways") {
                None => Vec::new(),
                Some(g) => read_cluster_gateways(ctx, g, &c.path_of("gateways"))?,
            };
            let sla = match c.value("sla") {
                None => None,
                Some(s) => Some(read_sla_ref(ctx, s, &c.path_of("sla"))?),
            };
            c.finish()?;
            Ok(Cluster {
                name: name.to_string(),
                metadata,
                services,
                gateways,
                health_checks,
                network,
                sla,
                dialects,
            })
        }
        Value::List(_) => {
            let services = read_services(ctx, node, path)?;
            Ok(Cluster::new(name, services))
        }
        Value::Null => Ok(Cluster::new(name, Vec::new())),
        _ => {
            let breed = scalar_text(ctx, node, path)?;
            check_name(ctx, &breed, path, node)?;
            Ok(Cluster::new(name, vec![Service::new(Ref::Named(breed))]))
        }
    }
}

fn read_services(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Service>> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| read_service(ctx, n, &index(path, i)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Ok(vec![read_service(ctx, node, path)?]),
    }
}

fn read_service(ctx: &Ctx, node: &Node, path: &str) -> R<Service> {
    match &node.value {
        Value::Map(entries) => {
            let is_breed = entries.iter().any(|(k, _)| k == "name")
                && !entries
                    .iter()
                    .any(|(k, _)| k == "breed" || k == "reference" || k == "ref");
            if is_breed {
                return Ok(Service::new(read_breed_ref(ctx, node, path)?));
            }
            let c = MapCursor::new(ctx, node, path)?;
            let breed = if let Some(b) = c.value("breed") {
                read_breed_ref(ctx, b, &c.path_of("breed"))?
            } else if let Some((key, r)) = c.take_any(&["reference", "ref"]) {
                let name = scalar_text(ctx, r, &c.path_of(key))?;
                check_name(ctx, &name, &c.path_of(key), r)?;
                Ref::Named(name)
            } else {
                return Err(c.missing("breed"));
            };
            let environment_variables = read_environment(&c, false)?;
            let scale = match c.value("scale") {
                None => None,
                Some(s) => Some(read_scale_ref(ctx, s, &c.path_of("scale"))?),
            };
            let arguments = read_arguments(&c)?;
            let health_checks = read_health_checks(&c)?;
            let network = c.text("network")?;
            let dialects = read_dialects(&c)?;
            c.take("health");
            c.take("status");
            c.finish()?;
            Ok(Service {
                breed,
                environment_variables,
                scale,
                arguments,
                health_checks,
                network,
                dialects,
            })
        }
        Value::List(_) | Value::Null => Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!(
                "expected a service (a breed name or a map), found {}",
                describe(node)
            ),
        )),
        _ => {
            let name = scalar_text(ctx, node, path)?;
            check_name(ctx, &name, path, node)?;
            Ok(Service::new(Ref::Named(name)))
        }
    }
}

/// Reads a cluster's `gateways`: a map keyed by breed port name, or one anonymous gateway (named "" until the
/// cluster's single port is known). A `port` inside is refused: cluster gateway ports are assigned.
fn read_cluster_gateways(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Gateway>> {
    let Value::Map(entries) = &node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a map of port name: gateway, found {}", describe(node)),
        ));
    };
    let anonymous = entries
        .iter()
        .any(|(k, _)| GATEWAY_BODY_KEYS.contains(&k.as_str()));
    if anonymous {
        let c = MapCursor::new(ctx, node, path)?;
        let mut gw = read_gateway_body(&c, String::new(), GatewayPort::default())?;
        gw.canary = super::canary::read_optional_canary(&c)?;
        c.finish()?;
        return Ok(vec![gw]);
    }
    let mut out = Vec::new();
    for (port_name, v) in entries {
        let p = join(path, port_name);
        super::common::check_strict_name(ctx, port_name, &p, v)?;
        let gw = match &v.value {
            Value::Null => Gateway::new(port_name.clone(), GatewayPort::default()),
            Value::Map(_) => {
                let c = MapCursor::new(ctx, v, &p)?;
                let mut gw = read_gateway_body(&c, port_name.clone(), GatewayPort::default())?;
                gw.canary = super::canary::read_optional_canary(&c)?;
                c.finish()?;
                gw
            }
            _ => {
                let mut gw = Gateway::new(port_name.clone(), GatewayPort::default());
                gw.routes = super::gateway::read_routes(ctx, v, &p)?;
                gw
            }
        };
        out.push(gw);
    }
    Ok(out)
}
