//! The `GatewayMarshaller` trait: renders gateways into a proxy configuration.
