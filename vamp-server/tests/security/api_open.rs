//! Attacks: api_open (see docs/security.md).
