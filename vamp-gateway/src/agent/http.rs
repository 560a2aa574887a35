//! The agent's HTTP endpoints: `GET /health` (whether HAProxy runs with an applied configuration), `GET
//! /metrics` (Prometheus text) and `GET /v1/metrics/window` (one [`MetricsWindow`] as JSON, which
//! [`super::metrics_client::AgentMetricsSource`] reads).
//!
//! `/v1/metrics/window?gateway=<name>&route=<path>&window=<seconds>`: `gateway` is required, `route` optional
//! (absent: every route of the gateway), `window` a positive number of seconds (fractions allowed, at most
//! [`MAX_WINDOW_SECONDS`]). Bad parameters are answered with 400 and `{"error": "<what is wrong>"}`.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use vamp_core::metrics::MetricsWindow;
use vamp_core::{Error, Result};

use crate::logs::pipeline::LogPipeline;
use crate::logs::prometheus;

/// The longest window the endpoint accepts: one year.
pub const MAX_WINDOW_SECONDS: f64 = 366.0 * 24.0 * 3600.0;

/// What the apply loop reports about HAProxy; the health endpoint answers from the latest value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentHealth {
    /// Whether the HAProxy master and a worker are running.
    pub haproxy_running: bool,
    /// Whether a configuration from the key-value store has been applied.
    pub config_applied: bool,
    /// Why the agent is not healthy, or the last apply error; for people reading the endpoint.
    pub message: Option<String>,
}

impl AgentHealth {
    /// Healthy: HAProxy runs and a configuration is applied.
    pub fn is_healthy(&self) -> bool {
        self.haproxy_running && self.config_applied
    }
}

/// What the endpoints read.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The latest health, published by the apply loop.
    pub health: watch::Receiver<AgentHealth>,
    /// The log pipeline: metrics, counters, sinks.
    pub logs: LogPipeline,
}

/// The agent's router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/metrics/window", get(window))
        .with_state(state)
}

/// Serves [`router`] on `listener` until the task is dropped. Fails with `Unavailable` when serving fails.
pub async fn serve(listener: TcpListener, state: HttpState) -> Result<()> {
    axum::serve(listener, router(state))
        .await
        .map_err(|e| Error::unavailable(format!("The agent's HTTP endpoint stopped: {e}.")).with_source(e))
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_request(message: String) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({ "error": message }).to_string())
}

async fn health(State(state): State<HttpState>) -> Response {
    let health = state.health.borrow().clone();
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if health.is_healthy() { "ok" } else { "unavailable" },
        "haproxy_running": health.haproxy_running,
        "config_applied": health.config_applied,
        "message": health.message,
    });
    json_response(status, body.to_string())
}

async fn metrics(State(state): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)],
        state.logs.prometheus(),
    )
        .into_response()
}

/// One `application/x-www-form-urlencoded` component decoded; `None` for a bad `%` escape or non-UTF-8.
fn decode_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The parsed parameters of a window request.
#[derive(Debug, PartialEq)]
struct WindowQuery {
    gateway: String,
    route: Option<String>,
    window: Duration,
}

fn parse_window_query(query: Option<&str>) -> std::result::Result<WindowQuery, String> {
    let (mut gateway, mut route, mut window) = (None, None, None);
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(key).ok_or("A query parameter name is badly encoded.")?;
        let value = decode_component(value).ok_or_else(|| {
            format!("The query parameter '{key}' is badly encoded (bad % escape or not UTF-8).")
        })?;
        let slot = match key.as_str() {
            "gateway" => &mut gateway,
            "route" => &mut route,
            "window" => &mut window,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("The query parameter '{key}' is given more than once."));
        }
    }
    let gateway = gateway
        .filter(|g| !g.is_empty())
        .ok_or("The query parameter 'gateway' (the gateway name) is required.")?;
    if route.as_deref() == Some("") {
        return Err(format!(
            "The query parameter 'route' of gateway '{gateway}' is empty; leave it out for every route."
        ));
    }
    let text = window.ok_or(format!(
        "The query parameter 'window' (seconds) is required for gateway '{gateway}'."
    ))?;
    let seconds = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_WINDOW_SECONDS)
        .ok_or_else(|| {
            format!(
                "The window '{text}' of gateway '{gateway}' is not a positive number of seconds up to \
                 {MAX_WINDOW_SECONDS}."
            )
        })?;
    let window = Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|w| !w.is_zero())
        .ok_or_else(|| format!("The window '{text}' of gateway '{gateway}' is too short."))?;
    Ok(WindowQuery {
        gateway,
        route,
        window,
    })
}

async fn window(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    let q = match parse_window_query(query.as_deref()) {
        Ok(q) => q,
        Err(message) => return bad_request(message),
    };
    let result: Result<MetricsWindow> =
        state
            .logs
            .aggregator()
            .window_now(&q.gateway, q.route.as_deref(), q.window);
    match result {
        Ok(w) => match serde_json::to_string(&w) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": format!("Cannot encode the window: {e}.") }).to_string(),
            ),
        },
        Err(e) => {
            let status =
                StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, json!({ "error": e.message() }).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_form_decoded() {
        let q = parse_window_query(Some("gateway=shop%2Fweb&route=shop/v1+web&window=1.5&x=y")).unwrap();
        assert_eq!(q.gateway, "shop/web");
        assert_eq!(q.route.as_deref(), Some("shop/v1 web"));
        assert_eq!(q.window, Duration::from_millis(1500));
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        for (query, fragment) in [
            (None, "'gateway'"),
            (Some("window=5"), "'gateway'"),
            (Some("gateway=g"), "'window'"),
            (Some("gateway=g&window=0"), "positive"),
            (Some("gateway=g&window=-1"), "positive"),
            (Some("gateway=g&window=NaN"), "positive"),
            (Some("gateway=g&window=1e300"), "positive"),
            (Some("gateway=g&window=1e-12"), "too short"),
            (Some("gateway=g&window=abc"), "positive"),
            (Some("gateway=g&route=&window=1"), "'route'"),
            (Some("gateway=%zz&window=1"), "badly encoded"),
            (Some("gateway=%ff&window=1"), "badly encoded"),
            (Some("gateway=a&gateway=b&window=1"), "more than once"),
        ] {
            let e = parse_window_query(query).unwrap_err();
            assert!(e.contains(fragment), "{query:?}: {e}");
        }
    }
}
