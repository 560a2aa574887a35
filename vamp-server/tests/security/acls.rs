//! Attacks: acls (see docs/security.md).
