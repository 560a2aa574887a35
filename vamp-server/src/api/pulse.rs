//! Health and metrics of gateways, routes, deployments, clusters and services (vamp-behaviour.md §3.2, the
//! original's `HealthController` and `MetricsController`), computed live from the metrics source on every
//! request — the original returned the last `health`/`metrics` event within the window, so these are fresher by
//! up to one publishing period.
//!
//! - `GET /api/v1/health/gateways/{g}[/routes/{r}]` and `/health/deployments/{d}[/clusters/{c}[/services/{s}]]`:
//!   the original's 0/1 health (0 with any 5xx in the health window).
//! - `GET /api/v1/metrics/gateways/{g}[/routes/{r}]/{metric}`, `/metrics/deployments/{d}/clusters/{c}[/services/
//!   {s}]/ports/{p}/{metric}` (the original's: gateway `d/c/p`, its route of service `s`) and
//!   `/metrics/deployments/{d}[/clusters/{c}[/services/{s}]]/{metric}` (a whole deployment, cluster or
//!   service): one figure — `rate`, `responseTime` (the original's two), `requests`, `p50`, `p95`, `p99`,
//!   `errors`, `errorRate`, `health`, `score` — as a number, or `figures` for the whole object.
//!
//! `?window=<seconds>` (also `30s`, `5m`, `1h`) replaces both windows; the default is `pulse.health-window-s`
//! and `pulse.metrics-window-s`. Gateway names and route paths contain `/`: a path is read as
//! `<gateway>[/routes/<route>]` trying the whole path as a gateway name first, then every `/routes/` from left
//! to right, and the first reading naming an existing gateway (and route) wins. Unknown names are 404 with a
//! message saying what is missing; a bad window is 400.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use vamp_core::model::Gateway;
use vamp_core::ops::health::Figures;
use vamp_core::Error;

use super::error::ApiError;
use super::negotiation::{render, Format};
use super::query::Query;
use super::state::ApiState;
use crate::pulse::Windows;

/// The longest `?window=`: a week.
const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// The metric of the whole figures object.
const FIGURES: &str = "figures";

/// Reads `?window=`: a positive number of seconds, optionally with a unit `s`, `m` or `h`, at most a week;
/// `None` when absent.
pub fn parse_window(text: &str) -> Result<Duration, ApiError> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let factor = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => 0.0,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * factor)
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_WINDOW.as_secs_f64())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "The window '{text}' is not a number of seconds between 0 and {} (e.g. 30, 30s, 5m, 1h).",
                MAX_WINDOW.as_secs()
            ))
        })
}

fn windows(state: &ApiState, uri: &Uri) -> Result<Windows, ApiError> {
    match Query::of(uri).first("window") {
        Some(text) => Ok(Windows::both(parse_window(text)?)),
        None => Ok(state.vamp.settings().pulse.windows()),
    }
}

/// Every reading of `path` as `<gateway>[/routes/<route>]`: the whole path as a gateway name first, then a
/// split at each `/routes/`, left to right. Empty gateway names and routes are left out.
pub fn gateway_readings(path: &str) -> Vec<(&str, Option<&str>)> {
    let path = path.trim_matches('/');
    let mut out = Vec::new();
    if !path.is_empty() {
        out.push((path, None));
    }
    const SEPARATOR: &str = "/routes/";
    for (i, _) in path.match_indices(SEPARATOR) {
        let (gateway, route) = (&path[..i], &path[i + SEPARATOR.len()..]);
        if !gateway.is_empty() && !route.is_empty() {
            out.push((gateway, Some(route)));
        }
    }
    out
}

/// The gateway and route `path` names among `gateways` (see [`gateway_readings`]); 404 naming the missing
/// gateway or route otherwise.
pub fn resolve_gateway_path<'p>(
    path: &'p str,
    gateways: &[Gateway],
) -> Result<(&'p str, Option<&'p str>), ApiError> {
    let readings = gateway_readings(path);
    let known = |name: &str| gateways.iter().find(|g| g.name == name);
    for (gateway, route) in &readings {
        if let Some(g) = known(gateway) {
            if route.is_none_or(|r| g.routes.iter().any(|gr| gr.path.0 == r)) {
                return Ok((gateway, *route));
            }
        }
    }
    if let Some((gateway, Some(route))) = readings.iter().find(|(g, r)| r.is_some() && known(g).is_some()) {
        return Err(ApiError::not_found(format!(
            "The gateway '{gateway}' has no route '{route}'."
        )));
    }
    match readings.last() {
        Some((gateway, _)) => Err(ApiError::not_found(format!("There is no gateway '{gateway}'."))),
        None => Err(ApiError::not_found(
            "Give the gateway: /{gateway}[/routes/{route}].",
        )),
    }
}

fn metric_json(figures: &Figures, metric: &str) -> Result<serde_json::Value, ApiError> {
    if metric == FIGURES {
        return serde_json::to_value(figures)
            .map_err(|e| ApiError::from(Error::backend(format!("cannot write JSON: {e}"))));
    }
    figures
        .metric(metric)
        .map(serde_json::Value::from)
        .ok_or_else(|| unknown_metric(metric))
}

fn unknown_metric(metric: &str) -> ApiError {
    ApiError::not_found(format!(
        "There is no metric '{metric}'; use one of {}, or {FIGURES}.",
        Figures::METRICS.join(", ")
    ))
}

fn check_metric(metric: &str) -> Result<(), ApiError> {
    if metric == FIGURES || Figures::default().metric(metric).is_some() {
        Ok(())
    } else {
        Err(unknown_metric(metric))
    }
}

/// Splits `<rest>/<metric>`; 404 with `usage` when there is no metric.
fn split_metric<'p>(path: &'p str, usage: &str) -> Result<(&'p str, &'p str), ApiError> {
    match path.trim_matches('/').rsplit_once('/') {
        Some((rest, metric)) if !rest.is_empty() && !metric.is_empty() => {
            check_metric(metric)?;
            Ok((rest, metric))
        }
        _ => Err(ApiError::not_found(usage.to_string())),
    }
}

async fn gateway_figures(state: &ApiState, path: &str, windows: Windows) -> Result<Figures, ApiError> {
    let gateways = state.vamp.all_gateways().await?;
    let (gateway, route) = resolve_gateway_path(path, &gateways)?;
    Ok(state
        .vamp
        .gateway_figures_in(&gateways, gateway, route, windows)
        .await?)
}

/// What a deployment path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentTarget {
    /// A deployment, cluster or service as a whole.
    Level {
        /// The deployment.
        deployment: String,
        /// The cluster.
        cluster: Option<String>,
        /// The service (breed name).
        service: Option<String>,
    },
    /// The internal gateway `d/c/p`, or its route of service `s` (the original's `…/ports/{p}` paths).
    Port {
        /// The gateway name `d/c/p`.
        gateway: String,
        /// The deployment, cluster and service (breed name) of the route.
        route: Option<(String, String, String)>,
    },
}

const DEPLOYMENT_HEALTH_USAGE: &str =
    "Use /health/deployments/{deployment}[/clusters/{cluster}[/services/{service}]].";
const DEPLOYMENT_METRIC_USAGE: &str = "Use /metrics/deployments/{deployment}[/clusters/{cluster}[/services/{service}]][/ports/{port}]/{metric}.";

/// Reads `d[/clusters/c[/services/s]][/ports/p]` (ports only below a cluster); 404 with `usage` otherwise.
pub fn deployment_target(path: &str, usage: &str) -> Result<DeploymentTarget, ApiError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let s = |x: &&str| x.to_string();
    let target = match parts.as_slice() {
        [d] if !d.is_empty() => DeploymentTarget::Level {
            deployment: s(d),
            cluster: None,
            service: None,
        },
        [d, "clusters", c] => DeploymentTarget::Level {
            deployment: s(d),
            cluster: Some(s(c)),
            service: None,
        },
        [d, "clusters", c, "services", svc] => DeploymentTarget::Level {
            deployment: s(d),
            cluster: Some(s(c)),
            service: Some(s(svc)),
        },
        [d, "clusters", c, "ports", p] => DeploymentTarget::Port {
            gateway: format!("{d}/{c}/{p}"),
            route: None,
        },
        [d, "clusters", c, "services", svc, "ports", p] => DeploymentTarget::Port {
            gateway: format!("{d}/{c}/{p}"),
            route: Some((s(d), s(c), s(svc))),
        },
        [_, "clusters", _, "services", _, "instances", ..] => {
            return Err(ApiError::not_found(
                "Instances have no health or metrics of their own; ask for their service.",
            ))
        }
        _ => return Err(ApiError::not_found(usage.to_string())),
    };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::not_found(usage.to_string()));
    }
    Ok(target)
}

async fn deployment_figures(
    state: &ApiState,
    target: DeploymentTarget,
    windows: Windows,
) -> Result<Figures, ApiError> {
    match target {
        DeploymentTarget::Level {
            deployment,
            cluster,
            service,
        } => Ok(state
            .vamp
            .deployment_figures(&deployment, cluster.as_deref(), service.as_deref(), windows)
            .await?),
        DeploymentTarget::Port { gateway, route } => {
            let gateways = state.vamp.all_gateways().await?;
            let found = gateways
                .iter()
                .find(|g| g.name == gateway)
                .ok_or_else(|| ApiError::not_found(format!("There is no gateway '{gateway}'.")))?;
            let route = match route {
                None => None,
                Some((d, c, service)) => {
                    let path = found
                        .routes
                        .iter()
                        .map(|r| r.path.0.as_str())
                        .find(|p| {
                            let seg: Vec<&str> = p.split('/').collect();
                            matches!(seg.as_slice(), [rd, rc, rs, _] if *rd == d && *rc == c && *rs == service)
                                || *p == service
                        })
                        .ok_or_else(|| {
                            ApiError::not_found(format!(
                                "The gateway '{gateway}' has no route of service '{service}'."
                            ))
                        })?;
                    Some(path.to_string())
                }
            };
            Ok(state
                .vamp
                .gateway_figures_in(&gateways, &gateway, route.as_deref(), windows)
                .await?)
        }
    }
}

fn respond(headers: &HeaderMap, value: &serde_json::Value) -> Result<Response, ApiError> {
    render(StatusCode::OK, Format::from_accept(headers)?, value)
}

/// `GET /api/v1/health/gateways/{gateway}[/routes/{route}]`: 0 with any 5xx in the health window, else 1.
pub async fn gateway_health(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Format::from_accept(&headers)?;
    let windows = windows(&state, &uri)?;
    let figures = gateway_figures(&state, &path, windows).await?;
    respond(&headers, &figures.health.into())
}

/// `GET /api/v1/health/deployments/{deployment}[/clusters/{cluster}[/services/{service}]]`: a service's health
/// is its route's; a cluster's the product of its services'; a deployment's the product of its clusters'.
pub async fn deployment_health(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Format::from_accept(&headers)?;
    let target = deployment_target(&path, DEPLOYMENT_HEALTH_USAGE)?;
    if matches!(target, DeploymentTarget::Port { .. }) {
        return Err(ApiError::not_found(DEPLOYMENT_HEALTH_USAGE));
    }
    let windows = windows(&state, &uri)?;
    let figures = deployment_figures(&state, target, windows).await?;
    respond(&headers, &figures.health.into())
}

/// `GET /api/v1/metrics/gateways/{gateway}[/routes/{route}]/{metric}`.
pub async fn gateway_metric(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Format::from_accept(&headers)?;
    let (rest, metric) = split_metric(
        &path,
        "Give the gateway and the metric: /metrics/gateways/{gateway}[/routes/{route}]/{metric}.",
    )?;
    let windows = windows(&state, &uri)?;
    let figures = gateway_figures(&state, rest, windows).await?;
    respond(&headers, &metric_json(&figures, metric)?)
}

/// `GET /api/v1/metrics/deployments/{deployment}[/clusters/{cluster}[/services/{service}]][/ports/{port}]/
/// {metric}`.
pub async fn deployment_metric(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Format::from_accept(&headers)?;
    let (rest, metric) = split_metric(&path, DEPLOYMENT_METRIC_USAGE)?;
    let target = deployment_target(rest, DEPLOYMENT_METRIC_USAGE)?;
    let windows = windows(&state, &uri)?;
    let figures = deployment_figures(&state, target, windows).await?;
    respond(&headers, &metric_json(&figures, metric)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::model::{GatewayPort, GatewayRoute};

    fn gateway(name: &str, routes: &[&str]) -> Gateway {
        let mut g = Gateway::new(name, GatewayPort::default());
        g.routes = routes.iter().map(|r| GatewayRoute::new(*r)).collect();
        g
    }

    fn status(e: ApiError) -> StatusCode {
        e.status()
    }

    #[test]
    fn windows_are_seconds_with_optional_units() {
        assert_eq!(parse_window("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_window("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_window("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_window("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_window("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "0", "-3", "abc", "5d", "NaN", "inf", "1e12", "3 weeks"] {
            assert_eq!(
                status(parse_window(bad).unwrap_err()),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn gateway_paths_with_slashes_resolve_against_known_gateways() {
        let gateways = [
            gateway("shop", &["shop/frontend/web"]),
            gateway(
                "shop/frontend/web",
                &["shop/frontend/frontend:1.0/web", "[10.0.0.1:80]"],
            ),
            gateway("a/routes/b", &[]),
        ];
        assert_eq!(resolve_gateway_path("shop", &gateways).unwrap(), ("shop", None));
        assert_eq!(
            resolve_gateway_path("/shop/frontend/web/", &gateways).unwrap(),
            ("shop/frontend/web", None)
        );
        assert_eq!(
            resolve_gateway_path("shop/routes/shop/frontend/web", &gateways).unwrap(),
            ("shop", Some("shop/frontend/web"))
        );
        assert_eq!(
            resolve_gateway_path(
                "shop/frontend/web/routes/shop/frontend/frontend:1.0/web",
                &gateways
            )
            .unwrap(),
            ("shop/frontend/web", Some("shop/frontend/frontend:1.0/web"))
        );
        assert_eq!(
            resolve_gateway_path("shop/frontend/web/routes/[10.0.0.1:80]", &gateways).unwrap(),
            ("shop/frontend/web", Some("[10.0.0.1:80]"))
        );
        assert_eq!(
            resolve_gateway_path("a/routes/b", &gateways).unwrap(),
            ("a/routes/b", None)
        );
    }

    #[test]
    fn unknown_gateways_and_routes_are_404_naming_them() {
        let gateways = [gateway("shop", &["shop/frontend/web"])];
        let e = resolve_gateway_path("nope", &gateways).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let e = resolve_gateway_path("shop/routes/other", &gateways).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert!(format!("{e:?}").contains("has no route 'other'"), "{e:?}");
        let e = resolve_gateway_path("nope/routes/x", &gateways).unwrap_err();
        assert!(format!("{e:?}").contains("no gateway 'nope'"), "{e:?}");
        assert_eq!(
            resolve_gateway_path("/", &gateways).unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn metric_paths_end_in_a_known_metric() {
        assert_eq!(split_metric("gw/rate", "u").unwrap(), ("gw", "rate"));
        assert_eq!(
            split_metric("a/b/routes/c/figures/", "u").unwrap(),
            ("a/b/routes/c", "figures")
        );
        assert_eq!(
            split_metric("gw", "u").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            split_metric("gw/latency", "u").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn deployment_paths_name_a_level_or_a_port() {
        let level = |d: &str, c: Option<&str>, s: Option<&str>| DeploymentTarget::Level {
            deployment: d.into(),
            cluster: c.map(Into::into),
            service: s.map(Into::into),
        };
        assert_eq!(deployment_target("shop", "u").unwrap(), level("shop", None, None));
        assert_eq!(
            deployment_target("shop/clusters/frontend/services/frontend:1.0", "u").unwrap(),
            level("shop", Some("frontend"), Some("frontend:1.0"))
        );
        assert_eq!(
            deployment_target("shop/clusters/frontend/ports/web", "u").unwrap(),
            DeploymentTarget::Port {
                gateway: "shop/frontend/web".into(),
                route: None
            }
        );
        assert_eq!(
            deployment_target("shop/clusters/frontend/services/frontend:1.0/ports/web", "u").unwrap(),
            DeploymentTarget::Port {
                gateway: "shop/frontend/web".into(),
                route: Some(("shop".into(), "frontend".into(), "frontend:1.0".into()))
            }
        );
        for bad in [
            "",
            "shop/clusters",
            "shop/x/frontend",
            "shop/clusters//services/a",
            "shop/clusters/c/services/s/instances/i",
        ] {
            assert_eq!(
                deployment_target(bad, "u").unwrap_err().status(),
                StatusCode::NOT_FOUND,
                "{bad}"
            );
        }
    }
}
