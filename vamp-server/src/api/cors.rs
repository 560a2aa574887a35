//! CORS from [`CorsOptions`]: no origins, no CORS headers; `*` any origin; otherwise the listed origins. Allowed
//! methods, headers and `max-age` are the original's; `Link` and `X-Total-Count` are exposed for paging.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::options::CorsOptions;

/// The CORS layer, or `None` when no origin is configured.
pub fn layer(options: &CorsOptions) -> Option<CorsLayer> {
    if options.origins.is_empty() {
        return None;
    }
    let origin = if options.origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = options
            .origins
            .iter()
            .filter_map(|o| match HeaderValue::from_str(o.trim()) {
                Ok(v) => Some(v),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring a CORS origin that is not a valid header value");
                    None
                }
            })
            .collect();
        AllowOrigin::list(origins)
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::HEAD,
                Method::OPTIONS,
                Method::DELETE,
                Method::PUT,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([header::LINK, HeaderName::from_static("x-total-count")])
            .max_age(Duration::from_secs(1800)),
    )
}
