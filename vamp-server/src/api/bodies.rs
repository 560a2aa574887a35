//! Reading request bodies off the async workers: a read (YAML or JSON into artifacts) runs on tokio's blocking
//! threads, at most [`ApiLimits::parse_concurrency`] at once, within [`ApiLimits::parse_timeout`] and the DSL's
//! node and alias limits, so a slow or hostile body never stalls other requests (`/health` above all). Bodies of
//! requests that only read (`GET`, `HEAD`) are held to [`ApiLimits::read_body_limit`] ([`limit_read_bodies`]).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;
use vamp_core::dsl::limits::with_limits;

use super::error::{message_response, ApiError};
use super::limits::ApiLimits;

/// The turns of body reads: one permit per read under way.
#[derive(Debug, Clone)]
pub struct BodyReaders {
    permits: Arc<Semaphore>,
    limits: ApiLimits,
}

impl BodyReaders {
    /// Readers within `limits`.
    pub fn new(limits: &ApiLimits) -> Self {
        BodyReaders {
            permits: Arc::new(Semaphore::new(limits.parse_concurrency())),
            limits: limits.clone(),
        }
    }

    /// Runs `read` on a blocking thread once a turn is free, with the DSL's limits and a deadline of
    /// `parse_timeout` from now. 503 when no turn frees up before the deadline; 413 when the read is not done by
    /// then (the read stops at its next look at the clock, and keeps its turn until it has). `read`'s own error
    /// otherwise.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let timeout = self.limits.parse_timeout();
        let deadline = Instant::now() + timeout;
        let tokio_deadline = tokio::time::Instant::from_std(deadline);
        let permit = match tokio::time::timeout_at(tokio_deadline, self.permits.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "The server is busy reading other request bodies; none could be read within {} ms. \
                         Retry later (setting api.limits.parse-concurrency).",
                        timeout.as_millis()
                    ),
                ))
            }
        };
        let limits = self.limits.read_limits(deadline);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            with_limits(limits, read)
        });
        let too_slow = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The request body took longer than {} ms to read; send a smaller or simpler document \
                     (setting api.limits.parse-timeout-ms).",
                    timeout.as_millis()
                ),
            )
        };
        match tokio::time::timeout_at(tokio_deadline, task).await {
            Err(_) => Err(too_slow()),
            Ok(Err(e)) => Err(ApiError::from(vamp_core::Error::backend(format!(
                "reading the request body failed: {e}"
            )))),
            Ok(Ok(Err(_))) if Instant::now() >= deadline => Err(too_slow()),
            Ok(Ok(result)) => result,
        }
    }
}

/// The middleware holding the bodies of `GET` and `HEAD` requests to `limit` bytes: 413 at once when
/// `Content-Length` says more, and when a body sent without one grows past it while it is read. Routes that
/// take no body never read it.
pub async fn limit_read_bodies(State(limit): State<usize>, request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return message_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "The body of a {} request may hold at most {limit} bytes (an event query); this one has more \
                 (setting api.limits.read-body-limit).",
                request.method()
            ),
        );
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}
