//! Forwarding raw log lines: to a Logstash UDP listener, into the Elasticsearch double's daily indices, and
//! into sinks that are down — which lose their oldest lines, counted, without ever blocking the producer.

mod logs_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use logs_support::es_double::EsDouble;
use logs_support::{eventually, free_port, CAPTURED_LINES};
use tokio::net::UdpSocket;
use vamp_core::ErrorKind;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::forward::{
    ElasticsearchOptions, Forwarder, LogLine, LogstashOptions, SinkConfig, SinkSnapshot,
};
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::{Handled, LogPipeline};

fn line_at(raw: &str, day: u32) -> LogLine {
    LogLine {
        received_at: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
        raw: Arc::from(raw),
    }
}

fn sink(forwarder: &Forwarder) -> SinkSnapshot {
    forwarder.snapshot().remove(0)
}

fn es(url: &str) -> ElasticsearchOptions {
    let mut options = ElasticsearchOptions::new(url);
    options.backoff = Duration::from_millis(10);
    options.max_backoff = Duration::from_millis(50);
    options.timeout = Duration::from_secs(2);
    options
}

#[tokio::test]
async fn logstash_gets_each_raw_line_as_one_datagram() {
    let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let forwarder = Forwarder::start(vec![SinkConfig::Logstash(LogstashOptions::new(address))]).unwrap();
    let lines: Vec<&str> = CAPTURED_LINES.lines().take(3).collect();
    for line in &lines {
        forwarder.forward(&LogLine::now(line));
    }
    let mut buffer = vec![0; 65536];
    for line in &lines {
        let n = tokio::time::timeout(Duration::from_secs(5), listener.recv(&mut buffer))
            .await
            .expect("a datagram within 5 s")
            .unwrap();
        assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), *line);
    }
    eventually(Duration::from_secs(5), "three forwarded", || {
        sink(&forwarder).forwarded == 3
    })
    .await;
    assert_eq!(sink(&forwarder).kind, "logstash");
}

#[tokio::test]
async fn elasticsearch_gets_documents_in_daily_indices() {
    let double = EsDouble::start().await;
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(es(&double.url))]).unwrap();
    let mut lines = CAPTURED_LINES.lines();
    forwarder.forward(&line_at(lines.next().unwrap(), 7));
    forwarder.forward(&line_at(lines.next().unwrap(), 8));
    forwarder.forward(&line_at(
        "<129>Mar  8 12:00:00 haproxy[1]: Proxy g_abc started.",
        8,
    ));
    eventually(Duration::from_secs(5), "three documents", || {
        double.total_docs() == 3
    })
    .await;
    assert_eq!(double.indices(), ["vamp-vga-2026-03-07", "vamp-vga-2026-03-08"]);
    let doc = &double.docs("vamp-vga-2026-03-07")[0];
    assert_eq!(doc["ft"], "g_abc");
    assert_eq!(doc["ST"], 200);
    assert_eq!(doc["r"], "GET /ok HTTP/1.1");
    assert!(doc["message"]
        .as_str()
        .unwrap()
        .starts_with(r#"{"ci":"127.0.0.1""#));
    assert_eq!(doc["@timestamp"], "2026-03-07T12:00:00.000Z");
    let foreign = &double.docs("vamp-vga-2026-03-08")[1];
    assert_eq!(foreign["message"], "Proxy g_abc started.");
    eventually(Duration::from_secs(5), "counted", || {
        sink(&forwarder).forwarded == 3
    })
    .await;
    assert_eq!(sink(&forwarder).failed, 0);
}

#[tokio::test]
async fn a_namespace_goes_into_the_index_name() {
    let double = EsDouble::start().await;
    let mut options = es(&double.url);
    options.namespace = Some("prod".into());
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(options)]).unwrap();
    forwarder.forward(&line_at(CAPTURED_LINES.lines().next().unwrap(), 7));
    eventually(Duration::from_secs(5), "one document", || {
        double.total_docs() == 1
    })
    .await;
    assert_eq!(double.indices(), ["vamp-vga-prod-2026-03-07"]);
}

#[tokio::test]
async fn an_unusable_namespace_or_url_is_invalid() {
    let mut options = es("http://127.0.0.1:9200");
    options.namespace = Some("Prod Team".into());
    let e = Forwarder::start(vec![SinkConfig::Elasticsearch(options)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let e = Forwarder::start(vec![SinkConfig::Elasticsearch(es("es:9200"))]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn overloaded_or_failing_elasticsearch_is_retried_until_it_takes_the_batch() {
    let double = EsDouble::start().await;
    double.fail_next(&[503, 429, 500]);
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(es(&double.url))]).unwrap();
    for line in CAPTURED_LINES.lines() {
        forwarder.forward(&LogLine::now(line));
    }
    eventually(Duration::from_secs(10), "every line delivered", || {
        double.total_docs() == 10
    })
    .await;
    assert!(double.requests() >= 4, "three failures, then success");
    eventually(Duration::from_secs(5), "counted", || {
        sink(&forwarder).forwarded == 10
    })
    .await;
    assert_eq!((sink(&forwarder).failed, sink(&forwarder).dropped), (0, 0));
}

#[tokio::test]
async fn a_batch_elasticsearch_refuses_is_dropped_and_later_lines_still_go() {
    let double = EsDouble::start().await;
    double.fail_next(&[400]);
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(es(&double.url))]).unwrap();
    forwarder.forward(&LogLine::now("first"));
    eventually(Duration::from_secs(5), "the first batch failed", || {
        sink(&forwarder).failed == 1
    })
    .await;
    forwarder.forward(&LogLine::now("second"));
    eventually(Duration::from_secs(5), "the second delivered", || {
        double.total_docs() == 1
    })
    .await;
    assert_eq!(double.indices().len(), 1);
}

#[tokio::test]
async fn credentials_in_the_url_are_sent_as_basic_auth() {
    let double = EsDouble::start().await;
    let url = double.url.replace("http://", "http://elastic:s3cret@");
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(es(&url))]).unwrap();
    assert!(!sink(&forwarder).target.contains("s3cret"));
    forwarder.forward(&LogLine::now("x"));
    eventually(Duration::from_secs(5), "one document", || {
        double.total_docs() == 1
    })
    .await;
    assert_eq!(
        double.authorization(),
        [Some("Basic ZWxhc3RpYzpzM2NyZXQ=".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_elasticsearch_drops_the_oldest_lines_without_blocking() {
    let mut options = es(&format!("http://127.0.0.1:{}", free_port()));
    options.queue_capacity = 10;
    options.batch_size = 5;
    options.max_retries = 1000;
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(options)]).unwrap();
    let started = Instant::now();
    for i in 0..10_000 {
        forwarder.forward(&LogLine::now(&format!("line {i}")));
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(1), "forwarding took {elapsed:?}");
    let s = sink(&forwarder);
    let in_flight = 10_000 - s.dropped - s.queued as u64;
    assert!(in_flight <= 5, "at most one batch is being retried: {s:?}");
    assert!(s.dropped >= 10_000 - 10 - 5, "{s:?}");
    assert_eq!(
        (s.forwarded, s.failed),
        (0, 0),
        "the batch is still being retried"
    );
}

#[tokio::test]
async fn a_logstash_nobody_listens_to_never_blocks_and_every_line_is_accounted_for() {
    let port = free_port();
    let mut options = LogstashOptions::new(format!("127.0.0.1:{port}"));
    options.queue_capacity = 100;
    options.retry = Duration::from_millis(5);
    let forwarder = Forwarder::start(vec![SinkConfig::Logstash(options)]).unwrap();
    let started = Instant::now();
    for i in 0..1000 {
        forwarder.forward(&LogLine::now(&format!("line {i}")));
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    eventually(
        Duration::from_secs(10),
        "every line sent, failed or dropped",
        || {
            let s = sink(&forwarder);
            s.forwarded + s.failed + s.dropped == 1000 && s.queued == 0
        },
    )
    .await;
}

#[tokio::test]
async fn the_pipeline_keeps_counting_while_its_sink_is_dead() {
    let mut options = es(&format!("http://127.0.0.1:{}", free_port()));
    options.queue_capacity = 2;
    options.max_retries = 1000;
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(options)]).unwrap();
    let aggregator = Arc::new(Aggregator::default());
    let mut envelope = Envelope::default();
    envelope.gateways.insert("g_abc".into(), "shop".into());
    let names = Names::new();
    names.update(&envelope);
    let pipeline = LogPipeline::new(names, aggregator.clone(), forwarder);
    let line = CAPTURED_LINES.lines().next().unwrap();
    for _ in 0..1000 {
        assert_eq!(pipeline.handle(line.as_bytes()), Handled::Recorded);
    }
    let window = aggregator
        .window_now("shop", None, Duration::from_secs(60))
        .unwrap();
    assert_eq!(window.requests, 1000);
    let s = pipeline.forwarder().snapshot().remove(0);
    assert!(s.dropped >= 997, "{s:?}");
    let text = pipeline.prometheus();
    assert!(text.contains(&format!(
        "vamp_gateway_log_dropped_total{{sink=\"elasticsearch\",target=\"{}\"}} {}",
        s.target, s.dropped
    )));
}
