//! HAProxy gateways for Vamp.
//!
//! This crate will hold the HAProxy `GatewayMarshaller` (handlebars templates) and the gateway agent
//! (`vamp-gateway-agent`) that watches the configuration key and applies it to HAProxy without dropping requests.

pub use vamp_core::gateway::GatewayMarshaller;
