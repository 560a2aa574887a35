//! The REST API over the [`Vamp`] facade, compatible with the original's `/api/v1` (vamp-behaviour.md §3):
//! artifacts of every kind, deployments with merge and slice, the multi-document root, events and their
//! server-sent stream, gateway output and metrics, health, info, config, Prometheus metrics and an OpenAPI
//! document; JSON and YAML both ways; bearer tokens, CORS and TLS. Beside it, at `/`, the web UI ([`ui`]).
//!
//! [`router`] builds the axum router (for embedding or tests); [`serve()`] and [`serve_on`] run it.

pub mod accept;
pub mod artifacts;
pub mod bodies;
pub mod cors;
pub mod deployments;
pub mod documents;
pub mod error;
pub mod events;
pub mod guard;
pub mod idle;
pub mod limits;
pub mod negotiation;
pub mod openapi;
pub mod options;
pub mod paging;
pub mod pulse;
pub mod query;
pub mod routes;
pub mod security;
pub mod serve;
pub mod state;
pub mod stats;
pub mod streams;
pub mod system;
pub mod ui;
pub mod vga;
pub mod workflows;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;

pub use error::ApiError;
pub use limits::ApiLimits;
pub use options::{ApiOptions, ApiSecurity, CorsOptions, TlsOptions};
pub use routes::route_table;
pub use serve::{serve, serve_on};

use crate::vamp::Vamp;
use state::ApiState;
use stats::Stats;

async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The API's router over `vamp`, with `options`' tokens, Host/Origin/Content-Type checks ([`guard`]), CORS and
/// body limit (TLS and the listen address are
/// [`serve()`]'s), and the web UI compiled into this binary at every path outside `/api`. Every API error
/// response is `{"message": …}`; unknown API routes are 404.
pub fn router(vamp: Vamp, options: ApiOptions) -> Router {
    router_with_ui(vamp, options, ui::UiAssets::embedded())
}

/// [`router`] serving `assets` as the web UI. Paths under `/api` go to the API (with its tokens, CORS, request
/// statistics and `no-store`); every other path to the UI, which needs no token.
pub fn router_with_ui(vamp: Vamp, options: ApiOptions, assets: ui::UiAssets) -> Router {
    api_router(vamp, options).layer(axum::middleware::from_fn_with_state(
        Arc::new(assets),
        ui::serve_outside_api,
    ))
}

fn api_router(vamp: Vamp, options: ApiOptions) -> Router {
    let stats = Arc::new(Stats::default());
    let security = Arc::new(options.security.clone());
    let guard = Arc::new(guard::RequestGuard::new(&options));
    let cors = cors::layer(&options.cors);
    let body_limit = options.body_limit;
    let read_body_limit = options.limits.read_body_limit();
    let state = ApiState {
        readers: bodies::BodyReaders::new(&options.limits),
        streams: streams::StreamSlots::new(&options.limits),
        vamp,
        options: Arc::new(options),
        stats: stats.clone(),
    };
    let router = routes::routes()
        .router
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(guard::content_type))
        .layer(axum::middleware::from_fn_with_state(
            read_body_limit,
            bodies::limit_read_bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security,
            security::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        .layer(axum::middleware::map_response(no_store))
        .layer(axum::middleware::map_response(error::normalize_errors));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(axum::middleware::from_fn_with_state(stats, stats::track))
}
