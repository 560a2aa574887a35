//! Attacks: secrets (see docs/security.md).
