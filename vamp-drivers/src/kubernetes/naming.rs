//! Names and label values of the Kubernetes objects Vamp creates: the rules that turn Vamp names (which may hold
//! `:`, `/`, capitals and any length) into names and label values the API server accepts, deterministically, so
//! the same service always maps to the same object.

use sha1::{Digest, Sha1};
use vamp_core::driver::ServiceId;

/// The longest name part kept as written; longer parts are hashed (the original driver's limit: `< 32`).
const PART_LIMIT: usize = 32;
/// The longest gateway Service name kept as written (the original's limit for Services: `< 25`).
const SERVICE_NAME_LIMIT: usize = 25;
/// The longest value a label may have.
const LABEL_VALUE_LIMIT: usize = 63;
/// The longest namespace name (a DNS-1123 label).
const NAMESPACE_LIMIT: usize = 63;

/// Lowercase hex of the SHA-1 of `text`, 40 characters.
pub(crate) fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn first_20_hex(text: &str) -> String {
    sha1_hex(text).chars().take(20).collect()
}

fn is_lower_alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Whether `text` is a DNS-1123 label body: lowercase letters, digits and `-`, starting and ending with a letter or
/// digit (length not checked).
fn is_dns_label(text: &str) -> bool {
    let starts = text.chars().next().is_some_and(is_lower_alphanumeric);
    let ends = text.chars().last().is_some_and(is_lower_alphanumeric);
    starts && ends && text.chars().all(|c| is_lower_alphanumeric(c) || c == '-')
}

/// One part of an object name, by the original driver's rule: the Vamp name itself when it is made of lowercase
/// letters, digits and `-`, starts with a letter or digit and is shorter than 32 characters; otherwise the first 20
/// hex characters of its SHA-1.
///
/// One tightening over the original: a part must also end with a letter or digit, because the API server refuses
/// names ending in `-` (the original would have sent them and failed).
pub fn name_part(name: &str) -> String {
    if name.len() < PART_LIMIT && is_dns_label(name) {
        name.to_string()
    } else {
        first_20_hex(name)
    }
}

/// The name of the Deployment that runs `id`: `<deployment>-<cluster>-<service>`, each part by [`name_part`].
///
/// The original named it `<deployment>-<breed>`; the cluster is added because a [`ServiceId`] tells services
/// apart by cluster too, and two clusters may run the same breed. At most 95 characters, a valid DNS-1123
/// subdomain.
pub fn deployment_name(id: &ServiceId) -> String {
    format!(
        "{}-{}-{}",
        name_part(&id.deployment),
        name_part(&id.cluster),
        name_part(&id.service)
    )
}

/// The name of the container that runs `id` inside its pods: the service part of [`deployment_name`].
pub fn container_name(id: &ServiceId) -> String {
    name_part(&id.service)
}

/// The Kubernetes namespace of a Vamp namespace: the name itself when it is a DNS-1123 label of at most 63
/// characters (`default`, `shop-prod`), otherwise `vamp-` and the first 20 hex characters of its SHA-1.
pub fn namespace_name(namespace: &str) -> String {
    if namespace.len() <= NAMESPACE_LIMIT && is_dns_label(namespace) {
        namespace.to_string()
    } else {
        format!("vamp-{}", first_20_hex(namespace))
    }
}

/// The name of the Service of gateway `gateway`, by the original driver's rule for Services: the gateway name when
/// it starts with a letter, holds only lowercase letters, digits and `-`, ends with a letter or digit and is shorter
/// than 25 characters; otherwise `hex` and the first 20 hex characters of its SHA-1 (deployment gateways such as
/// `shop/8080` always take the second form).
pub fn gateway_service_name(gateway: &str) -> String {
    let starts_with_letter = gateway.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if gateway.len() < SERVICE_NAME_LIMIT && starts_with_letter && is_dns_label(gateway) {
        gateway.to_string()
    } else {
        format!("hex{}", first_20_hex(gateway))
    }
}

fn is_label_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Whether `value` is a valid label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit.
pub fn is_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let starts = value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ends = value.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= LABEL_VALUE_LIMIT && starts && ends && value.chars().all(is_label_value_char)
}

/// A label value for `value`: the value itself when it is valid ([`is_label_value`]); otherwise its characters
/// outside `[A-Za-z0-9._-]` replaced by `_`, cut to 52 characters, trimmed to start and end with a letter or digit,
/// and followed by `-` and the first 10 hex characters of the SHA-1 of the original, so that two values that
/// sanitize alike (`sava:1.0`, `sava_1.0`) still get different labels. The full value goes into an annotation.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        return value.to_string();
    }
    let replaced: String = value
        .chars()
        .map(|c| if is_label_value_char(c) { c } else { '_' })
        .take(52)
        .collect();
    let trimmed = replaced.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let hash: String = sha1_hex(value).chars().take(10).collect();
    if trimmed.is_empty() {
        hash
    } else {
        format!("{trimmed}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_hex_is_the_full_lowercase_digest() {
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn a_short_lowercase_name_is_kept() {
        assert_eq!(name_part("sava"), "sava");
        assert_eq!(name_part("sava-1-0"), "sava-1-0");
        assert_eq!(name_part("1st"), "1st");
    }

    #[test]
    fn a_name_of_32_characters_or_more_is_hashed() {
        let long = "a".repeat(32);
        assert_eq!(name_part(&long), first_20_hex(&long));
        assert_eq!(name_part(&"a".repeat(31)), "a".repeat(31));
    }

    #[test]
    fn a_name_with_other_characters_is_hashed() {
        assert_eq!(name_part("sava:1.0"), first_20_hex("sava:1.0"));
        assert_eq!(name_part("Sava"), first_20_hex("Sava"));
        assert_eq!(name_part("-sava"), first_20_hex("-sava"));
        assert_eq!(name_part("sava-"), first_20_hex("sava-"));
        assert_eq!(name_part(""), first_20_hex(""));
        assert_eq!(name_part("sava:1.0").len(), 20);
    }

    #[test]
    fn deployment_names_join_deployment_cluster_and_service() {
        let id = ServiceId::new("default", "shop", "web", "sava:1.0");
        assert_eq!(
            deployment_name(&id),
            format!("shop-web-{}", first_20_hex("sava:1.0"))
        );
    }

    #[test]
    fn namespaces_that_are_dns_labels_are_kept() {
        assert_eq!(namespace_name("default"), "default");
        assert_eq!(
            namespace_name("Tenant A"),
            format!("vamp-{}", first_20_hex("Tenant A"))
        );
        assert_eq!(namespace_name(&"n".repeat(63)), "n".repeat(63));
        assert!(namespace_name(&"n".repeat(64)).starts_with("vamp-"));
    }

    #[test]
    fn gateway_service_names_follow_the_service_rule() {
        assert_eq!(gateway_service_name("shop"), "shop");
        assert_eq!(
            gateway_service_name("shop/8080"),
            format!("hex{}", first_20_hex("shop/8080"))
        );
        assert!(gateway_service_name("1shop").starts_with("hex"));
        assert!(gateway_service_name(&"g".repeat(25)).starts_with("hex"));
        assert_eq!(gateway_service_name(&"g".repeat(24)), "g".repeat(24));
    }

    #[test]
    fn valid_label_values_are_kept() {
        assert_eq!(label_value("shop"), "shop");
        assert_eq!(label_value("Sava_1.0"), "Sava_1.0");
        assert_eq!(label_value(""), "");
    }

    #[test]
    fn invalid_label_values_are_sanitized_and_told_apart() {
        let colon = label_value("sava:1.0");
        let underscore = label_value("sava_1.0");
        assert!(colon.starts_with("sava_1.0-"), "{colon}");
        assert_eq!(underscore, "sava_1.0");
        assert_ne!(colon, label_value("sava;1.0"));
        for value in ["sava:1.0", "/a/b/", &"x".repeat(100), "::"] {
            assert!(is_label_value(&label_value(value)), "{value}");
        }
    }
}
