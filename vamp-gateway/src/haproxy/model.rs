//! The template model: the data the HAProxy template is rendered with, built and checked from gateways.
//!
//! Everything in it is safe to write anywhere a configuration word may stand: identifiers are hashes, values
//! are already quoted and escaped, raw expressions are checked ([`super::escape`]). The only user text left as
//! written is in the fields documented as *comment only* (gateway names and route paths, free of control
//! characters), which the bundled template writes after `#`. A replacement template that writes the model's
//! fields where the bundled one does cannot reintroduce an injection.
//!
//! The HAProxy structure (one hop: client → gateway frontend → route backend → instance) and its reasons are in
//! `docs/gateway.md`; the model mirrors it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha1::{Digest, Sha1};
use vamp_core::gateway::render_order;
use vamp_core::model::{Gateway, GatewayRoute, Protocol, Ref, RouteTarget, Sticky};
use vamp_core::{Error, Result};

use super::acl::{compile_condition, Acl};
use super::escape::{self, Site};
use super::HaproxyOptions;

/// Where the agent writes map files; the configuration reads them from `$VAMP_MAPS_DIR`, with this default.
pub const DEFAULT_MAPS_DIR: &str = "/var/lib/vamp-gateway-agent/maps";
/// The virtual-hosts map file.
pub const VIRTUAL_HOSTS_MAP: &str = "virtual_hosts.map";
/// The JSON access-log format of HTTP frontends (one object per request; see `docs/gateway.md`). `Tu` is the
/// time from the request's headers to the log line in microseconds (from [`HTTP_START_RULE`]); a string, `-`
/// when the start was not recorded.
pub const HTTP_LOG_FORMAT: &str = r#"{"ci":"%ci","cp":%cp,"t":"%tr","ft":"%f","b":"%b","s":"%s","Tq":%TR,"Tw":%Tw,"Tc":%Tc,"Tr":%Tr,"Tt":%Ta,"Tu":"%[date(0,us),sub(txn.vamp_t0)]","ST":%ST,"B":%B,"tsc":"%tsc","ac":%ac,"fc":%fc,"bc":%bc,"sc":%sc,"rc":%rc,"sq":%sq,"bq":%bq,"r":%{+Q,+E}r}"#;
/// The first rule of every HTTP frontend: the request's start in microseconds, for `Tu` in the log (HAProxy's
/// own timers are whole milliseconds).
pub const HTTP_START_RULE: &str = "http-request set-var(txn.vamp_t0) date(0,us)";
/// The JSON access-log format of TCP frontends. `%t` (accept date) stands where HTTP has `%tr`, which HAProxy
/// reserves for HTTP mode.
pub const TCP_LOG_FORMAT: &str = r#"{"ci":"%ci","cp":%cp,"t":"%t","ft":"%f","b":"%b","s":"%s","Tw":%Tw,"Tc":%Tc,"Tt":%Tt,"B":%B,"ts":"%ts","ac":%ac,"fc":%fc,"bc":%bc,"sc":%sc,"rc":%rc,"sq":%sq,"bq":%bq}"#;
/// Route backends come in groups of this many slots, so a route added at the end usually fills a free slot
/// (no reload).
pub const SLOT_GROUP: usize = 8;

/// The root of the template model.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateModel {
    /// `global maxconn`.
    pub maxconn: u32,
    /// The maps directory as a configuration string body: `${VAMP_MAPS_DIR-/var/lib/vamp-gateway-agent/maps}`;
    /// written inside double quotes, followed by `/` and a map file name.
    pub maps_dir: String,
    /// The HTTP log format, as one double-quoted configuration word.
    pub http_log_format: String,
    /// The first rule of every HTTP frontend ([`HTTP_START_RULE`]): records the request's start for `Tu`.
    pub http_start_rule: String,
    /// The TCP log format, as one double-quoted configuration word.
    pub tcp_log_format: String,
    /// The gateways, in render order (fewer name segments first, then by name).
    pub gateways: Vec<GatewayModel>,
    /// Whether any gateway has virtual hosts (then the `virtual_hosts` frontend is written).
    pub has_virtual_hosts: bool,
    /// The virtual-hosts map file name.
    pub virtual_hosts_map: String,
}

/// One gateway: a frontend, its route slot backends, a no-route backend, and a virtual-host backend.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayModel {
    /// *Comment only*: the gateway's name.
    pub name: String,
    /// The frontend name, `g_<lookup>`; route backends are `<id>_r<slot>`.
    pub id: String,
    /// The gateway's lookup name (hex), also the dynamic-cookie key.
    pub lookup: String,
    /// The port it listens on.
    pub port: u16,
    /// `http` or `tcp`.
    pub mode: &'static str,
    /// Whether the mode is HTTP.
    pub http: bool,
    /// Whether a cookie keeps clients on their route (`sticky: route` or `instance`).
    pub sticky: bool,
    /// The route cookie's name, `vamp_<first 12 of lookup>`.
    pub cookie: String,
    /// Whether a cookie also keeps clients on their instance (`sticky: instance`).
    pub sticky_instance: bool,
    /// The instance cookie's name, `vamp_i_<first 12 of lookup>`.
    pub instance_cookie: String,
    /// The weights map file name, `<lookup>.weights`.
    pub weights_map: String,
    /// The routes map file name, `<lookup>.routes` (written when sticky): the routes a cookie may pin a client to,
    /// i.e. those that take traffic by weight (above 0%) or by a condition. A route at 0% without a condition
    /// takes no one, pinned clients included, so a canary rolled back to 0% loses its sticky users at once.
    pub routes_map: String,
    /// The ACLs of all route conditions, each once.
    pub acls: Vec<Acl>,
    /// The conditional routes, in route order.
    pub conditions: Vec<ConditionModel>,
    /// Every route slot (routes first, then free slots).
    pub routes: Vec<RouteModel>,
    /// The backend requests no route takes go to: no servers, so HAProxy answers 503.
    pub none_backend: String,
    /// The backend the `virtual_hosts` frontend sends this gateway's hosts to, when it has virtual hosts.
    pub vhost_backend: Option<String>,
}

/// A route's condition.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionModel {
    /// The route backend it selects.
    pub backend: String,
    /// OR terms, each space-separated ACL names (`!name` negated) that must all hold; an empty term always holds.
    pub terms: Vec<String>,
    /// Condition strength, 1–100 (conditions at 0% are left out).
    pub strength: u8,
    /// Whether strength is below 100, so a random draw decides.
    pub random: bool,
}

/// A route slot backend.
#[derive(Debug, Clone, Serialize)]
pub struct RouteModel {
    /// The backend name, `g_<lookup>_r<slot>`.
    pub backend: String,
    /// The slot: the route's index in the gateway's route list.
    pub slot: usize,
    /// *Comment only*: the route path; `None` for a free slot.
    pub path: Option<String>,
    /// The balance algorithm (whitelisted).
    pub balance: String,
    /// Path rewrites.
    pub rewrites: Vec<RewriteModel>,
    /// The servers.
    pub servers: Vec<ServerModel>,
}

/// `http-request set-path <path> if <condition>`.
#[derive(Debug, Clone, Serialize)]
pub struct RewriteModel {
    /// The new path as one double-quoted word (HAProxy `%[…]` expressions kept).
    pub path: String,
    /// The raw HAProxy condition, checked.
    pub condition: String,
}

/// A `server` line.
#[derive(Debug, Clone, Serialize)]
pub struct ServerModel {
    /// `t_<first 16 hex of SHA-1 of the target name>`, suffixed when two targets of a route share it.
    pub name: String,
    /// `host:port` (`[v6]:port`).
    pub address: String,
    /// The server weight.
    pub weight: u32,
}

/// One virtual host entry, for the virtual-hosts map.
#[derive(Debug, Clone)]
pub struct VirtualHost {
    /// The lower-cased host name.
    pub host: String,
    /// The gateway's vhost backend.
    pub backend: String,
}

/// The model plus what goes into the envelope trailer.
#[derive(Debug, Clone)]
pub struct Built {
    /// The template model.
    pub model: TemplateModel,
    /// Map files by name.
    pub maps: BTreeMap<String, String>,
    /// Gateway names by frontend.
    pub gateways: BTreeMap<String, String>,
    /// `(gateway, route path)` by route backend.
    pub routes: BTreeMap<String, (String, String)>,
}

/// The first 16 hex digits of the SHA-1 of `text`.
pub(crate) fn short_hash(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for b in Sha1::digest(text.as_bytes()).iter().take(8) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

fn prefix(text: &str, n: usize) -> &str {
    text.get(..n).unwrap_or(text)
}

/// Builds the model for `gateways` (any order). Fails with `Invalid`, naming gateway, route and field, on
/// duplicates, unassigned or shared ports, unresolved references, features a TCP gateway cannot have, and any
/// text that cannot be written safely.
pub fn build(gateways: &[Gateway], options: &HaproxyOptions) -> Result<Built> {
    let mut ordered: Vec<&Gateway> = gateways.iter().collect();
    ordered.sort_by(|a, b| render_order(a, b));
    let mut names = BTreeSet::new();
    if let Some(duplicate) = ordered.iter().find(|g| !names.insert(g.name.as_str())) {
        return Err(Error::invalid(format!(
            "The gateway '{}' is given twice; render each gateway once.",
            duplicate.name.escape_debug()
        )));
    }
    let mut ports: BTreeMap<u16, &str> = BTreeMap::new();
    for g in &ordered {
        if let Some(other) = ports.insert(g.port.number, &g.name) {
            return Err(Error::invalid(format!(
                "Gateways '{}' and '{}' both use port {}; each gateway needs its own port.",
                other.escape_debug(),
                g.name.escape_debug(),
                g.port.number
            )));
        }
    }
    let gateway_ports: BTreeMap<&str, u16> =
        ordered.iter().map(|g| (g.name.as_str(), g.port.number)).collect();
    let mut built = Built {
        model: TemplateModel {
            maxconn: options.maxconn,
            maps_dir: format!("${{VAMP_MAPS_DIR-{DEFAULT_MAPS_DIR}}}"),
            http_log_format: log_format(HTTP_LOG_FORMAT),
            http_start_rule: HTTP_START_RULE.to_string(),
            tcp_log_format: log_format(TCP_LOG_FORMAT),
            gateways: Vec::with_capacity(ordered.len()),
            has_virtual_hosts: false,
            virtual_hosts_map: VIRTUAL_HOSTS_MAP.to_string(),
        },
        maps: BTreeMap::new(),
        gateways: BTreeMap::new(),
        routes: BTreeMap::new(),
    };
    let mut virtual_hosts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for g in ordered {
        let model = gateway(g, options, &gateway_ports, &mut built)?;
        if let Some(backend) = &model.vhost_backend {
            for vhost in &g.virtual_hosts {
                let site = Site {
                    gateway: &g.name,
                    route: None,
                    field: "virtual_hosts",
                };
                let host = escape::host(site, vhost.trim())?.to_ascii_lowercase();
                if let Some((other, _)) = virtual_hosts.get(&host) {
                    if *other != g.name {
                        return Err(site.invalid(format!(
                            "the virtual host '{host}' is also a virtual host of gateway '{}'.",
                            other.escape_debug()
                        )));
                    }
                }
                virtual_hosts.insert(host, (g.name.clone(), backend.clone()));
            }
        }
        built.model.gateways.push(model);
    }
    if !virtual_hosts.is_empty() {
        built.model.has_virtual_hosts = true;
        let map: String = virtual_hosts
            .iter()
            .map(|(host, (_, backend))| format!("{host} {backend}\n"))
            .collect();
        built.maps.insert(VIRTUAL_HOSTS_MAP.to_string(), map);
    }
    Ok(built)
}

fn log_format(format: &str) -> String {
    format!(
        "\"{}\"",
        format
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    )
}

fn gateway(
    g: &Gateway,
    options: &HaproxyOptions,
    gateway_ports: &BTreeMap<&str, u16>,
    built: &mut Built,
) -> Result<GatewayModel> {
    let site = |field| Site {
        gateway: &g.name,
        route: None,
        field,
    };
    escape::single_line(site("name"), &g.name)?;
    if g.name.is_empty() {
        return Err(Error::invalid("A gateway without a name cannot be rendered."));
    }
    if g.port.number == 0 {
        return Err(site("port").invalid("the gateway has no port assigned yet."));
    }
    let http = g.port.protocol == Protocol::Http;
    if !http {
        if g.sticky.is_some() {
            return Err(site("sticky").invalid("a TCP gateway cannot be sticky (cookies are HTTP)."));
        }
        if !g.virtual_hosts.is_empty() {
            return Err(
                site("virtual_hosts").invalid("a TCP gateway cannot have virtual hosts (they are HTTP).")
            );
        }
    }
    let lookup = g.lookup_name();
    let id = format!("g_{lookup}");
    let short = prefix(&lookup, 12);
    let mut model = GatewayModel {
        name: g.name.clone(),
        id: id.clone(),
        lookup: lookup.clone(),
        port: g.port.number,
        mode: if http { "http" } else { "tcp" },
        http,
        sticky: g.sticky.is_some(),
        cookie: format!("vamp_{short}"),
        sticky_instance: g.sticky == Some(Sticky::Instance),
        instance_cookie: format!("vamp_i_{short}"),
        weights_map: format!("{lookup}.weights"),
        routes_map: format!("{lookup}.routes"),
        acls: Vec::new(),
        conditions: Vec::new(),
        routes: Vec::new(),
        none_backend: format!("{id}_none"),
        vhost_backend: (!g.virtual_hosts.is_empty()).then(|| format!("{id}_vhost")),
    };
    let mut acl_names = BTreeSet::new();
    let mut weights: Vec<(String, u32)> = Vec::new();
    for (slot, route) in g.routes.iter().enumerate() {
        let backend = format!("{id}_r{slot}");
        let (route_model, weight) = route_slot(
            g,
            route,
            slot,
            &backend,
            options,
            gateway_ports,
            &mut model,
            &mut acl_names,
        )?;
        weights.push((backend.clone(), weight));
        built
            .routes
            .insert(backend, (g.name.clone(), route.path.0.clone()));
        model.routes.push(route_model);
    }
    let capacity = SLOT_GROUP * (g.routes.len() + 1).div_ceil(SLOT_GROUP);
    for slot in g.routes.len()..capacity {
        model.routes.push(RouteModel {
            backend: format!("{id}_r{slot}"),
            slot,
            path: None,
            balance: "roundrobin".to_string(),
            rewrites: Vec::new(),
            servers: Vec::new(),
        });
    }
    built
        .maps
        .insert(model.weights_map.clone(), weights_map(&weights));
    if model.sticky {
        let pinnable = |backend: &str| {
            weights.iter().any(|(b, w)| b == backend && *w > 0)
                || model.conditions.iter().any(|c| c.backend == backend)
        };
        let routes: String = model
            .routes
            .iter()
            .filter(|r| r.path.is_some() && pinnable(&r.backend))
            .map(|r| format!("{0} {0}\n", r.backend))
            .collect();
        built.maps.insert(model.routes_map.clone(), routes);
    }
    built.gateways.insert(id, g.name.clone());
    Ok(model)
}

/// `lo:hi backend` lines covering 0..99 in route order, each route's share proportional to its weight (exactly
/// the weight when weights total 100). Routes with weight 0 get nothing; no weight at all gives an empty map.
fn weights_map(weights: &[(String, u32)]) -> String {
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut cumulative = 0;
    let mut low = 0;
    for (backend, weight) in weights {
        cumulative += weight;
        let high = cumulative * 100 / total;
        if *weight > 0 && high > low {
            out.push_str(&format!("{low}:{} {backend}\n", high - 1));
        }
        low = low.max(high);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn route_slot(
    g: &Gateway,
    route: &GatewayRoute,
    slot: usize,
    backend: &str,
    options: &HaproxyOptions,
    gateway_ports: &BTreeMap<&str, u16>,
    model: &mut GatewayModel,
    acl_names: &mut BTreeSet<String>,
) -> Result<(RouteModel, u32)> {
    let path = route.path.0.as_str();
    let site = |field| Site {
        gateway: &g.name,
        route: Some(path),
        field,
    };
    escape::single_line(site("path"), path)?;
    let Some(routing) = route.route.inline() else {
        return Err(site("route").invalid(format!(
            "the route refers to the stored route '{}'; resolve references before rendering.",
            route.route.reference().unwrap_or_default().escape_debug()
        )));
    };
    let balance = match routing.balance.as_deref().map(str::trim) {
        None | Some("") | Some("default") => "roundrobin".to_string(),
        Some(b) => escape::balance(site("balance"), b)?,
    };
    if let Some(condition) = &routing.condition {
        let Ref::Inline(condition) = condition else {
            return Err(site("condition").invalid(format!(
                "the condition refers to the stored condition '{}'; resolve references before rendering.",
                condition.reference().unwrap_or_default().escape_debug()
            )));
        };
        let compiled = compile_condition(site("condition"), &condition.definition, options.allow_raw_acls)?;
        if let Some(compiled) = compiled {
            if !model.http {
                return Err(site("condition")
                    .invalid("a TCP gateway cannot route on conditions (they test HTTP requests)."));
            }
            let strength = routing.condition_strength.map_or(100, |p| p.0.min(100));
            if strength > 0 && !compiled.terms.is_empty() {
                for acl in compiled.acls {
                    if acl_names.insert(acl.name.clone()) {
                        model.acls.push(acl);
                    }
                }
                model.conditions.push(ConditionModel {
                    backend: backend.to_string(),
                    terms: compiled.terms,
                    strength,
                    random: strength < 100,
                });
            }
        }
    }
    let mut rewrites = Vec::with_capacity(routing.rewrites.len());
    for rewrite in &routing.rewrites {
        let Ref::Inline(rewrite) = rewrite else {
            return Err(site("rewrites").invalid(format!(
                "a rewrite refers to the stored rewrite '{}'; resolve references before rendering.",
                rewrite.reference().unwrap_or_default().escape_debug()
            )));
        };
        if !model.http {
            return Err(site("rewrites").invalid("a TCP gateway cannot rewrite paths (they are HTTP)."));
        }
        if !options.allow_raw_acls {
            return Err(site("rewrites").invalid(
                "rewrite conditions are raw HAProxy conditions, which are switched off (allow_raw_acls = false).",
            ));
        }
        let new_path = rewrite.path.trim();
        if new_path.is_empty() {
            return Err(site("rewrites").invalid("a rewrite has an empty path."));
        }
        rewrites.push(RewriteModel {
            path: escape::quoted(site("rewrites"), new_path)?,
            condition: escape::raw(site("rewrites"), &rewrite.condition)?,
        });
    }
    let servers = servers(g, route, gateway_ports, site("targets"))?;
    Ok((
        RouteModel {
            backend: backend.to_string(),
            slot,
            path: Some(path.to_string()),
            balance,
            rewrites,
            servers,
        },
        routing.weight.map_or(0, |w| u32::from(w.0.min(100))),
    ))
}

fn servers(
    g: &Gateway,
    route: &GatewayRoute,
    gateway_ports: &BTreeMap<&str, u16>,
    site: Site<'_>,
) -> Result<Vec<ServerModel>> {
    let mut targets: Vec<(String, String)> = Vec::with_capacity(route.targets.len().max(1));
    for target in &route.targets {
        targets.push(match target {
            RouteTarget::Internal { name, host, port } => {
                let host = host.as_deref().unwrap_or("127.0.0.1");
                (name.clone(), escape::address(site, &format!("{host}:{port}"))?)
            }
            RouteTarget::External { url } => (url.clone(), escape::address(site, url)?),
        });
    }
    if targets.is_empty() {
        if let Some(address) = route.path.external() {
            targets.push((route.path.0.clone(), escape::address(site, address)?));
        } else if let Some(port) = gateway_ports.get(route.path.0.as_str()) {
            if route.path.0 == g.name {
                return Err(site.invalid("the route sends traffic to its own gateway, which would loop."));
            }
            targets.push((route.path.0.clone(), format!("127.0.0.1:{port}")));
        }
    }
    let mut names = BTreeSet::new();
    Ok(targets
        .into_iter()
        .map(|(target, address)| {
            let base = format!("t_{}", short_hash(&target));
            let mut name = base.clone();
            let mut n = 1;
            while !names.insert(name.clone()) {
                n += 1;
                name = format!("{base}_{n}");
            }
            ServerModel {
                name,
                address,
                weight: 100,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(list: &[u32]) -> String {
        let weights: Vec<(String, u32)> = list
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("r{i}"), *w))
            .collect();
        weights_map(&weights)
    }

    #[test]
    fn weights_cover_zero_to_ninety_nine_in_route_order() {
        assert_eq!(w(&[90, 10]), "0:89 r0\n90:99 r1\n");
        assert_eq!(w(&[0, 100]), "0:99 r1\n");
        assert_eq!(w(&[50, 0, 50]), "0:49 r0\n50:99 r2\n");
        assert_eq!(w(&[0, 0]), "");
    }

    #[test]
    fn weights_not_totalling_a_hundred_are_proportional() {
        assert_eq!(w(&[30, 30]), "0:49 r0\n50:99 r1\n");
        assert_eq!(w(&[1, 1, 1]), "0:32 r0\n33:65 r1\n66:99 r2\n");
    }

    #[test]
    fn a_sticky_cookie_pins_only_to_routes_that_take_traffic() {
        use crate::haproxy::samples::{conditional, gateway, route};
        let mut g = gateway(
            "web",
            9050,
            Protocol::Http,
            vec![
                route("a/web", 100, &[("a", None, 1)]),
                route("b/web", 0, &[("b", None, 2)]),
                conditional(route("c/web", 0, &[("c", None, 3)]), "has cookie beta", 100),
            ],
        );
        g.sticky = Some(Sticky::Route);
        let built = build(&[g], &HaproxyOptions::default()).unwrap();
        let gw = &built.model.gateways[0];
        let routes = &built.maps[&gw.routes_map];
        let pinned: Vec<&str> = routes.lines().map(|l| l.split(' ').next().unwrap()).collect();
        let backend = |slot: usize| gw.routes[slot].backend.as_str();
        assert_eq!(pinned, [backend(0), backend(2)], "{routes}");
    }

    #[test]
    fn log_formats_are_one_quoted_word() {
        let f = log_format(HTTP_LOG_FORMAT);
        assert!(f.starts_with("\"{\\\"ci\\\":") && f.ends_with("}\""), "{f}");
        assert!(!f.contains(' '));
    }
}
