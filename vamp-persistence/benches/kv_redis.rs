//! `cargo bench -p vamp-persistence --bench kv_redis`: the key-value artifact store over a real Redis (started
//! through `testkit::servers`, connected with `vamp_kv::url::connect`) against the bare Redis store it writes
//! to, measured in the same run. Prints a Markdown table.

#[path = "support/kv_artifacts.rs"]
mod kv_artifacts;
#[path = "support/timing.rs"]
mod timing;

use vamp_core::testkit::servers::TestServer;

fn main() {
    let redis = TestServer::redis().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let url = format!("redis://{}", redis.address());
        let kv = vamp_kv::url::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} cannot be reached: {e}"));
        timing::print(
            "KV-backed artifacts over a real Redis (loopback, no persistence)",
            &kv_artifacts::kv_lines(kv, "Redis").await,
        );
    });
    drop(redis);
}
