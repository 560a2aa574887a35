//! Reads gateways, routes, conditions and rewrites: standalone, in blueprints (`port: routes`) and in clusters
//! (keyed by breed port, or anonymous when the cluster has one port).

use super::common::{is_valid_name, read_metadata, read_percentage, weak_ref};
use crate::dsl::cursor::{describe, index, join, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{
    Condition, Gateway, GatewayPort, GatewayRoute, GatewayService, Metadata, Ref, Rewrite, Route, RoutePath,
    Sticky,
};

/// Keys that mark a cluster's `gateways` map as one anonymous gateway rather than a map keyed by port name.
pub(crate) const GATEWAY_BODY_KEYS: [&str; 5] = ["routes", "sticky", "virtual_hosts", "metadata", "canary"];

/// Reads a standalone gateway, its `canary` policy included.
pub(crate) fn read_gateway(ctx: &Ctx, node: &Node, path: &str) -> R<Gateway> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Gateway)?;
    let name_node = c.required("name")?;
    let name = scalar_text(ctx, name_node, &c.path_of("name"))?;
    crate::ops::gateways::validate::validate_gateway_name(&name)
        .map_err(|e| e.within(&ctx.artifact, "").at(name_node.position()))?;
    let port = match c.value("port") {
        None => GatewayPort::default(),
        Some(n) => read_gateway_port(ctx, n, &c.path_of("port"))?,
    };
    let mut gw = read_gateway_body(&c, name, port)?;
    c.take("internal");
    c.take("deployed");
    gw.service = match c.value("service") {
        None => None,
        Some(n) => Some(read_service(ctx, n, &c.path_of("service"))?),
    };
    gw.canary = super::canary::read_optional_canary(&c)?;
    c.finish()?;
    Ok(gw)
}

fn read_service(ctx: &Ctx, node: &Node, path: &str) -> R<GatewayService> {
    let c = MapCursor::new(ctx, node, path)?;
    let host = c.required_text("host")?;
    let port_node = c.required("port")?;
    let port = read_gateway_port(ctx, port_node, &c.path_of("port"))?;
    c.finish()?;
    Ok(GatewayService {
        host,
        port: port.number,
    })
}

/// Reads a gateway port `8080`, `8080/http` or `8080/tcp`.
pub(crate) fn read_gateway_port(ctx: &Ctx, node: &Node, path: &str) -> R<GatewayPort> {
    let text = scalar_text(ctx, node, path)?;
    GatewayPort::parse(&text).ok_or_else(|| {
        ctx.err_at(
            ErrorCode::InvalidGatewayPortError,
            path,
            node,
            format!("'{text}' is not a gateway port: use a number 0..65535 with an optional /http or /tcp"),
        )
    })
}

/// Reads the fields every gateway form shares: metadata, sticky, virtual hosts and routes.
pub(crate) fn read_gateway_body(c: &MapCursor, name: String, port: GatewayPort) -> R<Gateway> {
    let metadata = read_metadata(c)?;
    let sticky = read_sticky(c)?;
    let virtual_hosts = read_virtual_hosts(c)?;
    let routes = match c.take("routes") {
        None => Vec::new(),
        Some(n) => read_routes(c.ctx, n, &c.path_of("routes"))?,
    };
    Ok(Gateway {
        name,
        metadata,
        port,
        service: None,
        sticky,
        virtual_hosts,
        routes,
        canary: None,
    })
}

fn read_sticky(c: &MapCursor) -> R<Option<Sticky>> {
    let Some(node) = c.value("sticky") else {
        return Ok(None);
    };
    let text = scalar_text(c.ctx, node, &c.path_of("sticky"))?;
    match text.trim().to_ascii_lowercase().as_str() {
        "route" => Ok(Some(Sticky::Route)),
        "instance" => Ok(Some(Sticky::Instance)),
        "none" | "" => Ok(None),
        _ => Err(c.ctx.err_at(
            ErrorCode::IllegalGatewayStickyValue,
            &c.path_of("sticky"),
            node,
            format!("'{text}' is not a sticky value: use route, instance or none"),
        )),
    }
}

fn read_virtual_hosts(c: &MapCursor) -> R<Vec<String>> {
    let Some(node) = c.value("virtual_hosts") else {
        return Ok(Vec::new());
    };
    let path = c.path_of("virtual_hosts");
    let items: Vec<&Node> = match &node.value {
        Value::List(items) => items.iter().collect(),
        Value::Map(_) => {
            return Err(c.ctx.err_at(
                ErrorCode::IllegalGatewayVirtualHosts,
                &path,
                node,
                "virtual hosts must be a host name or a list of host names, not a map",
            ))
        }
        _ => vec![node],
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let host = match item.as_text() {
            Some(t) if !t.trim().is_empty() && !t.chars().any(|ch| ch.is_whitespace() || ch.is_control()) => {
                t.to_string()
            }
            _ => {
                return Err(c.ctx.err_at(
                    ErrorCode::IllegalGatewayVirtualHosts,
                    &index(&path, i),
                    item,
                    "a virtual host must be a host name without white space",
                ))
            }
        };
        out.push(host);
    }
    Ok(out)
}

/// Checks a route path: 1 to 4 segments without white space or brackets, or an address `[host:port]`
/// (`UnsupportedRoutePathError`).
pub(crate) fn route_path(ctx: &Ctx, text: &str, path: &str, node: &Node) -> R<RoutePath> {
    let p = RoutePath(text.to_string());
    let ok = match p.external() {
        Some(addr) => !addr.is_empty() && !addr.chars().any(|ch| ch.is_whitespace() || ch.is_control()),
        None => {
            p.is_valid()
                && !text
                    .chars()
                    .any(|ch| ch.is_whitespace() || ch.is_control() || matches!(ch, '[' | ']'))
        }
    };
    if ok {
        Ok(p)
    } else {
        Err(ctx.err_at(
            ErrorCode::UnsupportedRoutePathError,
            path,
            node,
            format!("'{text}' is not a route: use 1 to 4 '/'-separated segments or an address '[host:port]'"),
        ))
    }
}

/// Reads `routes`: a path, a list of paths or `{path: route}` items, or a map `path: route | reference | ~`.
pub(crate) fn read_routes(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<GatewayRoute>> {
    let mut routes: Vec<GatewayRoute> = Vec::new();
    let mut push = |r: GatewayRoute| {
        if let Some(existing) = routes.iter_mut().find(|x| x.path == r.path) {
            *existing = r;
        } else {
            routes.push(r);
        }
    };
    match &node.value {
        Value::Null => {}
        Value::Map(entries) => {
            for (key, v) in entries {
                push(read_route_entry(ctx, key, v, &join(path, key))?);
            }
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = index(path, i);
                match &item.value {
                    Value::Map(entries) if entries.len() == 1 => {
                        let (key, v) = &entries[0];
                        push(read_route_entry(ctx, key, v, &join(&p, key))?);
                    }
                    Value::Map(_) | Value::List(_) => {
                        return Err(ctx.err_at(
                            ErrorCode::UnexpectedTypeError,
                            &p,
                            item,
                            "a route in a list is a path, or a map with one path as key",
                        ))
                    }
                    _ => {
                        let text = scalar_text(ctx, item, &p)?;
                        push(GatewayRoute {
                            path: route_path(ctx, &text, &p, item)?,
                            route: Ref::Inline(Route::default()),
                            targets: Vec::new(),
                        });
                    }
                }
            }
        }
        _ => {
            let text = scalar_text(ctx, node, path)?;
            push(GatewayRoute {
                path: route_path(ctx, &text, path, node)?,
                route: Ref::Inline(Route::default()),
                targets: Vec::new(),
            });
        }
    }
    Ok(routes)
}

fn read_route_entry(ctx: &Ctx, key: &str, node: &Node, path: &str) -> R<GatewayRoute> {
    let route_path = route_path(ctx, key, path, node)?;
    let route = match &node.value {
        Value::Null => Ref::Inline(Route::default()),
        _ => weak_ref(ctx, node, path, |c| read_route_body(c, String::new()))?,
    };
    Ok(GatewayRoute {
        path: route_path,
        route,
        targets: Vec::new(),
    })
}

/// Reads the fields of a route: weight, condition, condition strength, rewrites, balance.
pub(crate) fn read_route_body(c: &MapCursor, name: String) -> R<Route> {
    let metadata = read_metadata(c)?;
    let weight = read_percentage(c, "weight", ErrorCode::RouteWeightError)?;
    let condition = match c.take_any(&["condition", "filter"]) {
        None => None,
        Some((key, n)) => read_condition_ref(c.ctx, n, &c.path_of(key))?,
    };
    let strength_code = if c.ctx.artifact.kind == crate::model::Kind::Gateway {
        ErrorCode::GatewayRouteConditionStrengthError
    } else {
        ErrorCode::RouteConditionStrengthError
    };
    let condition_strength = read_percentage(c, "condition_strength", strength_code)?;
    let rewrites = match c.value("rewrites") {
        None => Vec::new(),
        Some(n) => read_rewrites(c.ctx, n, &c.path_of("rewrites"))?,
    };
    let balance = c.text("balance")?.filter(|b| !b.trim().is_empty());
    c.take("targets");
    c.take("lookup_name");
    Ok(Route {
        name,
        metadata,
        weight,
        condition,
        condition_strength,
        rewrites,
        balance,
    })
}

/// Reads a condition: a text (a single valid name is a reference to a stored condition, anything else the
/// condition itself), `{condition: text}`, or `{reference: name}`. Empty text means no condition.
pub(crate) fn read_condition_ref(ctx: &Ctx, node: &Node, path: &str) -> R<Option<Ref<Condition>>> {
    match &node.value {
        Value::Null => Ok(None),
        Value::Map(_) => match weak_ref(ctx, node, path, |c| read_condition_body(c, String::new()))? {
            Ref::Inline(cond) if cond.definition.trim().is_empty() => Ok(None),
            r => Ok(Some(r)),
        },
        Value::List(_) => Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a condition text, found {}", describe(node)),
        )),
        _ => {
            let text = scalar_text(ctx, node, path)?;
            let t = text.trim();
            if t.is_empty() {
                Ok(None)
            } else if is_valid_name(t) && !t.starts_with('<') {
                Ok(Some(Ref::Named(t.to_string())))
            } else {
                Ok(Some(Ref::Inline(Condition::inline(t))))
            }
        }
    }
}

/// Reads the fields of a condition: `condition` (or `definition`).
pub(crate) fn read_condition_body(c: &MapCursor, name: String) -> R<Condition> {
    let metadata: Metadata = read_metadata(c)?;
    let definition = match c.take_any(&["condition", "definition"]) {
        None => String::new(),
        Some((key, n)) => scalar_text(c.ctx, n, &c.path_of(key))?,
    };
    Ok(Condition {
        name,
        metadata,
        definition,
    })
}

fn read_rewrites(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Ref<Rewrite>>> {
    let items: Vec<&Node> = match &node.value {
        Value::List(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let p = index(path, i);
        out.push(weak_ref(ctx, item, &p, |c| read_rewrite_body(c, String::new()))?);
    }
    Ok(out)
}

/// Reads the fields of a rewrite: `path: "<new path> if <condition>"`.
pub(crate) fn read_rewrite_body(c: &MapCursor, name: String) -> R<Rewrite> {
    let metadata = read_metadata(c)?;
    let node = c.required("path")?;
    let text = scalar_text(c.ctx, node, &c.path_of("path"))?;
    let (path, condition) = Rewrite::parse(&text).ok_or_else(|| {
        c.ctx.err_at(
            ErrorCode::UnsupportedPathRewriteError,
            &c.path_of("path"),
            node,
            format!("'{text}' is not a rewrite: write '<new path> if <condition>'"),
        )
    })?;
    Ok(Rewrite {
        name,
        metadata,
        path,
        condition,
    })
}

/// Reads a stored route artifact.
pub(crate) fn read_route_artifact(ctx: &Ctx, node: &Node, path: &str) -> R<Route> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Route)?;
    let name = super::common::read_name(&c)?;
    let r = read_route_body(&c, name)?;
    c.finish()?;
    Ok(r)
}

/// Reads a stored condition artifact.
pub(crate) fn read_condition_artifact(ctx: &Ctx, node: &Node, path: &str) -> R<Condition> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Condition)?;
    let name = super::common::read_name(&c)?;
    let r = read_condition_body(&c, name)?;
    c.finish()?;
    if r.definition.trim().is_empty() {
        return Err(c.missing("condition"));
    }
    Ok(r)
}

/// Reads a stored rewrite artifact.
pub(crate) fn read_rewrite_artifact(ctx: &Ctx, node: &Node, path: &str) -> R<Rewrite> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Rewrite)?;
    let name = super::common::read_name(&c)?;
    let r = read_rewrite_body(&c, name)?;
    c.finish()?;
    Ok(r)
}
