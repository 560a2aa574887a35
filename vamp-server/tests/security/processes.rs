//! Attacks: processes (see docs/security.md).
