//! Vamp's gateway layer: HAProxy configuration rendered from handlebars templates ([`haproxy`]), and the gateway
//! agent ([`agent`]) that watches that configuration in a key-value store and applies it to a local HAProxy —
//! through the runtime API when it can, by a hitless master-worker reload only when listeners change — while
//! turning HAProxy's access logs into metrics ([`logs`]).
//!
//! The design, the HAProxy structure and its semantics are in `docs/gateway.md`.

pub mod agent;
pub mod haproxy;
pub mod logs;
