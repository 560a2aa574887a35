//! Default virtual hosts: the host names a gateway answers to on the agent's port 80 besides the ones the user
//! gives (`vamp.operation.gateway.virtual-hosts` in the original).

use serde::Deserialize;

use crate::model::Gateway;

/// The formats of the generated host names. `$gateway`, `$deployment`, `$cluster` and `$port` stand for the
/// segments of the gateway's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct VirtualHostFormats {
    /// For a user gateway `gw`; default `$gateway.vamp`.
    pub gateway: String,
    /// For a deployment gateway `deployment/port`; default `$port.$deployment.vamp`.
    pub deployment_port: String,
    /// For an internal gateway `deployment/cluster/port`; default `$port.$cluster.$deployment.vamp`.
    pub deployment_cluster_port: String,
}

impl Default for VirtualHostFormats {
    fn default() -> Self {
        VirtualHostFormats {
            gateway: "$gateway.vamp".to_string(),
            deployment_port: "$port.$deployment.vamp".to_string(),
            deployment_cluster_port: "$port.$cluster.$deployment.vamp".to_string(),
        }
    }
}

/// Whether default virtual hosts are generated, and their formats. The defaults are the original's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct VirtualHostConfig {
    /// Generate default virtual hosts; default `true`.
    pub enabled: bool,
    /// The formats.
    pub formats: VirtualHostFormats,
}

impl Default for VirtualHostConfig {
    fn default() -> Self {
        VirtualHostConfig {
            enabled: true,
            formats: VirtualHostFormats::default(),
        }
    }
}

/// A name segment made fit for a host name: a segment that starts with a letter or digit has every character
/// that is not a letter or digit replaced by `-` (`sava:1.0` → `sava-1-0`); any other segment is kept as is.
fn host_segment(segment: &str) -> String {
    let starts_alphanumeric = segment
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c.is_ascii_digit());
    if !starts_alphanumeric {
        return segment.to_string();
    }
    segment
        .chars()
        .map(|c| {
            if c.is_alphabetic() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Substitutes `$name` placeholders in one pass, so a value that itself contains `$…` is never substituted again.
fn substitute(format: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut rest = format;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match values.iter().find(|(name, _)| after.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &after[name.len()..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The default virtual hosts of the gateway called `name`: one host name for a 1-, 2- or 3-segment name built
/// from the matching format, none for a 4-segment name or when generation is disabled.
///
/// With the default formats `gw` → `gw.vamp`, `shop/9050` → `9050.shop.vamp`, `shop/web/port` →
/// `port.web.shop.vamp`; segments are cleaned first (see the module's rule: non-alphanumerics become `-` in a
/// segment that starts with a letter or digit).
pub fn default_virtual_hosts(name: &str, config: &VirtualHostConfig) -> Vec<String> {
    if !config.enabled {
        return Vec::new();
    }
    let segments: Vec<String> = name.split('/').map(host_segment).collect();
    let f = &config.formats;
    let host = match segments.as_slice() {
        [g] => substitute(&f.gateway, &[("gateway", g)]),
        [d, p] => substitute(&f.deployment_port, &[("deployment", d), ("port", p)]),
        [d, c, p] => substitute(
            &f.deployment_cluster_port,
            &[("deployment", d), ("cluster", c), ("port", p)],
        ),
        _ => return Vec::new(),
    };
    vec![host]
}

/// The gateway's virtual hosts: the user's first, in their order, then the defaults; each name once.
pub fn merge_virtual_hosts(gateway: &Gateway, config: &VirtualHostConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(gateway.virtual_hosts.len() + 1);
    for host in gateway
        .virtual_hosts
        .iter()
        .cloned()
        .chain(default_virtual_hosts(&gateway.name, config))
    {
        if !out.contains(&host) {
            out.push(host);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GatewayPort;

    #[test]
    fn each_name_form_has_its_default_host() {
        let c = VirtualHostConfig::default();
        assert_eq!(default_virtual_hosts("gw", &c), vec!["gw.vamp"]);
        assert_eq!(default_virtual_hosts("shop/9050", &c), vec!["9050.shop.vamp"]);
        assert_eq!(
            default_virtual_hosts("shop/frontend/web", &c),
            vec!["web.frontend.shop.vamp"]
        );
        assert!(default_virtual_hosts("a/b/c/d", &c).is_empty());
    }

    #[test]
    fn non_alphanumerics_become_dashes_in_segments_starting_alphanumeric() {
        let c = VirtualHostConfig::default();
        assert_eq!(
            default_virtual_hosts("my_shop/front.end/web:1", &c),
            vec!["web-1.front-end.my-shop.vamp"]
        );
        assert_eq!(default_virtual_hosts("_x", &c), vec!["_x.vamp"]);
    }

    #[test]
    fn disabled_generation_gives_no_defaults() {
        let c = VirtualHostConfig {
            enabled: false,
            ..VirtualHostConfig::default()
        };
        assert!(default_virtual_hosts("gw", &c).is_empty());
    }

    #[test]
    fn custom_formats_are_used_and_substituted_once() {
        let mut c = VirtualHostConfig::default();
        c.formats.deployment_cluster_port = "$cluster-$port.$deployment.example.com".into();
        c.formats.gateway = "$gateway.$unknown".into();
        assert_eq!(
            default_virtual_hosts("shop/web/port", &c),
            vec!["web-port.shop.example.com"]
        );
        assert_eq!(default_virtual_hosts("$port", &c), vec!["$port.$unknown"]);
    }

    #[test]
    fn user_hosts_come_first_without_duplicates() {
        let mut g = Gateway::new("shop/9050", GatewayPort::default());
        g.virtual_hosts = vec![
            "shop.example.com".into(),
            "9050.shop.vamp".into(),
            "shop.example.com".into(),
        ];
        let hosts = merge_virtual_hosts(&g, &VirtualHostConfig::default());
        assert_eq!(hosts, vec!["shop.example.com", "9050.shop.vamp"]);
    }

    #[test]
    fn config_reads_the_original_keys() {
        let c: VirtualHostConfig = serde_json::from_str(
            r#"{"enabled": false, "formats": {"deployment-port": "$deployment-$port.lan"}}"#,
        )
        .unwrap();
        assert!(!c.enabled);
        assert_eq!(c.formats.deployment_port, "$deployment-$port.lan");
        assert_eq!(c.formats.gateway, "$gateway.vamp");
    }
}
