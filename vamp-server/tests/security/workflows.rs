//! Attacks: workflows (see docs/security.md).
