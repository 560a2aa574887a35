//! `ServerSettings` reads kebab-case keys, leaves out nothing it does not default, and refuses settings that
//! cannot work when a `Vamp` is built.

use vamp_core::ErrorKind;
use vamp_server::{ServerSettings, Vamp};

#[test]
fn settings_read_kebab_case_and_default_the_rest() {
    let s: ServerSettings = serde_json::from_value(serde_json::json!({
        "namespace": "shop",
        "synchronization": {"period-ms": 3000, "deploy-timeout-s": 60},
        "gateways": {"port-range": "41000-41010", "bind": "0.0.0.0"},
        "agent": {"haproxy": "/usr/sbin/haproxy"},
        "deployment": {"instances": 2}
    }))
    .unwrap();
    assert_eq!(s.namespace, "shop");
    assert_eq!(s.synchronization.period_ms, 3000);
    assert_eq!(s.synchronization.busy_period_ms, 250);
    assert_eq!(s.synchronization.timeouts().deploy.as_secs(), 60);
    assert_eq!(s.gateways.bind, "0.0.0.0");
    assert_eq!(s.gateways.vhost_bind, "127.0.0.1:40080");
    assert_eq!(s.deployment.scale().instances, 2);
    assert_eq!(s.reconcile_config().namespace, "shop");
}

#[test]
fn the_default_settings_bind_gateways_to_loopback() {
    let s = ServerSettings::default();
    assert_eq!(s.gateways.bind, "127.0.0.1");
    assert!(s.gateways.vhost_bind.starts_with("127.0.0.1:"));
    assert_eq!(s.synchronization.period_ms, 6000);
}

#[test]
fn a_namespace_that_cannot_be_a_key_segment_is_refused() {
    let e = Vamp::builder().namespace("a/b").build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(Vamp::builder().namespace("team-a").build().is_ok());
}
