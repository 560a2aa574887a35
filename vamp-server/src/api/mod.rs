//! The REST API over the [`Vamp`] facade, compatible with the original's `/api/v1` (vamp-behaviour.md §3):
//! artifacts of every kind, deployments with merge and slice, the multi-document root, events and their
//! server-sent stream, gateway output and metrics, health, info, config, Prometheus metrics and an OpenAPI
//! document; JSON and YAML both ways; bearer tokens, CORS and TLS.
//!
//! [`router`] builds the axum router (for embedding or tests); [`serve()`] and [`serve_on`] run it.

pub mod artifacts;
pub mod cors;
pub mod deployments;
pub mod documents;
pub mod error;
pub mod events;
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
pub mod system;
pub mod vga;
pub mod workflows;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;

pub use error::ApiError;
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

/// The API's router over `vamp`, with `options`' tokens, CORS and body limit (TLS and the listen address are
/// [`serve()`]'s). Every error response is `{"message": …}`; unknown routes are 404.
pub fn router(vamp: Vamp, options: ApiOptions) -> Router {
    let stats = Arc::new(Stats::default());
    let security = Arc::new(options.security.clone());
    let cors = cors::layer(&options.cors);
    let body_limit = options.body_limit;
    let state = ApiState {
        vamp,
        options: Arc::new(options),
        stats: stats.clone(),
    };
    let router = routes::routes()
        .router
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            security,
            security::authorize,
        ))
        .layer(axum::middleware::map_response(no_store))
        .layer(axum::middleware::map_response(error::normalize_errors));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(axum::middleware::from_fn_with_state(stats, stats::track))
}
