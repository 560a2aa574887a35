//! The paging headers of a listing: `X-Total-Count` and an RFC 8288 `Link` header with `first`, `prev`, `next`
//! and `last` (prev and next clamped to the first and last page), as the original wrote them.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::Response;

use super::query::Query;

/// Adds `X-Total-Count` and `Link` for page `page` of `per_page` items out of `total` to `response`; the links
/// repeat the request's path and other query parameters, absolute when the request had a `Host`.
pub fn add_paging_headers(
    response: &mut Response,
    request: (&Uri, &HeaderMap),
    scheme: &str,
    total: u64,
    page: u32,
    per_page: u32,
) {
    let (uri, headers) = request;
    let per_page = per_page.max(1);
    let last = total.div_ceil(u64::from(per_page)).max(1);
    let current = u64::from(page);
    let prev = current.saturating_sub(1).clamp(1, last);
    let next = (current + 1).clamp(1, last);
    let base = match headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{scheme}://{host}{}", uri.path()),
        None => uri.path().to_string(),
    };
    let rest = Query::of(uri).without_paging();
    let link = |n: u64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &rest {
            query.append_pair(k, v);
        }
        query.append_pair("page", &n.to_string());
        query.append_pair("per_page", &per_page.to_string());
        format!("<{base}?{}>", query.finish())
    };
    let value = format!(
        "{}; rel=first, {}; rel=prev, {}; rel=next, {}; rel=last",
        link(1),
        link(prev),
        link(next),
        link(last)
    );
    let out = response.headers_mut();
    out.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    if let Ok(v) = HeaderValue::from_str(&value) {
        out.insert(HeaderName::from_static("link"), v);
    }
}
