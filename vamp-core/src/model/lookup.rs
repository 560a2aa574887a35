//! `lookup_name`: the stable hash the original Vamp derives from an artifact's kind and name.
//!
//! It is the lowercase hex of SHA-1 over `"<JVM class>@<name>" + "v1"`, with leading zeros dropped (the original
//! printed it with `BigInteger.toString(16)`). HAProxy frontends and backends are named after it, so access logs
//! carry it and metrics can be matched back to gateways and routes.

use sha1::{Digest, Sha1};

fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The hash of `"<class>@<name>v1"`.
pub fn lookup(class: &str, name: &str) -> String {
    let mut h = Sha1::new();
    h.update(format!("{class}@{name}v1").as_bytes());
    hex_without_leading_zeros(&h.finalize())
}

/// The `lookup_name` of a gateway.
pub fn gateway_lookup(name: &str) -> String {
    lookup("class io.vamp.model.artifact.Gateway", name)
}

/// The `lookup_name` of a deployment.
pub fn deployment_lookup(name: &str) -> String {
    lookup("class io.vamp.model.artifact.Deployment", name)
}

/// The `lookup_name` of a breed.
pub fn breed_lookup(name: &str) -> String {
    lookup("class io.vamp.model.artifact.DefaultBreed", name)
}

/// The `lookup_name` of a route of a gateway: the hash of `"<gateway>/<route segments padded with '*' to 4>"`.
pub fn route_lookup(gateway: &str, route_segments: &[String]) -> String {
    let mut parts: Vec<&str> = route_segments.iter().map(String::as_str).collect();
    while parts.len() < 4 {
        parts.push("*");
    }
    lookup(
        "class io.vamp.model.artifact.GatewayPath",
        &format!("{gateway}/{}", parts.join("/")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_sha1_hex_of_class_name_and_version() {
        let expected = {
            let mut h = Sha1::new();
            h.update(b"class io.vamp.model.artifact.Gateway@sava/9050v1");
            hex_without_leading_zeros(&h.finalize())
        };
        assert_eq!(gateway_lookup("sava/9050"), expected);
        assert!(gateway_lookup("sava/9050").len() <= 40);
    }

    #[test]
    fn leading_zeros_are_dropped() {
        assert_eq!(hex_without_leading_zeros(&[0, 0x0a, 0xbc]), "abc");
        assert_eq!(hex_without_leading_zeros(&[0, 0]), "0");
    }

    #[test]
    fn route_lookup_pads_segments_with_stars() {
        let a = route_lookup("g", &["d".into(), "c".into()]);
        let b = lookup("class io.vamp.model.artifact.GatewayPath", "g/d/c/*/*");
        assert_eq!(a, b);
    }
}
