//! `HaproxyOptions`: how the HAProxy marshaller renders.

use std::time::Duration;

use serde::Deserialize;

/// Options of [`super::HaproxyMarshaller`]; missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HaproxyOptions {
    /// Whether raw HAProxy text is accepted: raw ACLs (`< … >` condition operands) and rewrite conditions.
    /// Default `false`: such conditions and rewrites are refused, naming the gateway, route and condition.
    /// When `true`, raw text is checked to stay on its line and inside its expression (no control character,
    /// no `#` outside quotes, balanced quotes, braces and parentheses) and never to read beyond the request (no
    /// `$` environment expansion, no `-f`/`-M` file flags, no `env()` fetch, no `map…()` converter), but it can
    /// test anything else HAProxy can.
    pub allow_raw_acls: bool,
    /// `maxconn` in the `global` section. Default 4096.
    pub maxconn: u32,
    /// Limits on user templates (the bundled template is not subject to them).
    pub template_limits: TemplateLimits,
}

impl Default for HaproxyOptions {
    fn default() -> Self {
        HaproxyOptions {
            allow_raw_acls: false,
            maxconn: 4096,
            template_limits: TemplateLimits::default(),
        }
    }
}

impl HaproxyOptions {
    /// The same options with raw ACLs and rewrites allowed (or not).
    pub fn with_raw_acls(mut self, allow: bool) -> Self {
        self.allow_raw_acls = allow;
        self
    }
}

/// What a user template may cost: checked when it is compiled and each time it renders, so a hostile template
/// fails with `Invalid` instead of exhausting the stack, memory or time of the process rendering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TemplateLimits {
    /// The template's size in bytes. Default 256 KiB (the bundled template is under 5 KiB).
    pub max_template_bytes: usize,
    /// How deeply blocks (`{{#…}}`) and parentheses may nest in the template. Default 32.
    pub max_nesting: usize,
    /// The rendered configuration's size in bytes. Default 64 MiB.
    pub max_output_bytes: usize,
    /// How long one rendering may take (`render_timeout_ms` when deserialized). Default 10 s.
    #[serde(rename = "render_timeout_ms", with = "millis")]
    pub render_timeout: Duration,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        TemplateLimits {
            max_template_bytes: 256 * 1024,
            max_nesting: 32,
            max_output_bytes: 64 * 1024 * 1024,
            render_timeout: Duration::from_secs(10),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
