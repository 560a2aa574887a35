//! Request counters of the REST API, kept by a middleware and written out by `/api/v1/metrics`: requests by
//! method and status class, their total duration, and the requests in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OTHER"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The counters.
#[derive(Debug, Default)]
pub struct Stats {
    requests: [[AtomicU64; 5]; 6],
    duration_us: AtomicU64,
    in_flight: AtomicU64,
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::HEAD => 4,
        _ => 5,
    }
}

impl Stats {
    fn record(&self, method: &Method, status: u16, elapsed_us: u64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(slot) = self
            .requests
            .get(method_index(method))
            .and_then(|row| row.get(class))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        self.duration_us.fetch_add(elapsed_us, Ordering::Relaxed);
    }

    /// Every request answered so far.
    pub fn total(&self) -> u64 {
        self.requests
            .iter()
            .flat_map(|row| row.iter())
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP vamp_api_requests_total Requests the REST API answered, by method and status class."
        );
        let _ = writeln!(out, "# TYPE vamp_api_requests_total counter");
        for (m, row) in METHODS.iter().zip(self.requests.iter()) {
            for (c, count) in CLASSES.iter().zip(row.iter()) {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "vamp_api_requests_total{{method=\"{m}\",status=\"{c}\"}} {n}"
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP vamp_api_request_duration_seconds_total Time spent answering requests."
        );
        let _ = writeln!(out, "# TYPE vamp_api_request_duration_seconds_total counter");
        let _ = writeln!(
            out,
            "vamp_api_request_duration_seconds_total {}",
            self.duration_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP vamp_api_requests_in_flight Requests being answered now (event streams included)."
        );
        let _ = writeln!(out, "# TYPE vamp_api_requests_in_flight gauge");
        let _ = writeln!(
            out,
            "vamp_api_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
    }
}

/// The middleware that counts every request.
pub async fn track(State(stats): State<Arc<Stats>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let start = Instant::now();
    stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    let elapsed = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    stats.record(&method, response.status().as_u16(), elapsed);
    response
}
