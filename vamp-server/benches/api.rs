//! REST API throughput: GET and PUT of a breed by N concurrent keep-alive clients on loopback for a few seconds,
//! with the memory backends and with SQLite, next to the same operations on the facade without HTTP (the
//! baseline). Prints a table; `cargo bench -p vamp-server --bench api`.

use std::time::{Duration, Instant};

use vamp_core::dsl;
use vamp_core::model::Kind;
use vamp_server::api::{serve_on, ApiOptions};
use vamp_server::{Vamp, WriteOptions};

const CLIENTS: usize = 16;
const DURATION: Duration = Duration::from_secs(3);
const BREED: &str = "name: sava:1.0\ndeployable: magneticio/sava:1.0.0\nports:\n  web: 8080/http\n";

struct Outcome {
    requests: usize,
    errors: usize,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

impl Outcome {
    fn row(&self, name: &str) -> String {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return 0.0;
            }
            let i = ((l.len() as f64 - 1.0) * p).round() as usize;
            l.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        format!(
            "| {name:<34} | {:>9.0} | {:>8.2} | {:>8.2} | {:>6} |",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            self.errors
        )
    }
}

async fn drive<F, Fut>(op: F) -> Outcome
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let deadline = start + DURATION;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if op().await {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
                // in-memory operations complete without yielding; let the other clients and the server run
                tokio::task::yield_now().await;
            }
            (lat, errors)
        }));
    }
    let mut out = Outcome {
        requests: 0,
        errors: 0,
        latencies_us: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("client task");
        out.requests += lat.len();
        out.errors += errors;
        out.latencies_us.extend(lat);
    }
    out.elapsed = start.elapsed();
    out
}

async fn http_rows(name: &str, vamp: Vamp) -> Vec<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(
        vamp,
        ApiOptions::insecure_open(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://127.0.0.1:{port}/api/v1/breeds/sava:1.0");
    let client = reqwest::Client::new();
    let created = client
        .put(&url)
        .header("content-type", "application/x-yaml")
        .body(BREED)
        .send()
        .await
        .expect("seed");
    assert!(created.status().is_success(), "seed failed: {}", created.status());

    let (c, u) = (client.clone(), url.clone());
    let get = drive(move || {
        let (c, u) = (c.clone(), u.clone());
        async move {
            match c.get(&u).header("accept", "application/json").send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    let (c, u) = (client.clone(), url.clone());
    let put = drive(move || {
        let (c, u) = (c.clone(), u.clone());
        async move {
            match c
                .put(&u)
                .header("content-type", "application/x-yaml")
                .body(BREED)
                .send()
                .await
            {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
    vec![
        get.row(&format!("HTTP GET breed ({name})")),
        put.row(&format!("HTTP PUT breed ({name})")),
    ]
}

async fn facade_rows(name: &str, vamp: Vamp) -> Vec<String> {
    let breed = dsl::read(Kind::Breed, BREED).expect("breed");
    vamp.update(breed.clone(), &WriteOptions::with_source(BREED))
        .await
        .expect("seed");
    let v = vamp.clone();
    let get = drive(move || {
        let v = v.clone();
        async move { matches!(v.get(Kind::Breed, "sava:1.0").await, Ok(Some(_))) }
    })
    .await;
    let v = vamp.clone();
    let put = drive(move || {
        let (v, b) = (v.clone(), breed.clone());
        async move { v.update(b, &WriteOptions::with_source(BREED)).await.is_ok() }
    })
    .await;
    vec![
        get.row(&format!("facade get, no HTTP ({name})")),
        put.row(&format!("facade update, no HTTP ({name})")),
    ]
}

async fn sqlite_vamp(dir: &std::path::Path, file: &str) -> Vamp {
    let url = format!("sqlite://{}", dir.join(file).display());
    let artifacts = vamp_persistence::url::connect_artifacts(&url)
        .await
        .expect("sqlite artifacts");
    let events = vamp_persistence::url::connect_events(&url)
        .await
        .expect("sqlite events");
    Vamp::builder()
        .persistence(artifacts, events)
        .build()
        .expect("vamp")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("vamp-api-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        rows.extend(facade_rows("memory", Vamp::builder().build().expect("vamp")).await);
        rows.extend(http_rows("memory", Vamp::builder().build().expect("vamp")).await);
        rows.extend(facade_rows("SQLite", sqlite_vamp(&dir, "facade.db").await).await);
        rows.extend(http_rows("SQLite", sqlite_vamp(&dir, "http.db").await).await);
        rows
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\nREST API throughput: {CLIENTS} concurrent keep-alive clients, {}s each, load generator in the same process\n",
        DURATION.as_secs()
    );
    println!("| operation                          |     req/s | p50 (ms) | p99 (ms) | errors |");
    println!("|------------------------------------|-----------|----------|----------|--------|");
    for r in rows {
        println!("{r}");
    }
}
