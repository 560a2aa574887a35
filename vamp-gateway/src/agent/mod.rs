//! The gateway agent: watches the configuration key, applies it to HAProxy, serves health and metrics.
