//! Reads deployments in the canonical form they are written in (what the server stores and returns): services
//! with their full breed, status, scale, instances, resolved dependencies and interpolated environment.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::blueprint::read_gateway_map;
use super::breed::read_breed;
use super::common::{
    check_name, read_arguments, read_dialects, read_environment, read_health_checks, read_metadata,
    read_name, read_optional_parsed, read_parsed, read_scale_body, whole_number,
};
use super::sla::read_sla_ref;
use crate::dsl::cursor::{describe, index, join, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::traits::split_alias;
use crate::model::{
    Deployment, DeploymentCluster, DeploymentService, EnvironmentVariable, Health, Instance, Intention, Kind,
    Phase, ServiceStatus,
};

/// Reads a deployment.
pub(crate) fn read_deployment(ctx: &Ctx, node: &Node, path: &str) -> R<Deployment> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(Kind::Deployment)?;
    let name = read_name(&c)?;
    let metadata = read_metadata(&c)?;
    let mut clusters = Vec::new();
    if let Some(n) = c.value("clusters") {
        let p = c.path_of("clusters");
        let Value::Map(entries) = &n.value else {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &p,
                n,
                format!("expected a map of clusters, found {}", describe(n)),
            ));
        };
        for (cname, cnode) in entries {
            let cp = join(&p, cname);
            check_name(ctx, cname, &cp, cnode)?;
            clusters.push(read_cluster(ctx, cname, cnode, &cp)?);
        }
    }
    let gateways = match c.value("gateways") {
        None => Vec::new(),
        Some(g) => read_gateway_map(ctx, g, &c.path_of("gateways"), true)?,
    };
    let environment_variables = read_environment(&c, false)?;
    let dialects = read_dialects(&c)?;
    c.take("ports");
    c.take("hosts");
    c.finish()?;
    Ok(Deployment {
        name,
        metadata,
        clusters,
        gateways,
        environment_variables,
        dialects,
    })
}

fn read_cluster(ctx: &Ctx, name: &str, node: &Node, path: &str) -> R<DeploymentCluster> {
    let c = MapCursor::new(ctx, node, path)?;
    let metadata = read_metadata(&c)?;
    let mut services = Vec::new();
    if let Some(n) = c.value("services") {
        let p = c.path_of("services");
        let Value::List(items) = &n.value else {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &p,
                n,
                format!("expected a list of services, found {}", describe(n)),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            services.push(read_service(ctx, item, &index(&p, i))?);
        }
    }
    let gateways = match c.value("gateways") {
        None => Vec::new(),
        Some(g) => read_gateway_map(ctx, g, &c.path_of("gateways"), false)?,
    };
    let health_checks = read_health_checks(&c)?;
    let network = c.text("network")?;
    let sla = match c.value("sla") {
        None => None,
        Some(s) => Some(read_sla_ref(ctx, s, &c.path_of("sla"))?),
    };
    let dialects = read_dialects(&c)?;
    c.finish()?;
    Ok(DeploymentCluster {
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

fn read_time(c: &MapCursor, key: &str) -> R<DateTime<Utc>> {
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    read_parsed(c, key, parse, "an ISO-8601 date-time")
}

fn read_status(ctx: &Ctx, node: &Node, path: &str) -> R<ServiceStatus> {
    let c = MapCursor::new(ctx, node, path)?;
    let intention_node = c.required("intention")?;
    let intention_text = scalar_text(ctx, intention_node, &c.path_of("intention"))?;
    let intention = match intention_text.as_str() {
        "Deployment" => Intention::Deployment,
        "Undeployment" => Intention::Undeployment,
        other => {
            return Err(ctx.err_at(
                ErrorCode::UndefinedStateIntentionError,
                &c.path_of("intention"),
                intention_node,
                format!("'{other}' is not an intention: use Deployment or Undeployment"),
            ))
        }
    };
    let since = read_time(&c, "since")?;
    let p = MapCursor::new(ctx, c.required("phase")?, &c.path_of("phase"))?;
    let phase_node = p.required("name")?;
    let phase_text = scalar_text(ctx, phase_node, &p.path_of("name"))?;
    let notification = p.text("notification")?;
    let phase = match phase_text.as_str() {
        "Initiated" => Phase::Initiated,
        "Updating" => Phase::Updating,
        "Done" => Phase::Done,
        "Failed" => Phase::Failed(notification.unwrap_or_default()),
        other => {
            return Err(ctx.err_at(
                ErrorCode::UndefinedStateStepError,
                &p.path_of("name"),
                phase_node,
                format!("'{other}' is not a phase: use Initiated, Updating, Done or Failed"),
            ))
        }
    };
    let phase_since = read_time(&p, "since")?;
    p.finish()?;
    c.finish()?;
    Ok(ServiceStatus {
        intention,
        since,
        phase,
        phase_since,
    })
}

fn read_u32(c: &MapCursor, key: &str) -> R<u32> {
    Ok(read_optional_parsed(c, key, whole_number, "a count")?.unwrap_or(0))
}

fn read_instance(ctx: &Ctx, node: &Node, path: &str) -> R<Instance> {
    let c = MapCursor::new(ctx, node, path)?;
    let name = c.required_text("name")?;
    let host = c.required_text("host")?;
    let mut ports = IndexMap::new();
    if let Some(pn) = c.value("ports") {
        let pp = c.path_of("ports");
        let Value::Map(entries) = &pn.value else {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &pp,
                pn,
                "expected a map of port name: number",
            ));
        };
        for (k, v) in entries {
            let t = scalar_text(ctx, v, &join(&pp, k))?;
            let port: u16 = t.trim().parse().map_err(|_| {
                ctx.err_at(
                    ErrorCode::InvalidValueError,
                    &join(&pp, k),
                    v,
                    format!("'{t}' is not a port number"),
                )
            })?;
            ports.insert(k.clone(), port);
        }
    }
    let deployed = match c.value("deployed") {
        None => false,
        Some(n) => matches!(n.value, Value::Bool(true)),
    };
    c.finish()?;
    Ok(Instance {
        name,
        host,
        ports,
        deployed,
    })
}

fn read_interpolated_environment(ctx: &Ctx, c: &MapCursor) -> R<Vec<EnvironmentVariable>> {
    let Some(node) = c.value("environment_variables") else {
        return Ok(Vec::new());
    };
    let path = c.path_of("environment_variables");
    let Value::Map(entries) = &node.value else {
        return Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            &path,
            node,
            "expected a map of NAME: value",
        ));
    };
    let mut out = Vec::new();
    for (key, v) in entries {
        let p = join(&path, key);
        let (name, alias) = split_alias(key);
        let (value, interpolated) = match &v.value {
            Value::Map(_) => {
                let m = MapCursor::new(ctx, v, &p)?;
                let value = m.text("value")?;
                let interpolated = m.text("interpolated")?;
                m.finish()?;
                (value, interpolated)
            }
            Value::Null => (None, None),
            _ => (Some(scalar_text(ctx, v, &p)?), None),
        };
        out.push(EnvironmentVariable {
            name,
            alias,
            value,
            interpolated,
        });
    }
    Ok(out)
}

fn read_service(ctx: &Ctx, node: &Node, path: &str) -> R<DeploymentService> {
    let c = MapCursor::new(ctx, node, path)?;
    let status = read_status(ctx, c.required("status")?, &c.path_of("status"))?;
    let breed = read_breed(ctx, c.required("breed")?, &c.path_of("breed"))?;
    let environment_variables = read_interpolated_environment(ctx, &c)?;
    let scale = match c.value("scale") {
        None => None,
        Some(s) => {
            let sc = MapCursor::new(ctx, s, &c.path_of("scale"))?;
            let name = sc.text("name")?.unwrap_or_default();
            let scale = read_scale_body(&sc, name)?;
            sc.finish()?;
            Some(scale)
        }
    };
    let mut instances = Vec::new();
    if let Some(n) = c.value("instances") {
        let p = c.path_of("instances");
        let Value::List(items) = &n.value else {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &p,
                n,
                "expected a list of instances",
            ));
        };
        for (i, item) in items.iter().enumerate() {
            instances.push(read_instance(ctx, item, &index(&p, i))?);
        }
    }
    let arguments = read_arguments(&c)?;
    let health_checks = read_health_checks(&c)?;
    let network = c.text("network")?;
    let mut dependencies = IndexMap::new();
    if let Some(n) = c.value("dependencies") {
        let p = c.path_of("dependencies");
        let Value::Map(entries) = &n.value else {
            return Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &p,
                n,
                "expected a map of alias: cluster",
            ));
        };
        for (k, v) in entries {
            dependencies.insert(k.clone(), scalar_text(ctx, v, &join(&p, k))?);
        }
    }
    let dialects = read_dialects(&c)?;
    let health = match c.value("health") {
        None => None,
        Some(h) => {
            let hc = MapCursor::new(ctx, h, &c.path_of("health"))?;
            let health = Health {
                staged: read_u32(&hc, "staged")?,
                running: read_u32(&hc, "running")?,
                healthy: read_u32(&hc, "healthy")?,
                unhealthy: read_u32(&hc, "unhealthy")?,
            };
            hc.finish()?;
            Some(health)
        }
    };
    c.finish()?;
    Ok(DeploymentService {
        status,
        breed,
        environment_variables,
        scale,
        instances,
        arguments,
        health_checks,
        network,
        dependencies,
        dialects,
        health,
    })
}
