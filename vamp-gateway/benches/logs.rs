//! Log pipeline throughput: parsing + aggregating access-log lines (with and without a dead forwarding sink),
//! and UDP datagrams received and handled end to end. `cargo bench -p vamp-gateway --bench logs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::forward::{ElasticsearchOptions, Forwarder, SinkConfig};
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::LogPipeline;
use vamp_gateway::logs::receiver::{LogReceiver, LogTarget};

const LINE: &str = r#"<134>Nov 22 03:12:03 haproxy[30527]: {"ci":"127.0.0.1","cp":57938,"t":"22/Nov/2026:03:12:00.831","ft":"g_abc","b":"g_abc_r0","s":"s1","Tq":0,"Tw":0,"Tc":0,"Tr":3,"Tt":4,"ST":200,"B":217,"tsc":"----","ac":1,"fc":1,"bc":0,"sc":0,"rc":0,"sq":0,"bq":0,"r":"GET /api/items?id=42 HTTP/1.1"}"#;
const ESCAPED: &str = r#"<134>Nov 22 03:12:03 haproxy[30527]: {"ci":"127.0.0.1","cp":57938,"t":"22/Nov/2026:03:12:00.831","ft":"g_abc","b":"g_abc_r0","s":"s1","Tq":0,"Tw":0,"Tc":0,"Tr":3,"Tt":4,"ST":200,"B":217,"tsc":"----","ac":1,"fc":1,"bc":0,"sc":0,"rc":0,"sq":0,"bq":0,"r":"GET /api/items?a[0\]=1 HTTP/1.1"}"#;

fn names() -> Names {
    let mut e = Envelope::default();
    e.gateways.insert("g_abc".into(), "shop".into());
    e.routes
        .insert("g_abc_r0".into(), ("shop".into(), "shop/v1".into()));
    let names = Names::new();
    names.update(&e);
    names
}

fn handle_rate(pipeline: &LogPipeline, line: &str, n: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        pipeline.handle(line.as_bytes());
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

async fn udp_end_to_end(n: u32) -> (f64, u64) {
    let pipeline = LogPipeline::new(names(), Arc::new(Aggregator::default()), Forwarder::none());
    let target = LogTarget::parse("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let receiver = LogReceiver::bind(&target, pipeline.counters().clone()).unwrap_or_else(|e| panic!("{e}"));
    let LogTarget::Udp(address) = receiver.target().clone() else {
        panic!("udp")
    };
    let task = tokio::spawn(pipeline.clone().run(receiver));
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let sending = std::thread::spawn(move || {
        for _ in 0..n {
            let _ = sender.send_to(LINE.as_bytes(), address);
        }
    });
    let _ = tokio::task::spawn_blocking(move || sending.join()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = pipeline.counters().snapshot().received;
        if now == u64::from(n) || (now == last && now > 0) || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    let received = pipeline.counters().snapshot().received;
    let elapsed = started.elapsed().as_secs_f64();
    task.abort();
    (received as f64 / elapsed, u64::from(n) - received)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = 500_000;
    let plain = LogPipeline::new(names(), Arc::new(Aggregator::default()), Forwarder::none());
    let mut dead = ElasticsearchOptions::new("http://127.0.0.1:9");
    dead.queue_capacity = 10_000;
    dead.max_retries = 1_000_000;
    let forwarder = Forwarder::start(vec![SinkConfig::Elasticsearch(dead)]).unwrap_or_else(|e| panic!("{e}"));
    let forwarding = LogPipeline::new(names(), Arc::new(Aggregator::default()), forwarder);
    println!("| case | lines/s |");
    println!("|---|---|");
    println!("| parse + aggregate | {:.0} |", handle_rate(&plain, LINE, n));
    println!(
        "| parse (with `\\]` repair) + aggregate | {:.0} |",
        handle_rate(&plain, ESCAPED, n)
    );
    println!(
        "| parse + aggregate + queue for a dead Elasticsearch | {:.0} |",
        handle_rate(&forwarding, LINE, n)
    );
    let (rate, lost) = udp_end_to_end(200_000).await;
    println!(
        "| UDP datagrams received and handled (200k sent as fast as possible) | {rate:.0} ({lost} lost) |"
    );
}
