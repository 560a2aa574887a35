//! The agent's configuration: where to watch (store URL and key), where HAProxy runs, and the values the
//! configuration's variables take — from command-line flags, then environment variables, then defaults.
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--kv <url>` | `VAMP_KV_URL`, or `VAMP_KEY_VALUE_STORE_TYPE` + `VAMP_KEY_VALUE_STORE_CONNECTION` | `etcd://127.0.0.1:2379` |
//! | `--key <key>` | `VAMP_KEY_VALUE_STORE_PATH` | `/vamp/default/gateways/haproxy/2.6/configuration` |
//! | `--dir <dir>` | `VAMP_GATEWAY_AGENT_DIR` | `/var/lib/vamp-gateway-agent` |
//! | `--haproxy <path>` | `VAMP_HAPROXY` | `haproxy` |
//! | `--log-target <addr>` | `VAMP_LOG_TARGET` | `<dir>/log.sock` (a unix socket; `host:port` for UDP) |
//! | `--log-sources <ips>` | `VAMP_LOG_SOURCES` | `127.0.0.1,::1` (the only sources a UDP log target reads) |
//! | `--stats-bind <addr>` | `VAMP_STATS_BIND` | `0.0.0.0:1988` |
//! | `--gateway-bind <addr>` | `VAMP_GATEWAY_BIND` | `0.0.0.0` |
//! | `--vhost-bind <addr>` | `VAMP_VHOST_BIND` | `0.0.0.0:80` |
//! | `--http <addr>` | `VAMP_GATEWAY_AGENT_HTTP` | `0.0.0.0:1989` (health, Prometheus, metrics windows) |
//! | `--logstash <host:port>` | `VAMP_LOGSTASH` | none (no forwarding) |
//! | `--elasticsearch <url>` | `VAMP_ELASTICSEARCH_URL` | none (no forwarding) |
//! | `--namespace <ns>` | `VAMP_NAMESPACE` | none (indices `vamp-vga-YYYY-MM-dd`; with it `vamp-vga-<ns>-YYYY-MM-dd`) |
//! | `--signing-key <file>` | `VAMP_KV_SIGNING_KEY_FILE` | none: the agent refuses to start without it |
//! | `--insecure-unsigned` | `VAMP_INSECURE_UNSIGNED=true` | off: values without a valid signature are refused |
//!
//! The agent applies only values the server signed with the shared key ([`vamp_kv::signed`]); without a key file
//! it does not start unless `--insecure-unsigned` says unsigned values are to be applied.
//!
//! The original agent's variables are accepted: `VAMP_KEY_VALUE_STORE_TYPE` (`etcd`, `zookeeper`, `consul`,
//! `redis`, `memory`) with `VAMP_KEY_VALUE_STORE_CONNECTION` (`http://etcd:2379[,http://…]`, ZooKeeper
//! `host:port[,host:port]`, `http://consul:8500`, `redis:6379`) become a store URL, and a
//! `VAMP_KEY_VALUE_STORE_PATH` (or `--key`) ending in the original etcd leaf `/value` names the key without it:
//! the original server wrote etcd values one level below the configuration key, this one writes them on it.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use vamp_core::kv::{haproxy_configuration_key, Key};
use vamp_core::{Error, Result};
use vamp_kv::signed::SigningKey;

use crate::agent::process::ProcessOptions;
use crate::logs::receiver::{parse_sources, DEFAULT_UDP_SOURCES};

/// Everything the agent's apply loop needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AgentOptions {
    /// The key-value store, as a `vamp_kv::url` URL (`etcd://h:2379`, `zk://h:2181`, `memory://`, …).
    pub kv_url: String,
    /// The key holding the published configuration.
    pub key: String,
    /// How HAProxy runs.
    pub process: ProcessOptions,
    /// Where the agent's own HTTP endpoint listens (`/health`, `/metrics`, `/v1/metrics/window`).
    pub http_bind: String,
    /// The source addresses a UDP log target reads datagrams from; others are dropped and counted. Default
    /// the loopback addresses. Not used with a unix log socket (the default).
    pub log_sources: Vec<IpAddr>,
    /// A Logstash UDP input (`host:port`) the raw access-log lines are forwarded to.
    pub logstash: Option<String>,
    /// An Elasticsearch URL the access logs are bulk-indexed into, in daily `vamp-vga-…` indices.
    pub elasticsearch: Option<String>,
    /// The namespace in the Elasticsearch index names.
    pub namespace: Option<String>,
    /// The file holding the key values are signed with (the server's `kv-signing-key`).
    pub signing_key_file: Option<PathBuf>,
    /// Apply values without a valid signature. Off: an agent without a key refuses to start.
    pub insecure_unsigned: bool,
    /// The signing key itself, for an agent embedded next to the server; wins over `signing_key_file`.
    #[serde(skip)]
    pub signing_key: Option<SigningKey>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            kv_url: "etcd://127.0.0.1:2379".into(),
            key: haproxy_configuration_key("default", "2.6")
                .map(|k| k.as_str().to_string())
                .unwrap_or_default(),
            process: ProcessOptions::default(),
            http_bind: "0.0.0.0:1989".into(),
            log_sources: DEFAULT_UDP_SOURCES.to_vec(),
            logstash: None,
            elasticsearch: None,
            namespace: None,
            signing_key_file: None,
            insecure_unsigned: false,
            signing_key: None,
        }
    }
}

impl AgentOptions {
    /// Options from the process's arguments (without the program name) and environment.
    pub fn from_env_and_args(args: impl IntoIterator<Item = String>) -> Result<AgentOptions> {
        AgentOptions::from_sources(args, |name| std::env::var(name).ok())
    }

    /// Options from `args` and the variables `env` looks up: flags win over variables, variables over
    /// defaults. Fails with `Invalid` naming an unknown flag, a flag without value, an unknown store type, or a
    /// key that is not a valid key.
    pub fn from_sources(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AgentOptions> {
        let mut options = AgentOptions::default();
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(url) = env("VAMP_KV_URL") {
            options.kv_url = url;
        } else if let Some(kind) = env("VAMP_KEY_VALUE_STORE_TYPE") {
            let connection = env("VAMP_KEY_VALUE_STORE_CONNECTION").unwrap_or_default();
            options.kv_url = store_url(&kind, &connection)?;
        }
        if let Some(key) = env("VAMP_KEY_VALUE_STORE_PATH") {
            options.key = key;
        }
        if let Some(bind) = env("VAMP_GATEWAY_AGENT_HTTP") {
            options.http_bind = bind;
        }
        if let Some(sources) = env("VAMP_LOG_SOURCES") {
            options.log_sources = parse_sources(&sources)?;
        }
        options.logstash = env("VAMP_LOGSTASH");
        options.elasticsearch = env("VAMP_ELASTICSEARCH_URL");
        options.namespace = env("VAMP_NAMESPACE");
        options.signing_key_file = env("VAMP_KV_SIGNING_KEY_FILE").map(PathBuf::from);
        if let Some(flag) = env("VAMP_INSECURE_UNSIGNED") {
            options.insecure_unsigned = match flag.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => true,
                "false" | "no" | "0" | "off" => false,
                other => {
                    return Err(Error::invalid(format!(
                        "VAMP_INSECURE_UNSIGNED '{other}' is not true or false."
                    )))
                }
            };
        }
        let process = &mut options.process;
        if let Some(dir) = env("VAMP_GATEWAY_AGENT_DIR") {
            process.dir = dir.into();
        }
        if let Some(binary) = env("VAMP_HAPROXY") {
            process.binary = binary.into();
        }
        for (name, field) in [
            ("VAMP_LOG_TARGET", &mut process.log_target),
            ("VAMP_STATS_BIND", &mut process.stats_bind),
            ("VAMP_GATEWAY_BIND", &mut process.gateway_bind),
            ("VAMP_VHOST_BIND", &mut process.vhost_bind),
        ] {
            if let Some(value) = env(name) {
                *field = value;
            }
        }
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (flag.clone(), None),
            };
            if name == "--insecure-unsigned" && inline.is_none() {
                options.insecure_unsigned = true;
                continue;
            }
            let mut value = || {
                inline.clone().or_else(|| args.next()).ok_or_else(|| {
                    Error::invalid(format!(
                        "The flag '{name}' needs a value, as in '{name} <value>'."
                    ))
                })
            };
            let process = &mut options.process;
            match name.as_str() {
                "--kv" => options.kv_url = value()?,
                "--key" => options.key = value()?,
                "--dir" => process.dir = value()?.into(),
                "--haproxy" => process.binary = value()?.into(),
                "--log-target" => process.log_target = value()?,
                "--stats-bind" => process.stats_bind = value()?,
                "--gateway-bind" => process.gateway_bind = value()?,
                "--vhost-bind" => process.vhost_bind = value()?,
                "--http" => options.http_bind = value()?,
                "--log-sources" => options.log_sources = parse_sources(&value()?)?,
                "--logstash" => options.logstash = Some(value()?),
                "--elasticsearch" => options.elasticsearch = Some(value()?),
                "--namespace" => options.namespace = Some(value()?),
                "--signing-key" => options.signing_key_file = Some(value()?.into()),
                other => {
                    return Err(Error::invalid(format!(
                    "Unknown flag '{other}'; the agent takes --kv, --key, --dir, --haproxy, --log-target, \
                         --log-sources, --stats-bind, --gateway-bind, --vhost-bind, --http, --logstash, --elasticsearch, \
                         --namespace, --signing-key and --insecure-unsigned."
                )))
                }
            }
        }
        options.key = configuration_key(&options.key)?.as_str().to_string();
        Ok(options)
    }

    /// The configuration key, checked.
    pub fn key(&self) -> Result<Key> {
        configuration_key(&self.key)
    }

    /// How values are checked ([`crate::agent::signature::SignatureCheck::from_options`]): fails with `Invalid` when no key is
    /// configured and unsigned values are not explicitly accepted.
    pub fn signature_check(&self) -> Result<crate::agent::signature::SignatureCheck> {
        crate::agent::signature::SignatureCheck::from_options(
            self.signing_key.as_ref(),
            self.signing_key_file.as_deref(),
            self.insecure_unsigned,
        )
    }
}

/// The key `path` names; the original etcd leaf `/value` at its end is dropped.
fn configuration_key(path: &str) -> Result<Key> {
    let path = path.strip_suffix("/value").unwrap_or(path);
    Key::parse(path)
}

/// The store URL for the original agent's `VAMP_KEY_VALUE_STORE_TYPE` and `…_CONNECTION`.
fn store_url(kind: &str, connection: &str) -> Result<String> {
    let scheme = match kind.trim().to_ascii_lowercase().as_str() {
        "etcd" => "etcd",
        "zookeeper" | "zk" => "zk",
        "consul" => "consul",
        "redis" => "redis",
        "memory" => return Ok("memory://".into()),
        other => {
            return Err(Error::invalid(format!(
                "VAMP_KEY_VALUE_STORE_TYPE '{other}' is not a store the agent knows; use etcd, zookeeper, consul, \
                 redis or memory."
            )))
        }
    };
    let connection = connection.trim();
    if connection.is_empty() {
        return Err(Error::invalid(format!(
            "VAMP_KEY_VALUE_STORE_CONNECTION is empty; name the {kind} server, as in '127.0.0.1:2379'."
        )));
    }
    if connection.starts_with(&format!("{scheme}://")) {
        return Ok(connection.to_string());
    }
    let hosts: Vec<&str> = connection
        .split(',')
        .map(|h| {
            let h = h.trim();
            let h = h
                .strip_prefix("http://")
                .or_else(|| h.strip_prefix("https://"))
                .or_else(|| h.strip_prefix("redis://"))
                .unwrap_or(h);
            h.trim_end_matches('/')
        })
        .collect();
    Ok(format!("{scheme}://{}", hosts.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn options(args: &[&str], env: &[(&str, &str)]) -> Result<AgentOptions> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AgentOptions::from_sources(args.iter().map(|a| a.to_string()), |name| env.get(name).cloned())
    }

    #[test]
    fn defaults_watch_local_etcd() {
        let o = options(&[], &[]).unwrap();
        assert_eq!(o.kv_url, "etcd://127.0.0.1:2379");
        assert_eq!(o.key, "/vamp/default/gateways/haproxy/2.6/configuration");
        assert_eq!(o.process.binary.to_str(), Some("haproxy"));
    }

    #[test]
    fn the_original_etcd_variables_become_a_url_and_key() {
        let o = options(
            &[],
            &[
                ("VAMP_KEY_VALUE_STORE_TYPE", "etcd"),
                (
                    "VAMP_KEY_VALUE_STORE_CONNECTION",
                    "http://etcd-1:2379,http://etcd-2:2379/",
                ),
                (
                    "VAMP_KEY_VALUE_STORE_PATH",
                    "/vamp/default/gateways/haproxy/1.7/configuration/value",
                ),
            ],
        )
        .unwrap();
        assert_eq!(o.kv_url, "etcd://etcd-1:2379,etcd-2:2379");
        assert_eq!(o.key, "/vamp/default/gateways/haproxy/1.7/configuration");
    }

    #[test]
    fn a_zookeeper_ensemble_becomes_a_zk_url() {
        let o = options(
            &[],
            &[
                ("VAMP_KEY_VALUE_STORE_TYPE", "zookeeper"),
                ("VAMP_KEY_VALUE_STORE_CONNECTION", "zk1:2181,zk2:2181"),
            ],
        )
        .unwrap();
        assert_eq!(o.kv_url, "zk://zk1:2181,zk2:2181");
    }

    #[test]
    fn consul_redis_and_memory_types_are_known() {
        let url = |kind, conn| store_url(kind, conn).unwrap();
        assert_eq!(url("consul", "http://consul:8500"), "consul://consul:8500");
        assert_eq!(url("redis", "redis:6379"), "redis://redis:6379");
        assert_eq!(url("memory", ""), "memory://");
        assert!(store_url("vault", "x").unwrap_err().message().contains("vault"));
    }

    #[test]
    fn flags_win_over_variables() {
        let o = options(
            &[
                "--kv",
                "memory://",
                "--key=/vamp/x",
                "--dir",
                "/tmp/a",
                "--stats-bind",
                "127.0.0.1:1",
            ],
            &[("VAMP_KV_URL", "etcd://e:1"), ("VAMP_STATS_BIND", "0.0.0.0:2")],
        )
        .unwrap();
        assert_eq!(o.kv_url, "memory://");
        assert_eq!(o.key, "/vamp/x");
        assert_eq!(o.process.dir.to_str(), Some("/tmp/a"));
        assert_eq!(o.process.stats_bind, "127.0.0.1:1");
    }

    #[test]
    fn unknown_flags_and_missing_values_are_refused() {
        assert!(options(&["--bogus", "1"], &[])
            .unwrap_err()
            .message()
            .contains("--bogus"));
        assert!(options(&["--kv"], &[])
            .unwrap_err()
            .message()
            .contains("needs a value"));
    }

    #[test]
    fn log_sources_default_to_loopback_and_are_checked() {
        assert_eq!(
            options(&[], &[]).unwrap().log_sources,
            DEFAULT_UDP_SOURCES.to_vec()
        );
        assert_eq!(
            options(&[], &[]).unwrap().process.log_target,
            "",
            "the default is the directory's socket"
        );
        let o = options(
            &["--log-sources", "10.0.0.5"],
            &[("VAMP_LOG_SOURCES", "10.0.0.6")],
        )
        .unwrap();
        assert_eq!(o.log_sources, vec![IpAddr::from([10, 0, 0, 5])]);
        let e = options(&[], &[("VAMP_LOG_SOURCES", "10.0.0.6,evil")]).unwrap_err();
        assert!(e.message().contains("'evil'"), "{e}");
    }

    #[test]
    fn the_signing_key_comes_from_a_flag_or_the_environment_and_opting_out_is_explicit() {
        let o = options(&[], &[]).unwrap();
        assert!(o.signing_key_file.is_none() && !o.insecure_unsigned);
        assert!(o.signature_check().is_err());
        let o = options(&["--signing-key", "/k"], &[("VAMP_KV_SIGNING_KEY_FILE", "/e")]).unwrap();
        assert_eq!(o.signing_key_file.as_deref(), Some(std::path::Path::new("/k")));
        let o = options(&[], &[("VAMP_KV_SIGNING_KEY_FILE", "/e")]).unwrap();
        assert_eq!(o.signing_key_file.as_deref(), Some(std::path::Path::new("/e")));
        assert!(options(&["--insecure-unsigned"], &[]).unwrap().insecure_unsigned);
        assert!(
            options(&[], &[("VAMP_INSECURE_UNSIGNED", "true")])
                .unwrap()
                .insecure_unsigned
        );
        assert!(options(&[], &[("VAMP_INSECURE_UNSIGNED", "maybe")]).is_err());
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert!(options(&["--key", "no-slash"], &[]).is_err());
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: AgentOptions =
            serde_json::from_str(r#"{"kv_url":"memory://","process":{"dir":"/w"}}"#).unwrap();
        assert_eq!(o.kv_url, "memory://");
        assert_eq!(o.process.dir.to_str(), Some("/w"));
        assert_eq!(o.process.binary.to_str(), Some("haproxy"));
    }
}
