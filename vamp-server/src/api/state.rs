//! What every handler shares: the facade, the options and the request counters.

use std::sync::Arc;

use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use vamp_core::store::Paged;

use super::bodies::BodyReaders;
use super::options::ApiOptions;
use super::paging::add_paging_headers;
use super::stats::Stats;
use super::streams::StreamSlots;
use crate::vamp::Vamp;

/// The state of the router.
#[derive(Clone)]
pub struct ApiState {
    /// The server core.
    pub vamp: Vamp,
    /// The API's settings.
    pub options: Arc<ApiOptions>,
    /// Request counters for `/metrics`.
    pub stats: Arc<Stats>,
    /// Where request bodies are read, off the async workers.
    pub readers: BodyReaders,
    /// The open event streams.
    pub streams: Arc<StreamSlots>,
}

impl ApiState {
    /// The scheme links are written with.
    pub fn scheme(&self) -> &'static str {
        if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Adds the paging headers of `paged` to `response`.
    pub fn page_headers<T>(&self, response: &mut Response, uri: &Uri, headers: &HeaderMap, paged: &Paged<T>) {
        add_paging_headers(
            response,
            (uri, headers),
            self.scheme(),
            paged.total,
            paged.page,
            paged.per_page,
        );
    }
}
