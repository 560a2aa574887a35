//! Attacks: templates (see docs/security.md).
