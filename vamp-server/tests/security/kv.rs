//! Attacks: kv (see docs/security.md).
