//! Attacks: bounds (see docs/security.md).
