//! What the Kubernetes driver is configured with, and how a `kubernetes://` URL sets it.
//!
//! URL forms:
//! - `kubernetes://` — the cluster of the environment, found by [`kube::Config::infer`]: `KUBECONFIG` or
//!   `~/.kube/config`, else the in-cluster service account;
//! - `kubernetes://host:port[/prefix]` (also `kubernetes+http://`) — an API server over plain HTTP, such as
//!   `kubectl proxy`;
//! - `kubernetes+https://host:port[/prefix]` — an API server over HTTPS.
//!
//! Query parameters (all optional): `service-type=NodePort|LoadBalancer`, `create-services=true|false`,
//! `create-namespaces=true|false`, `gateway-agent-label=io.vamp`, `gateway-agent-id=vamp-gateway-agent`,
//! `propagation=background|foreground|orphan`, `token-file=/path`, `ca-file=/path.pem`, `tls-check=true|false`,
//! `timeout=30` (seconds). The bearer token itself is never taken from the URL (URLs end up in logs): it comes from
//! [`KubernetesConfig::bearer`], else the environment variable [`BEARER_VARIABLE`], else the token file.

use std::path::PathBuf;
use std::time::Duration;

use vamp_core::{Error, Result};

/// The environment variable holding a bearer token for an explicit API server URL.
pub const BEARER_VARIABLE: &str = "VAMP_KUBERNETES_BEARER";
/// The service-account token the original driver read when no bearer token was configured.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How a gateway's Service is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceType {
    /// A port on every node (the original's default).
    #[default]
    NodePort,
    /// A cloud load balancer in front of the node ports.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling: `NodePort` or `LoadBalancer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// What happens to the pods of a Deployment when `undeploy` deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// The Deployment goes at once; the garbage collector removes its ReplicaSets and pods afterwards.
    #[default]
    Background,
    /// The Deployment stays (marked as deleting, so `list` leaves it out) until its pods are gone.
    Foreground,
    /// The pods are left running without an owner; for taking a service out of Vamp's hands.
    Orphan,
}

/// Where the API server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Found from the environment (kubeconfig or in-cluster service account).
    Inferred,
    /// An explicit `http://` or `https://` URL of the API server.
    Explicit(String),
}

/// Settings of the Kubernetes driver; [`Default`] gives the original's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesConfig {
    /// How gateway Services are exposed.
    pub service_type: ServiceType,
    /// Whether gateway methods create Services at all (`create-services`); when `false` they do nothing.
    pub create_services: bool,
    /// Whether `deploy` creates the Kubernetes namespace of a Vamp namespace when it does not exist yet. Needs
    /// the right to create namespaces; turn it off when namespaces are made by someone else.
    pub create_namespaces: bool,
    /// The label key that marks gateway-agent pods; gateway Services select `gateway_agent_label=gateway_agent_id`.
    pub gateway_agent_label: String,
    /// The value of [`Self::gateway_agent_label`] on gateway-agent pods (the original's `vamp-gateway-agent-id`).
    pub gateway_agent_id: String,
    /// What `undeploy` does with the pods.
    pub propagation: Propagation,
    /// A bearer token for an explicit API server (the original's `bearer`).
    pub bearer: Option<String>,
    /// A file holding the bearer token, read when no token is given (the original's `token`).
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificate authority of an HTTPS API server.
    pub ca_file: Option<PathBuf>,
    /// Whether the API server's certificate is checked (the original's `tls-check`).
    pub tls_check: bool,
    /// How long one request may take (the original's `response-timeout`).
    pub timeout: Duration,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            service_type: ServiceType::NodePort,
            create_services: true,
            create_namespaces: true,
            gateway_agent_label: "io.vamp".to_string(),
            gateway_agent_id: "vamp-gateway-agent".to_string(),
            propagation: Propagation::Background,
            bearer: None,
            token_file: None,
            ca_file: None,
            tls_check: true,
            timeout: Duration::from_secs(30),
        }
    }
}

fn invalid_url(url: &str, why: &str) -> Error {
    Error::invalid(format!(
        "The Kubernetes driver URL '{url}' is not usable: {why}. Write kubernetes:// (kubeconfig or in-cluster), \
         kubernetes://host:port (plain HTTP) or kubernetes+https://host:port."
    ))
}

fn parse_bool(url: &str, key: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(invalid_url(
            url,
            &format!("'{key}' must be true or false, not '{value}'"),
        )),
    }
}

/// Splits a driver URL into where the API server is and the configuration its query sets over `base`.
pub fn parse_url(url: &str, base: KubernetesConfig) -> Result<(Endpoint, KubernetesConfig)> {
    let parsed = url::Url::parse(url).map_err(|e| invalid_url(url, &e.to_string()))?;
    let scheme = match parsed.scheme() {
        "kubernetes" | "kubernetes+http" => "http",
        "kubernetes+https" => "https",
        other => {
            return Err(invalid_url(
                url,
                &format!("the scheme '{other}' is not a Kubernetes one"),
            ))
        }
    };
    let mut config = base;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "service-type" => {
                config.service_type = match value.to_ascii_lowercase().as_str() {
                    "nodeport" => ServiceType::NodePort,
                    "loadbalancer" => ServiceType::LoadBalancer,
                    _ => return Err(invalid_url(url, "'service-type' must be NodePort or LoadBalancer")),
                }
            }
            "create-services" => config.create_services = parse_bool(url, &key, &value)?,
            "create-namespaces" => config.create_namespaces = parse_bool(url, &key, &value)?,
            "tls-check" => config.tls_check = parse_bool(url, &key, &value)?,
            "gateway-agent-label" => config.gateway_agent_label = value.into_owned(),
            "gateway-agent-id" => config.gateway_agent_id = value.into_owned(),
            "propagation" => {
                config.propagation = match value.to_ascii_lowercase().as_str() {
                    "background" => Propagation::Background,
                    "foreground" => Propagation::Foreground,
                    "orphan" => Propagation::Orphan,
                    _ => return Err(invalid_url(url, "'propagation' must be background, foreground or orphan")),
                }
            }
            "token-file" => config.token_file = Some(PathBuf::from(value.as_ref())),
            "ca-file" => config.ca_file = Some(PathBuf::from(value.as_ref())),
            "timeout" => {
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| invalid_url(url, "'timeout' must be a whole number of seconds"))?;
                config.timeout = Duration::from_secs(seconds.max(1));
            }
            "token" | "bearer" => {
                return Err(Error::invalid(format!(
                    "The Kubernetes driver URL carries a '{key}' parameter; a token in a URL ends up in logs, so it \
                     is refused (and not repeated here). Set {BEARER_VARIABLE} or token-file instead."
                )))
            }
            other => return Err(invalid_url(url, &format!("the parameter '{other}' is unknown"))),
        }
    }
    let endpoint = match parsed.host_str() {
        None | Some("") => {
            if scheme == "https" {
                return Err(invalid_url(url, "kubernetes+https:// needs a host"));
            }
            Endpoint::Inferred
        }
        Some(host) => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = parsed.path().trim_end_matches('/');
            Endpoint::Explicit(format!("{scheme}://{host}{port}{path}"))
        }
    };
    Ok((endpoint, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<(Endpoint, KubernetesConfig)> {
        parse_url(url, KubernetesConfig::default())
    }

    #[test]
    fn the_bare_scheme_infers_the_cluster() {
        let (endpoint, config) = parse("kubernetes://").unwrap();
        assert_eq!(endpoint, Endpoint::Inferred);
        assert_eq!(config, KubernetesConfig::default());
    }

    #[test]
    fn a_host_and_port_is_plain_http() {
        let (endpoint, _) = parse("kubernetes://127.0.0.1:8001").unwrap();
        assert_eq!(endpoint, Endpoint::Explicit("http://127.0.0.1:8001".into()));
        let (endpoint, _) = parse("kubernetes+http://proxy:80/k8s/").unwrap();
        assert_eq!(endpoint, Endpoint::Explicit("http://proxy:80/k8s".into()));
    }

    #[test]
    fn https_is_asked_for_by_the_scheme() {
        let (endpoint, _) = parse("kubernetes+https://api.example:6443").unwrap();
        assert_eq!(endpoint, Endpoint::Explicit("https://api.example:6443".into()));
        assert!(parse("kubernetes+https://").is_err());
    }

    #[test]
    fn the_query_sets_the_configuration() {
        let (_, config) = parse(
            "kubernetes://h:1?service-type=LoadBalancer&create-services=false&create-namespaces=no\
             &gateway-agent-label=app&gateway-agent-id=vga&propagation=foreground&tls-check=false&timeout=5\
             &token-file=/t&ca-file=/ca.pem",
        )
        .unwrap();
        assert_eq!(config.service_type, ServiceType::LoadBalancer);
        assert!(!config.create_services);
        assert!(!config.create_namespaces);
        assert_eq!(config.gateway_agent_label, "app");
        assert_eq!(config.gateway_agent_id, "vga");
        assert_eq!(config.propagation, Propagation::Foreground);
        assert!(!config.tls_check);
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.token_file, Some(PathBuf::from("/t")));
        assert_eq!(config.ca_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn unknown_parameters_and_tokens_in_the_url_are_refused() {
        for url in [
            "kubernetes://h:1?colour=red",
            "kubernetes://h:1?token=secret",
            "kubernetes://h:1?service-type=ClusterIP",
            "kubernetes://h:1?create-services=maybe",
            "docker://h:1",
        ] {
            let err = parse(url).unwrap_err();
            assert_eq!(err.kind(), vamp_core::ErrorKind::Invalid, "{url}");
            assert!(!err.message().contains("secret"), "{}", err.message());
        }
    }
}
