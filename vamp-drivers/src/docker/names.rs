//! Container and record names: `<prefix>-<namespace>-<deployment>-<cluster>-<service>` plus `-<instance>`.
//!
//! Names are for people; the driver identifies its containers by labels. A name is still unique per service:
//! when every part is plain (a letter or digit, then letters, digits, `_` and `.`) the parts are joined as they
//! are, which no other service can repeat since no part holds the `-` separator. Otherwise each part is
//! sanitized (characters Docker refuses become `_`) and the first 8 hex digits of the SHA-1 of the service id
//! are appended, so `sava:1.0` and `sava_1.0` still differ. A name longer than [`MAX_BASE_LEN`] becomes
//! `<prefix>-<20 hex digits>`, as the original shortened Marathon ids.

use sha1::{Digest, Sha1};
use vamp_core::driver::ServiceId;

/// The longest service name (without the instance suffix) kept readable.
pub const MAX_BASE_LEN: usize = 100;

/// Lowercase hex of the SHA-1 of `text`.
pub(crate) fn sha1_hex(text: &[u8]) -> String {
    Sha1::digest(text).iter().map(|b| format!("{b:02x}")).collect()
}

fn plain(part: &str) -> bool {
    part.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
}

fn sanitized(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name of the service's record and the stem of its container names.
pub fn service_name(prefix: &str, id: &ServiceId) -> String {
    let parts = [&id.namespace, &id.deployment, &id.cluster, &id.service];
    let hash = sha1_hex(id.to_string().as_bytes());
    let name = if parts.iter().all(|p| plain(p)) {
        format!("{prefix}-{}", parts.map(|p| p.as_str()).join("-"))
    } else {
        let joined: Vec<String> = parts.iter().map(|p| sanitized(p)).collect();
        format!("{prefix}-{}-{}", joined.join("-"), hash.get(..8).unwrap_or(&hash))
    };
    if name.len() > MAX_BASE_LEN {
        format!("{prefix}-{}", hash.get(..20).unwrap_or(&hash))
    } else {
        name
    }
}

/// The name of instance `index` of the service named `base`.
pub fn instance_name(base: &str, index: u32) -> String {
    format!("{base}-{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ns: &str, d: &str, c: &str, s: &str) -> ServiceId {
        ServiceId::new(ns, d, c, s)
    }

    #[test]
    fn plain_parts_are_joined_as_they_are() {
        assert_eq!(
            service_name("vamp", &id("default", "shop", "web", "sava_1.0")),
            "vamp-default-shop-web-sava_1.0"
        );
        assert_eq!(
            instance_name("vamp-default-shop-web-sava", 2),
            "vamp-default-shop-web-sava-2"
        );
    }

    #[test]
    fn invalid_characters_are_replaced_and_a_hash_keeps_names_apart() {
        let colon = service_name("vamp", &id("default", "shop", "web", "sava:1.0"));
        let underscore = service_name("vamp", &id("default", "shop", "web", "sava_1.0"));
        assert!(colon.starts_with("vamp-default-shop-web-sava_1.0-"), "{colon}");
        assert_ne!(colon, underscore);
    }

    #[test]
    fn dashes_inside_parts_cannot_make_two_services_share_a_name() {
        let a = service_name("vamp", &id("ns", "a-b", "c", "s"));
        let b = service_name("vamp", &id("ns", "a", "b-c", "s"));
        assert_ne!(a, b);
    }

    #[test]
    fn long_names_become_a_hash() {
        let long = "x".repeat(200);
        let name = service_name("vamp", &id("ns", &long, "c", "s"));
        assert_eq!(name.len(), "vamp-".len() + 20);
        assert!(name.chars().skip(5).all(|c| c.is_ascii_hexdigit()), "{name}");
    }
}
