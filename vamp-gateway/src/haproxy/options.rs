//! `HaproxyOptions`: how the HAProxy marshaller renders.

use serde::Deserialize;

/// Options of [`super::HaproxyMarshaller`]; missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HaproxyOptions {
    /// Whether raw HAProxy text is accepted: raw ACLs (`< … >` condition operands) and rewrite conditions.
    /// Default `true`, as in the original Vamp. It is a deliberate escape hatch: raw text is checked to stay on
    /// its line and inside its expression (no control character, no `#` outside quotes, balanced quotes, braces
    /// and parentheses), but it can test anything HAProxy can. Set to `false` when the people who write
    /// gateways should not write HAProxy expressions; such conditions and rewrites are then refused.
    pub allow_raw_acls: bool,
    /// `maxconn` in the `global` section. Default 4096.
    pub maxconn: u32,
}

impl Default for HaproxyOptions {
    fn default() -> Self {
        HaproxyOptions {
            allow_raw_acls: true,
            maxconn: 4096,
        }
    }
}
