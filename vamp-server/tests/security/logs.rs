//! Attacks: logs (see docs/security.md).
