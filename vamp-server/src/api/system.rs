//! The server's own resources: `/api/v1/health`, `/api/v1/info` (`/information`), `/api/v1/config`
//! (`/configuration`: the effective settings, tokens redacted) and `/api/v1/metrics` (Prometheus text, with the
//! pulse figures of every gateway and deployment). Gateway and deployment health and metrics are
//! [`super::pulse`]'s.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use vamp_core::model::Kind;
use vamp_core::store::Page;

use super::error::ApiError;
use super::negotiation::{plain, render, Format};
use super::query::Query;
use super::state::ApiState;
use crate::pulse::prometheus::escape_label;
use crate::settings::ServerSettings;

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::from(vamp_core::Error::backend(format!("cannot write JSON: {e}"))))
}

/// `GET /api/v1/health`: 200 when every component answers, 503 otherwise.
pub async fn health(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let health = state.vamp.health().await;
    let status = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    render(status, format, &to_json(&health)?)
}

/// `GET /api/v1/info`: version, uuid, running since, namespace and each component (`?on=<component>`,
/// repeatable, keeps only those); 500 when a component does not answer, as the original.
pub async fn info(State(state): State<ApiState>, uri: Uri, headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let mut info = state.vamp.info().await;
    let ok = info.ok();
    let on = Query::of(&uri).all("on");
    if !on.is_empty() {
        info.components.retain(|c| on.iter().any(|o| o == &c.name));
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    render(status, format, &to_json(&info)?)
}

fn settings_json(s: &ServerSettings) -> serde_json::Value {
    let sync = &s.synchronization;
    let gw = &s.gateways;
    let agent = &s.agent;
    let dep = &s.deployment;
    serde_json::json!({
        "namespace": s.namespace,
        "synchronization": {
            "period-ms": sync.period_ms,
            "busy-period-ms": sync.busy_period_ms,
            "deploy-timeout-s": sync.deploy_timeout_s,
            "undeploy-timeout-s": sync.undeploy_timeout_s,
            "checks": {
                "instances": sync.checks.instances,
                "cpu": sync.checks.cpu,
                "memory": sync.checks.memory,
                "health-checks": sync.checks.health_checks,
                "environment": sync.checks.environment,
            },
        },
        "gateways": {
            "port-range": gw.port_range.to_string(),
            "virtual-hosts": {
                "enabled": gw.virtual_hosts.enabled,
                "formats": {
                    "gateway": gw.virtual_hosts.formats.gateway,
                    "deployment-port": gw.virtual_hosts.formats.deployment_port,
                    "deployment-cluster-port": gw.virtual_hosts.formats.deployment_cluster_port,
                },
            },
            "host": gw.host,
            "bind": gw.bind,
            "vhost-bind": gw.vhost_bind,
        },
        "agent": {
            "enabled": agent.enabled,
            "haproxy": agent.haproxy.display().to_string(),
            "dir": agent.dir.as_ref().map(|d| d.display().to_string()),
            "stats-bind": agent.stats_bind,
            "log-target": agent.log_target,
            "log-sources": agent.log_sources,
            "http-bind": agent.http_bind,
        },
        "deployment": {
            "cpu": dep.cpu,
            "memory-mb": dep.memory_mb,
            "instances": dep.instances,
            "arguments": dep.arguments,
        },
        "pulse": {
            "period-ms": s.pulse.period_ms,
            "health-window-s": s.pulse.health_window_s,
            "metrics-window-s": s.pulse.metrics_window_s,
        },
        "sla": {
            "period-ms": s.sla.period_ms,
        },
        "workflows": s.workflows,
    })
}

/// `GET /api/v1/config`: the effective settings of the core and of this API; tokens are redacted.
pub async fn config(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::from_accept(&headers)?;
    let o = &state.options;
    let redact = |tokens: &Vec<String>| vec!["<redacted>"; tokens.len()];
    let value = serde_json::json!({
        "server": settings_json(state.vamp.settings()),
        "api": {
            "listen": o.listen.to_string(),
            "security": {
                "admin-tokens": redact(&o.security.admin_tokens),
                "read-tokens": redact(&o.security.read_tokens),
            },
            "tls": o.tls.as_ref().map(|t| serde_json::json!({
                "cert": t.cert.display().to_string(),
                "key": t.key.display().to_string(),
            })),
            "cors": { "origins": o.cors.origins },
            "body-limit": o.body_limit,
            "max-per-page": o.max_per_page,
            "sse-keep-alive-s": o.sse_keep_alive_s,
            "limits": limits_json(&o.limits),
        },
    });
    render(StatusCode::OK, format, &value)
}

/// `GET /api/v1/metrics`: Prometheus text — the API's request counters, uptime, whether each component
/// answers, how many artifacts of each kind are stored, and the pulse figures of every gateway, route,
/// deployment, cluster and service ([`crate::pulse::prometheus`]; left out, with a warning logged, when the
/// metrics source does not answer).
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    use std::fmt::Write;
    let mut out = String::new();
    let info = state.vamp.info().await;
    let _ = writeln!(
        out,
        "# HELP vamp_info The server's version, namespace and instance id."
    );
    let _ = writeln!(out, "# TYPE vamp_info gauge");
    let _ = writeln!(
        out,
        "vamp_info{{version=\"{}\",namespace=\"{}\",uuid=\"{}\"}} 1",
        escape_label(&info.version),
        escape_label(&info.namespace),
        escape_label(&info.uuid)
    );
    let uptime = (chrono::Utc::now() - info.running_since).num_milliseconds() as f64 / 1000.0;
    let _ = writeln!(
        out,
        "# HELP vamp_uptime_seconds Seconds since this instance started."
    );
    let _ = writeln!(out, "# TYPE vamp_uptime_seconds gauge");
    let _ = writeln!(out, "vamp_uptime_seconds {uptime}");
    let _ = writeln!(
        out,
        "# HELP vamp_component_up Whether a component answers (1) or not (0)."
    );
    let _ = writeln!(out, "# TYPE vamp_component_up gauge");
    for c in &info.components {
        let _ = writeln!(
            out,
            "vamp_component_up{{component=\"{}\"}} {}",
            escape_label(&c.name),
            u8::from(c.ok)
        );
    }
    let _ = writeln!(out, "# HELP vamp_artifacts Artifacts stored, by kind.");
    let _ = writeln!(out, "# TYPE vamp_artifacts gauge");
    for kind in Kind::ALL {
        if kind == Kind::Event {
            continue;
        }
        if let Ok(paged) = state.vamp.list(kind, Page::first(1)).await {
            let _ = writeln!(
                out,
                "vamp_artifacts{{kind=\"{}\"}} {}",
                kind.plural(),
                paged.total
            );
        }
    }
    match state.vamp.pulse(state.vamp.settings().pulse.windows()).await {
        Ok(pulse) => crate::pulse::prometheus::write(&mut out, &pulse),
        Err(e) => tracing::warn!(error = %e, "the pulse figures are left out of the Prometheus metrics"),
    }
    state.stats.prometheus(&mut out);
    let mut response = plain(StatusCode::OK, out);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// The API's limits as `/config` shows them (kebab-case keys, as configured).
fn limits_json(l: &super::limits::ApiLimits) -> serde_json::Value {
    serde_json::json!({
        "parse-timeout-ms": l.parse_timeout_ms,
        "parse-concurrency": l.parse_concurrency,
        "max-nodes": l.max_nodes,
        "max-alias-nodes": l.max_alias_nodes,
        "max-alias-bytes": l.max_alias_bytes,
        "read-body-limit": l.read_body_limit,
        "header-read-timeout-ms": l.header_read_timeout_ms,
        "idle-timeout-s": l.idle_timeout_s,
        "tls-handshake-timeout-ms": l.tls_handshake_timeout_ms,
        "accept-backoff-max-ms": l.accept_backoff_max_ms,
        "streams-per-token": l.streams_per_token,
        "streams-total": l.streams_total,
    })
}
