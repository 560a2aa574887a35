//! Conformance cases of [`GatewayMarshaller`]: determinism, order independence, refusal of duplicates and the
//! key the output goes to.

use super::{err, ok};
use crate::gateway::GatewayMarshaller;
use crate::kv::gateway_configuration_key;
use crate::model::{Gateway, GatewayPort, GatewayRoute, Percentage, Protocol, Ref, Route, RouteTarget};
use crate::ErrorKind;

/// Gateways every marshaller must be able to render: an external one splitting traffic over two resolved
/// routes, and an internal TCP one with one route.
fn gateways() -> Vec<Gateway> {
    let route = |path: &str, weight: u8, port: u16| {
        let mut r = GatewayRoute::new(path);
        r.route = Ref::Inline(Route {
            weight: Some(Percentage(weight)),
            ..Route::default()
        });
        r.targets = vec![RouteTarget::Internal {
            name: format!("{path}-0"),
            host: Some("10.0.0.1".into()),
            port,
        }];
        r
    };
    let mut edge = Gateway::new(
        "shop/web",
        GatewayPort {
            number: 9050,
            protocol: Protocol::Http,
        },
    );
    edge.routes = vec![route("shop/v1/web", 90, 31001), route("shop/v2/web", 10, 31002)];
    let mut db = Gateway::new(
        "shop/db/port",
        GatewayPort {
            number: 9060,
            protocol: Protocol::Tcp,
        },
    );
    db.routes = vec![route("shop/db/redis/port", 100, 31003)];
    vec![edge, db]
}

/// Rendering the same gateways twice gives the same bytes.
pub async fn render_is_deterministic(marshaller: &dyn GatewayMarshaller) {
    let first = ok("render", marshaller.render(&gateways()));
    assert!(!first.is_empty(), "the rendering is empty");
    assert_eq!(first, ok("render again", marshaller.render(&gateways())));
}

/// The output does not depend on the order of the gateways given.
pub async fn render_ignores_the_input_order(marshaller: &dyn GatewayMarshaller) {
    let mut reversed = gateways();
    reversed.reverse();
    assert_eq!(
        ok("render", marshaller.render(&gateways())),
        ok("render reversed", marshaller.render(&reversed))
    );
}

/// Rendering no gateway succeeds (an empty proxy is a valid state).
pub async fn render_of_no_gateway_succeeds(marshaller: &dyn GatewayMarshaller) {
    ok("render of nothing", marshaller.render(&[]));
}

/// Two gateways with the same name are `Invalid`.
pub async fn a_duplicate_gateway_is_invalid(marshaller: &dyn GatewayMarshaller) {
    let mut twice = gateways();
    twice.extend(gateways());
    assert_eq!(
        err("render of duplicates", marshaller.render(&twice)).kind(),
        ErrorKind::Invalid
    );
}

/// The output key is `/vamp/<namespace>/gateways/<kind>/<version>/configuration` of the marshaller's info.
pub async fn the_key_follows_kind_and_version(marshaller: &dyn GatewayMarshaller) {
    let info = marshaller.info();
    let expected = ok(
        "expected key",
        gateway_configuration_key("default", &info.kind, &info.version),
    );
    assert_eq!(ok("key", marshaller.key("default")), expected);
}

/// A namespace that is not a valid key segment is `Invalid`.
pub async fn an_invalid_namespace_is_invalid(marshaller: &dyn GatewayMarshaller) {
    assert_eq!(
        err("key of 'a b'", marshaller.key("a b")).kind(),
        ErrorKind::Invalid
    );
}
