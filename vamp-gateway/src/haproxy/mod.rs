//! The HAProxy marshaller: gateways → a complete HAProxy 2.6 configuration plus the agent data trailer.

pub mod envelope;
