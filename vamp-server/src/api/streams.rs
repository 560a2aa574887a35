//! The cap on open event streams (`/events/stream`, workflow logs): at most [`ApiLimits::streams_per_token`] per
//! bearer token and [`ApiLimits::streams_total`] in all. A stream holds a [`StreamSlot`] for as long as it is
//! open; the slot is given back when the stream is dropped (the client went away or the server stops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;
use super::limits::ApiLimits;

/// The open streams, by the token that opened them.
#[derive(Debug)]
pub struct StreamSlots {
    per_token: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_token: HashMap<String, usize>,
}

/// One open stream's place; given back on drop.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    token: String,
}

/// The bearer token of a request; empty without one.
fn token_of(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
        .unwrap_or_default()
}

impl StreamSlots {
    /// The slots of `limits`.
    pub fn new(limits: &ApiLimits) -> Arc<Self> {
        Arc::new(StreamSlots {
            per_token: limits.streams_per_token(),
            total: limits.streams_total(),
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for a stream the request with `headers` opens: 429 when its token has `streams_per_token` open,
    /// 503 when `streams_total` are open.
    pub fn take(self: &Arc<Self>, headers: &HeaderMap) -> Result<StreamSlot, ApiError> {
        let token = token_of(headers);
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let open = &mut *guard;
        if open.total >= self.total {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "The server has {} event streams open, its most; retry later (setting api.limits.streams-total).",
                    self.total
                ),
            ));
        }
        let mine = open.by_token.entry(token.clone()).or_default();
        if *mine >= self.per_token {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "This token has {} event streams open, its most; close one first (setting \
                     api.limits.streams-per-token).",
                    self.per_token
                ),
            ));
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            token,
        })
    }

    /// How many streams are open.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut guard = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        let open = &mut *guard;
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_token.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_token.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        h
    }

    #[test]
    fn streams_are_capped_per_token_and_in_all_and_given_back_on_drop() {
        let limits = ApiLimits {
            streams_per_token: 2,
            streams_total: 3,
            ..ApiLimits::default()
        };
        let slots = StreamSlots::new(&limits);
        let a1 = slots.take(&bearer("a")).unwrap();
        let _a2 = slots.take(&bearer("a")).unwrap();
        assert_eq!(
            slots.take(&bearer("a")).unwrap_err().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let _b1 = slots.take(&bearer("b")).unwrap();
        assert_eq!(
            slots.take(&bearer("c")).unwrap_err().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.take(&bearer("a")).unwrap();
    }
}
