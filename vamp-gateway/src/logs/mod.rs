//! HAProxy access logs: receiving, parsing, aggregating into metrics, and forwarding.
