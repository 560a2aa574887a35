//! Where the Docker API is and how the driver behaves: the `docker://` URL and [`DockerConfig`].
//!
//! `docker://` is the default socket `/var/run/docker.sock`, `docker:///path/to.sock` another Unix socket and
//! `docker://host:port` plain HTTP over TCP (port 2375 when left out). Query parameters set the configuration:
//! `publish`, `prefix`, `pull`, `stop-timeout` (seconds) and `parallelism`, e.g.
//! `docker:///run/podman/podman.sock?pull=false&publish=0.0.0.0`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use vamp_core::{Error, Result};

/// The socket `docker://` without a path talks to.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// The port `docker://host` without a port talks to (Docker's plain-HTTP port).
pub const DEFAULT_TCP_PORT: u16 = 2375;

/// Where the Docker (or Podman) API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket.
    Unix(PathBuf),
    /// Plain HTTP on `host:port`; no TLS.
    Tcp {
        /// A host name or IP address (IPv6 without brackets).
        host: String,
        /// The TCP port.
        port: u16,
    },
}

impl Endpoint {
    /// The host the daemon's published ports are reached on when they are published on every address:
    /// `127.0.0.1` for a local socket, the host of a TCP endpoint.
    pub fn host(&self) -> &str {
        match self {
            Endpoint::Unix(_) => "127.0.0.1",
            Endpoint::Tcp { host, .. } => host,
        }
    }
}

impl fmt::Display for Endpoint {
    /// `unix:///path` or `tcp://host:port`, the `DOCKER_HOST` spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// How the Docker driver names, publishes, pulls and stops.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerConfig {
    /// The host address published container ports bind to (`HostIp`); `127.0.0.1` by default, so instances are
    /// reachable from the Docker host only. `0.0.0.0` publishes them on every address.
    pub publish_address: String,
    /// The first part of every container and record name (`<prefix>-<namespace>-…`); `vamp` by default. Letters,
    /// digits, `_`, `.` and `-`, starting with a letter or digit.
    pub name_prefix: String,
    /// Whether `deploy` pulls an image the daemon does not have (without registry credentials); `true` by
    /// default. When `false` a missing image fails the deploy with `Invalid`.
    pub pull_images: bool,
    /// How long `undeploy` and replacements wait for a container to stop (SIGTERM) before Docker kills it;
    /// 10 s by default.
    pub stop_timeout: Duration,
    /// How many containers are created, started or removed at once; 8 by default.
    pub parallelism: usize,
    /// How long one API request may take; 120 s by default.
    pub request_timeout: Duration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            publish_address: "127.0.0.1".to_string(),
            name_prefix: "vamp".to_string(),
            pull_images: true,
            stop_timeout: Duration::from_secs(10),
            parallelism: 8,
            request_timeout: Duration::from_secs(120),
        }
    }
}

impl DockerConfig {
    /// Fails with `Invalid` when the prefix is not a valid start of a Docker name, the publish address is empty
    /// or the parallelism is zero.
    pub fn validate(&self) -> Result<()> {
        let prefix_ok = self
            .name_prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && self
                .name_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !prefix_ok {
            return Err(Error::invalid(format!(
                "The Docker driver's name prefix '{}' is not valid in a container name; use letters, digits, \
                 '_', '.' and '-', starting with a letter or digit.",
                self.name_prefix
            )));
        }
        if self.publish_address.trim().is_empty() {
            return Err(Error::invalid(
                "The Docker driver's publish address is empty; give an IP address such as 127.0.0.1 or 0.0.0.0.",
            ));
        }
        if self.parallelism == 0 {
            return Err(Error::invalid(
                "The Docker driver's parallelism is 0; it must create at least one container at a time.",
            ));
        }
        Ok(())
    }
}

/// Reads a `docker://` URL into the endpoint, and its query parameters into `config`.
pub fn parse(url: &str, mut config: DockerConfig) -> Result<(Endpoint, DockerConfig)> {
    let rest = url.strip_prefix("docker://").ok_or_else(|| {
        Error::invalid(format!(
            "'{url}' is not a Docker driver URL; write docker://, docker:///path/to/docker.sock or \
             docker://host:port."
        ))
    })?;
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let endpoint = if location.is_empty() {
        Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET))
    } else if location.starts_with('/') {
        Endpoint::Unix(PathBuf::from(location))
    } else {
        tcp(url, location)?
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| {
            Error::invalid(format!(
                "The Docker driver URL '{url}' sets {key} to '{value}', which is not {what}."
            ))
        };
        match key {
            "publish" => config.publish_address = value.to_string(),
            "prefix" => config.name_prefix = value.to_string(),
            "pull" => {
                config.pull_images = match value {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "stop-timeout" => {
                config.stop_timeout =
                    Duration::from_secs(value.parse().map_err(|_| bad("a whole number of seconds"))?)
            }
            "parallelism" => config.parallelism = value.parse().map_err(|_| bad("a positive number"))?,
            _ => {
                return Err(Error::invalid(format!(
                "The Docker driver URL '{url}' has an unknown parameter '{key}'; known are publish, prefix, \
                     pull, stop-timeout and parallelism."
            )))
            }
        }
    }
    config.validate()?;
    Ok((endpoint, config))
}

fn tcp(url: &str, location: &str) -> Result<Endpoint> {
    let bad = || {
        Error::invalid(format!(
            "The Docker driver URL '{url}' names no valid host and port; write docker://host:port."
        ))
    };
    let (host, port) = if let Some(bracketed) = location.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match location.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (location, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => DEFAULT_TCP_PORT,
    };
    if host.is_empty() || host.contains('/') {
        return Err(bad());
    }
    Ok(Endpoint::Tcp {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn endpoint(url: &str) -> Endpoint {
        parse(url, DockerConfig::default()).unwrap().0
    }

    #[test]
    fn a_bare_scheme_is_the_default_socket() {
        assert_eq!(endpoint("docker://"), Endpoint::Unix(DEFAULT_SOCKET.into()));
    }

    #[test]
    fn an_absolute_path_is_a_unix_socket() {
        let e = endpoint("docker:///run/podman/podman.sock");
        assert_eq!(e, Endpoint::Unix("/run/podman/podman.sock".into()));
        assert_eq!(e.to_string(), "unix:///run/podman/podman.sock");
    }

    #[test]
    fn host_and_port_are_tcp_with_2375_by_default() {
        assert_eq!(
            endpoint("docker://10.0.0.5:4243"),
            Endpoint::Tcp {
                host: "10.0.0.5".into(),
                port: 4243
            }
        );
        assert_eq!(
            endpoint("docker://dockerhost"),
            Endpoint::Tcp {
                host: "dockerhost".into(),
                port: DEFAULT_TCP_PORT
            }
        );
        assert_eq!(endpoint("docker://[::1]:2375").to_string(), "tcp://[::1]:2375");
    }

    #[test]
    fn query_parameters_set_the_configuration() {
        let (_, c) = parse(
            "docker://?publish=0.0.0.0&prefix=acme&pull=false&stop-timeout=3&parallelism=2",
            DockerConfig::default(),
        )
        .unwrap();
        assert_eq!(c.publish_address, "0.0.0.0");
        assert_eq!(c.name_prefix, "acme");
        assert!(!c.pull_images);
        assert_eq!(c.stop_timeout, Duration::from_secs(3));
        assert_eq!(c.parallelism, 2);
    }

    #[test]
    fn unknown_parameters_and_bad_values_are_invalid() {
        for url in [
            "docker://?colour=red",
            "docker://?pull=maybe",
            "docker://?prefix=-x",
            "docker://?parallelism=0",
            "docker://host:port",
            "http://localhost:2375",
        ] {
            let e = parse(url, DockerConfig::default()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{url}");
        }
    }
}
