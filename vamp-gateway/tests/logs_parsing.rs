//! Parsing and aggregating lines HAProxy 2.6.12 really sent (captured with the contract's log formats).

mod logs_support;

use std::sync::Arc;
use std::time::Duration;

use logs_support::CAPTURED_LINES;
use vamp_gateway::haproxy::envelope::Envelope;
use vamp_gateway::logs::access_log::{AccessLog, Mode};
use vamp_gateway::logs::aggregator::Aggregator;
use vamp_gateway::logs::forward::Forwarder;
use vamp_gateway::logs::names::Names;
use vamp_gateway::logs::pipeline::{Handled, LogPipeline};
use vamp_gateway::logs::syslog;

fn captured() -> Vec<AccessLog> {
    CAPTURED_LINES
        .lines()
        .map(|line| AccessLog::parse(syslog::parse(line).message).unwrap())
        .collect()
}

fn names() -> Names {
    let mut envelope = Envelope::default();
    envelope.gateways.insert("g_abc".into(), "shop".into());
    envelope.gateways.insert("g_tcp".into(), "db".into());
    envelope
        .routes
        .insert("g_abc_r0".into(), ("shop".into(), "shop/v1".into()));
    envelope
        .routes
        .insert("g_tcp_r0".into(), ("db".into(), "db/v1".into()));
    let names = Names::new();
    names.update(&envelope);
    names
}

#[test]
fn every_captured_line_parses() {
    let logs = captured();
    assert_eq!(logs.len(), 10);
    let first = &logs[0];
    assert_eq!(first.mode, Mode::Http);
    assert_eq!(
        (first.frontend.as_str(), first.backend.as_str()),
        ("g_abc", "g_abc")
    );
    assert_eq!((first.status, first.total_ms), (Some(200), Some(0)));
    assert_eq!(first.request.as_deref(), Some("GET /ok HTTP/1.1"));
    assert_eq!(first.termination.as_deref(), Some("LR--"));
}

#[test]
fn a_connect_failure_is_a_503_with_its_total_time() {
    let log = &captured()[1];
    assert_eq!((log.backend.as_str(), log.server.as_str()), ("g_abc_r0", "s1"));
    assert_eq!((log.status, log.total_ms), (Some(503), Some(3006)));
    assert_eq!(
        log.request.as_deref(),
        Some(r"GET /x?a=#22b#22&c=\x01 HTTP/1.1"),
        "HAProxy encodes the quote as #22 and +E escapes the backslash"
    );
}

#[test]
fn haproxys_escaped_bracket_is_read_as_a_bracket() {
    let logs = captured();
    assert_eq!(logs[8].request.as_deref(), Some("GET /ok?a[0]=1&b=%5D HTTP/1.1"));
    assert_eq!(logs[9].request.as_deref(), Some(r"GET /ok?q=a\b]c{}' HTTP/1.1"));
}

#[test]
fn bad_requests_have_a_status_and_no_timers() {
    let log = &captured()[3];
    assert_eq!(log.request.as_deref(), Some("<BADREQ>"));
    assert_eq!((log.status, log.total_ms), (Some(400), Some(0)));
}

#[test]
fn the_tcp_line_has_no_status() {
    let log = &captured()[6];
    assert_eq!(log.mode, Mode::Tcp);
    assert_eq!(
        (log.frontend.as_str(), log.backend.as_str()),
        ("g_tcp", "g_tcp_r0")
    );
    assert_eq!((log.status, log.total_ms, log.bytes), (None, Some(7), Some(5)));
    assert_eq!(log.termination.as_deref(), Some("--"));
}

#[tokio::test]
async fn captured_lines_are_counted_per_gateway_and_route() {
    let aggregator = Arc::new(Aggregator::default());
    let pipeline = LogPipeline::new(names(), aggregator.clone(), Forwarder::none());
    for line in CAPTURED_LINES.lines() {
        assert_eq!(pipeline.handle(line.as_bytes()), Handled::Recorded, "{line}");
    }
    let minute = Duration::from_secs(60);
    let shop = aggregator.window_now("shop", None, minute).unwrap();
    assert_eq!((shop.requests, shop.status), (9, [0, 4, 0, 3, 2]));
    let v1 = aggregator.window_now("shop", Some("shop/v1"), minute).unwrap();
    assert_eq!((v1.requests, v1.status[4]), (2, 2));
    assert_eq!(v1.latency.max(), Some(3008.0));
    let db = aggregator.window_now("db", Some("db/v1"), minute).unwrap();
    assert_eq!((db.requests, db.status), (1, [0; 5]));
    assert_eq!(pipeline.counters().snapshot().parse_errors, 0);
}

#[tokio::test]
async fn lines_of_unknown_frontends_and_foreign_lines_are_counted_not_recorded() {
    let aggregator = Arc::new(Aggregator::default());
    let pipeline = LogPipeline::new(names(), aggregator.clone(), Forwarder::none());
    let stats = r#"<134>Nov 22 03:12:00 haproxy[1]: {"ft":"vamp_stats","b":"vamp_stats","ST":200,"Tt":0}"#;
    assert_eq!(pipeline.handle(stats.as_bytes()), Handled::UnknownFrontend);
    let alert =
        "<129>Nov 22 03:12:00 haproxy[1]: Server g_abc_r0/s1 is DOWN, reason: Layer4 connection problem";
    assert_eq!(pipeline.handle(alert.as_bytes()), Handled::NotAnAccessLog);
    let truncated = &CAPTURED_LINES[..120];
    assert_eq!(pipeline.handle(truncated.as_bytes()), Handled::NotAnAccessLog);
    assert_eq!(pipeline.handle(&[0xff, 0xfe, b'{']), Handled::NotAnAccessLog);
    let counters = pipeline.counters().snapshot();
    assert_eq!((counters.unknown_frontend, counters.parse_errors), (1, 3));
    assert!(aggregator.totals().is_empty());
}

#[tokio::test]
async fn a_new_configuration_renames_what_follows() {
    let aggregator = Arc::new(Aggregator::default());
    let pipeline = LogPipeline::new(Names::new(), aggregator.clone(), Forwarder::none());
    let line = CAPTURED_LINES.lines().next().unwrap();
    assert_eq!(
        pipeline.handle(line.as_bytes()),
        Handled::UnknownFrontend,
        "no configuration yet"
    );
    pipeline.names().update(&Envelope::parse(
        "global\n# vamp-gateway-agent data: map files and names (HAProxy ignores comment lines)\n#@vamp 1\n#@gateway g_abc shop\n",
    ).unwrap());
    assert_eq!(pipeline.handle(line.as_bytes()), Handled::Recorded);
    assert_eq!(
        aggregator
            .window_now("shop", None, Duration::from_secs(60))
            .unwrap()
            .requests,
        1
    );
}
