//! A real HAProxy with the contract's log formats sends its access logs to the receiver (over UDP and over a
//! unix datagram socket); requests through it end up counted per gateway and route with the right statuses.

mod logs_support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use logs_support::{
    eventually, free_port, Backend, Haproxy, TempDir, HTTP_LOG_FORMAT, HTTP_START_RULE, TCP_LOG_FORMAT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vamp_core::ErrorKind;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::counters::LogCounters;
use vamp_gateway::logs::forward::Forwarder;
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::LogPipeline;
use vamp_gateway::logs::receiver::{LogReceiver, LogTarget, UNIX_SOCKET_MODE};

struct Ports {
    shop: u16,
    db: u16,
    vhosts: u16,
    backend: u16,
}

fn config(log_target: &str, p: &Ports) -> String {
    format!(
        r#"global
  log {log_target} len 8192 local0
defaults
  mode http
  timeout connect 5s
  timeout client 50s
  timeout server 50s
  option dontlognull
frontend g_aaa
  bind 127.0.0.1:{shop}
  log global
  log-format '{HTTP_LOG_FORMAT}'
  {HTTP_START_RULE}
  use_backend g_aaa_r1 if {{ path_beg /two }}
  use_backend g_aaa_none if {{ path_beg /none }}
  default_backend g_aaa_r0
backend g_aaa_r0
  server t_1 127.0.0.1:{backend}
backend g_aaa_r1
  server t_1 127.0.0.1:{backend}
backend g_aaa_none
frontend g_bbb
  bind 127.0.0.1:{db}
  mode tcp
  log global
  log-format '{TCP_LOG_FORMAT}'
  default_backend g_bbb_r0
backend g_bbb_r0
  mode tcp
  server t_1 127.0.0.1:{backend}
frontend virtual_hosts
  bind 127.0.0.1:{vhosts}
  log global
  log-format '{HTTP_LOG_FORMAT}'
  use_backend g_aaa_vhost if {{ req.hdr(host),field(1,:),lower -m str shop.example }}
backend g_aaa_vhost
  server gw 127.0.0.1:{shop}
"#,
        shop = p.shop,
        db = p.db,
        vhosts = p.vhosts,
        backend = p.backend,
    )
}

fn envelope() -> Envelope {
    let mut e = Envelope::default();
    e.gateways.insert("g_aaa".into(), "shop".into());
    e.gateways.insert("g_bbb".into(), "db".into());
    e.routes
        .insert("g_aaa_r0".into(), ("shop".into(), "shop/v1".into()));
    e.routes
        .insert("g_aaa_r1".into(), ("shop".into(), "shop/v2".into()));
    e.routes.insert("g_bbb_r0".into(), ("db".into(), "db/v1".into()));
    e
}

async fn traffic(p: &Ports) {
    let client = reqwest::Client::new();
    let shop = format!("http://127.0.0.1:{}", p.shop);
    for path in [
        "/a",
        "/b",
        "/c",
        "/two/status/404",
        "/two/status/404",
        "/status/500",
        "/none",
    ] {
        client.get(format!("{shop}{path}")).send().await.unwrap();
    }
    let vhost = client
        .get(format!("http://127.0.0.1:{}/", p.vhosts))
        .header("host", "shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(vhost.status(), 200);
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", p.db)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"));
}

/// Starts HAProxy logging to `target` (bound by the receiver), sends the traffic, checks the counts.
async fn requests_are_counted(target: LogTarget, dir: TempDir) {
    let backend = Backend::start().await;
    let ports = Ports {
        shop: free_port(),
        db: free_port(),
        vhosts: free_port(),
        backend: backend.port,
    };
    let aggregator = Arc::new(Aggregator::default());
    let pipeline = LogPipeline::new(Names::new(), aggregator.clone(), Forwarder::none());
    pipeline.names().update(&envelope());
    let receiver = LogReceiver::bind(&target, pipeline.counters().clone()).unwrap();
    let log_target = receiver.target().haproxy_address();
    let receiving = tokio::spawn(pipeline.clone().run(receiver));
    let haproxy = Haproxy::start(
        &config(&log_target, &ports),
        dir,
        &[ports.shop, ports.db, ports.vhosts],
    )
    .await;

    traffic(&ports).await;

    let minute = Duration::from_secs(60);
    eventually(Duration::from_secs(10), "every request logged", || {
        aggregator.window_now("shop", None, minute).unwrap().requests >= 8
            && aggregator.window_now("db", None, minute).unwrap().requests >= 1
            && pipeline.counters().snapshot().unknown_frontend >= 1
    })
    .await;
    let shop = aggregator.window_now("shop", None, minute).unwrap();
    assert_eq!(
        shop.requests, 8,
        "3 + 2 + 1 + 1 direct, 1 through the virtual host"
    );
    assert_eq!(shop.status, [0, 4, 0, 2, 2]);
    assert_eq!(shop.latency.count(), 8);
    let v1 = aggregator.window_now("shop", Some("shop/v1"), minute).unwrap();
    assert_eq!((v1.requests, v1.status), (5, [0, 4, 0, 0, 1]));
    let sum_ms = v1.latency.mean().unwrap() * v1.latency.count() as f64;
    assert!(
        sum_ms.fract() > 1e-9,
        "latencies in microseconds, not whole milliseconds: {sum_ms} ms in all"
    );
    let v2 = aggregator.window_now("shop", Some("shop/v2"), minute).unwrap();
    assert_eq!((v2.requests, v2.status), (2, [0, 0, 0, 2, 0]));
    let db = aggregator.window_now("db", Some("db/v1"), minute).unwrap();
    assert_eq!((db.requests, db.status), (1, [0; 5]));
    let counters = pipeline.counters().snapshot();
    assert_eq!(counters.unknown_frontend, 1, "the virtual_hosts hop");
    assert_eq!(counters.parse_errors, 0);
    assert_eq!(counters.received, 10);
    let text = pipeline.prometheus();
    assert!(
        text.contains(r#"vamp_gateway_requests_total{gateway="shop",route="shop/v2",status="4xx"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vamp_gateway_requests_total{gateway="shop",route="",status="5xx"} 1"#),
        "{text}"
    );

    drop(haproxy);
    receiving.abort();
    let _ = receiving.await;
}

#[tokio::test]
async fn haproxy_logs_over_udp_are_counted_per_gateway_and_route() {
    let target = LogTarget::parse("127.0.0.1:0").unwrap();
    requests_are_counted(target, TempDir::new("logs-udp")).await;
}

#[tokio::test]
async fn haproxy_logs_over_a_unix_socket_are_counted_per_gateway_and_route() {
    let dir = TempDir::new("logs-unix");
    let path = dir.path().join("log.sock");
    requests_are_counted(LogTarget::Unix(path.clone()), dir).await;
}

#[tokio::test]
async fn the_unix_socket_replaces_a_stale_one_is_owner_only_and_goes_away() {
    let dir = TempDir::new("logs-sock");
    let path = dir.path().join("log.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    assert!(path.exists(), "a stale socket file");
    let receiver = LogReceiver::bind(&LogTarget::Unix(path.clone()), Arc::new(LogCounters::new())).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, UNIX_SOCKET_MODE);
    drop(receiver);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_regular_file_in_the_sockets_place_is_left_alone() {
    let dir = TempDir::new("logs-file");
    let path = dir.path().join("log.sock");
    std::fs::write(&path, "keep me").unwrap();
    let e = LogReceiver::bind(&LogTarget::Unix(path.clone()), Arc::new(LogCounters::new())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

#[tokio::test]
async fn a_taken_udp_port_is_unavailable() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = LogTarget::Udp(taken.local_addr().unwrap());
    let e = LogReceiver::bind(&target, Arc::new(LogCounters::new())).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unavailable { .. }), "{e}");
}
