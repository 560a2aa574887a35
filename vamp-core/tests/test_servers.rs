//! The real servers backend tests use start, answer, stop and start again on the same port.

use vamp_core::testkit::servers::{exchange, TestServer};

fn cycle(mut server: TestServer, probe: &[u8], expect: &str) {
    let port = server.port();
    assert!(
        exchange(port, probe).is_some_and(|r| r.contains(expect)),
        "not answering after start"
    );
    server.stop();
    assert!(!server.is_running());
    assert!(
        exchange(port, probe).is_none_or(|r| !r.contains(expect)),
        "still answering after stop"
    );
    server.start().expect("restart");
    assert_eq!(server.port(), port);
    assert!(
        exchange(port, probe).is_some_and(|r| r.contains(expect)),
        "not answering after restart"
    );
}

#[test]
fn etcd_starts_stops_and_restarts() {
    cycle(
        TestServer::etcd().expect("etcd"),
        b"GET /health HTTP/1.0\r\n\r\n",
        "true",
    );
}

#[test]
fn zookeeper_starts_stops_and_restarts() {
    cycle(
        TestServer::zookeeper().expect("zookeeper"),
        b"srvr",
        "Zookeeper version",
    );
}

#[test]
fn redis_starts_stops_and_restarts() {
    cycle(TestServer::redis().expect("redis"), b"PING\r\n", "PONG");
}

#[test]
fn postgres_starts_stops_and_restarts() {
    let server = TestServer::postgres().expect("postgres");
    assert!(server.dir().join("data/PG_VERSION").exists());
    cycle(server, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", "N");
}
