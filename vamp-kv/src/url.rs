//! Choosing a key-value store by URL: [`KvUrl::parse`] reads and checks the URL, [`connect`] opens the backend
//! it names and wraps it in [`LargeValues`] with that backend's per-write limit, so every store it returns takes
//! values of any size.
//!
//! | URL | backend | default port |
//! |---|---|---|
//! | `etcd://h1:2379,h2:2379` | etcd v3, requests balanced over the members | 2379 |
//! | `zk://h1:2181,h2:2181[/chroot]` | ZooKeeper ensemble, optionally below a chroot path | 2181 |
//! | `consul://host:8500` | Consul's KV HTTP API | 8500 |
//! | `redis://[user][:password@]host:6379[/db]` | one Redis server, database `db` (default 0) | 6379 |
//! | `memory://` | in-process memory, for tests and trials | — |
//!
//! Hosts are names, IPv4 addresses or bracketed IPv6 addresses (`[::1]:2379`). Queries, fragments, credentials
//! (other than Redis') and paths where the scheme takes none are refused with `Invalid`, as is an unknown scheme
//! (the message lists the known ones). A scheme whose backend feature was left out of the build fails with
//! `Unsupported` naming the feature.

use std::sync::Arc;

use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::{Error, Result};

use crate::large::LargeValues;

/// The schemes [`connect`] knows, in the order error messages list them.
pub const SCHEMES: [&str; 5] = ["etcd", "zk", "consul", "redis", "memory"];

/// A checked key-value store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvUrl {
    /// `etcd://`: the members as `host:port`.
    Etcd {
        /// One `host:port` per member, in the order given.
        endpoints: Vec<String>,
    },
    /// `zk://`: the ensemble as `host:port`, and the chroot path if any (`/vamp-root`).
    ZooKeeper {
        /// One `host:port` per server, in the order given.
        hosts: Vec<String>,
        /// The path every key is placed below, when the URL has one.
        chroot: Option<String>,
    },
    /// `consul://`: the agent's HTTP base URL (`http://host:8500`).
    Consul {
        /// `http://host:port`.
        base_url: String,
    },
    /// `redis://`: the URL in the `redis` crate's form, with port and database filled in.
    Redis {
        /// `redis://[credentials@]host:port/db`.
        url: String,
    },
    /// `memory://`.
    Memory,
}

impl KvUrl {
    /// Reads `url`; fails with `Invalid` saying what is wrong and what a correct URL looks like.
    pub fn parse(url: &str) -> Result<KvUrl> {
        let shown = redacted(url);
        let bad = |why: String| Error::invalid(format!("The key-value store URL '{shown}' {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(format!(
                "has no scheme; write one of {}, as in 'etcd://127.0.0.1:2379'.",
                listed()
            )));
        };
        if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!(
                "contains {c:?}; URLs take no white space or control characters."
            )));
        }
        if rest.contains(['?', '#']) {
            return Err(bad(
                "has a query or fragment; remove everything from '?' or '#'.".into()
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        let scheme = scheme.to_ascii_lowercase();
        if credentials.is_some() && scheme != "redis" {
            return Err(bad(format!(
                "carries credentials; {scheme}:// takes none in the URL."
            )));
        }
        let no_path = |path: &str| {
            if path.is_empty() || path == "/" {
                Ok(())
            } else {
                Err(bad(format!("has the path '{path}'; {scheme}:// takes none.")))
            }
        };
        match scheme.as_str() {
            "memory" => {
                if !authority.is_empty() {
                    return Err(bad("names a host; write just 'memory://'.".into()));
                }
                no_path(path)?;
                Ok(KvUrl::Memory)
            }
            "etcd" => {
                no_path(path)?;
                let endpoints = host_list(hosts, 2379, true).map_err(bad)?;
                Ok(KvUrl::Etcd { endpoints })
            }
            "zk" => {
                let hosts = host_list(hosts, 2181, true).map_err(bad)?;
                let chroot = match path {
                    "" | "/" => None,
                    chroot => Some(
                        Key::parse(chroot)
                            .map_err(|e| {
                                bad(format!(
                                    "has the chroot '{chroot}', which is not a valid path: {}",
                                    e.message()
                                ))
                            })?
                            .as_str()
                            .to_string(),
                    ),
                };
                Ok(KvUrl::ZooKeeper { hosts, chroot })
            }
            "consul" => {
                no_path(path)?;
                let host = single(host_list(hosts, 8500, false).map_err(bad)?).map_err(bad)?;
                Ok(KvUrl::Consul {
                    base_url: format!("http://{host}"),
                })
            }
            "redis" => {
                let host = single(host_list(hosts, 6379, false).map_err(bad)?).map_err(bad)?;
                let db = match path {
                    "" | "/" => 0,
                    db => db
                        .get(1..)
                        .and_then(|n| n.parse::<u32>().ok())
                        .filter(|_| db.bytes().skip(1).all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| {
                            bad(format!(
                                "has the path '{db}'; redis:// takes a database number, as in 'redis://host:6379/2'."
                            ))
                        })?,
                };
                let credentials = credentials.map(|c| format!("{c}@")).unwrap_or_default();
                Ok(KvUrl::Redis {
                    url: format!("redis://{credentials}{host}/{db}"),
                })
            }
            other => Err(bad(format!(
                "has the unknown scheme '{other}'; use one of {}.",
                listed()
            ))),
        }
    }

    /// The scheme, as in [`SCHEMES`].
    pub fn scheme(&self) -> &'static str {
        match self {
            KvUrl::Etcd { .. } => "etcd",
            KvUrl::ZooKeeper { .. } => "zk",
            KvUrl::Consul { .. } => "consul",
            KvUrl::Redis { .. } => "redis",
            KvUrl::Memory => "memory",
        }
    }
}

/// Opens the store `url` names (see the module documentation), wrapped in [`LargeValues`] with the backend's
/// per-write limit. Fails with `Invalid` for a bad URL, `Unsupported` when the backend is not built in, and
/// `Unavailable` (retryable) when the server does not answer.
pub async fn connect(url: &str) -> Result<Arc<dyn KeyValueStore>> {
    match KvUrl::parse(url)? {
        KvUrl::Memory => Ok(Arc::new(LargeValues::new(MemoryKeyValueStore::new(), usize::MAX))),
        KvUrl::Etcd { endpoints } => connect_etcd(&endpoints).await,
        KvUrl::ZooKeeper { hosts, chroot } => connect_zookeeper(&hosts, chroot.as_deref()).await,
        KvUrl::Consul { base_url } => connect_consul(&base_url).await,
        KvUrl::Redis { url } => connect_redis(&url).await,
    }
}

#[cfg(feature = "etcd")]
async fn connect_etcd(endpoints: &[String]) -> Result<Arc<dyn KeyValueStore>> {
    use crate::etcd::EtcdStore;
    let store = EtcdStore::connect(endpoints).await?;
    Ok(Arc::new(LargeValues::new(store, EtcdStore::MAX_VALUE_BYTES)))
}

#[cfg(not(feature = "etcd"))]
async fn connect_etcd(_: &[String]) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("etcd", "etcd"))
}

#[cfg(feature = "redis")]
async fn connect_redis(url: &str) -> Result<Arc<dyn KeyValueStore>> {
    use crate::redis::RedisStore;
    let store = RedisStore::connect(url).await?;
    Ok(Arc::new(LargeValues::new(store, RedisStore::MAX_VALUE_BYTES)))
}

#[cfg(not(feature = "redis"))]
async fn connect_redis(_: &str) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("redis", "redis"))
}

/// A ZooKeeper store, wrapped in `LargeValues` with its per-node limit.
#[cfg(feature = "zookeeper")]
async fn connect_zookeeper(hosts: &[String], chroot: Option<&str>) -> Result<Arc<dyn KeyValueStore>> {
    let store = crate::zookeeper::ZooKeeperStore::connect(hosts, chroot).await?;
    Ok(Arc::new(LargeValues::new(
        store,
        crate::zookeeper::ZooKeeperStore::MAX_VALUE_BYTES,
    )))
}

#[cfg(not(feature = "zookeeper"))]
async fn connect_zookeeper(_: &[String], _: Option<&str>) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("zk", "zookeeper"))
}

/// A Consul store, wrapped in `LargeValues` with its per-value limit.
#[cfg(feature = "consul")]
async fn connect_consul(base_url: &str) -> Result<Arc<dyn KeyValueStore>> {
    let store = crate::consul::ConsulStore::connect(base_url).await?;
    Ok(Arc::new(LargeValues::new(
        store,
        crate::consul::ConsulStore::MAX_VALUE_BYTES,
    )))
}

#[cfg(not(feature = "consul"))]
async fn connect_consul(_: &str) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("consul", "consul"))
}

/// The error for a scheme whose backend feature is off.
#[cfg_attr(
    all(
        feature = "etcd",
        feature = "redis",
        feature = "zookeeper",
        feature = "consul"
    ),
    allow(dead_code)
)]
fn left_out(scheme: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "{scheme}:// needs the {feature} backend, which this build of vamp-kv leaves out; build it with the \
         cargo feature '{feature}'."
    ))
}

fn listed() -> String {
    SCHEMES
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `url` with any credentials replaced by `***`, for messages.
fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((_, hosts)) => format!("{scheme}://***@{hosts}{path}"),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn single(mut hosts: Vec<String>) -> std::result::Result<String, String> {
    match (hosts.pop(), hosts.is_empty()) {
        (Some(host), true) => Ok(host),
        _ => Err("names several hosts; this scheme takes exactly one.".into()),
    }
}

/// `h1:p1,h2,...` as `host:port` strings, `default_port` filled in.
fn host_list(list: &str, default_port: u16, several: bool) -> std::result::Result<Vec<String>, String> {
    if list.is_empty() {
        return Err(format!(
            "names no host; write one, as in '127.0.0.1:{default_port}'."
        ));
    }
    let hosts = list
        .split(',')
        .map(|entry| host_port(entry, default_port))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if hosts.len() > 1 && !several {
        return Err("names several hosts; this scheme takes exactly one.".into());
    }
    Ok(hosts)
}

fn host_port(entry: &str, default_port: u16) -> std::result::Result<String, String> {
    if entry.is_empty() {
        return Err("has an empty host (two ',' in a row or a trailing ',').".into());
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("has the host '{entry}' with an unclosed '['."))?;
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(format!("has the host '{entry}', which is not an IPv6 address."));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                format!("has the host '{entry}' with something other than ':port' after ']'.")
            })?),
        };
        (format!("[{v6}]"), port)
    } else {
        let (host, port) = match entry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
            && !host.starts_with(['-', '.'])
            && !host.ends_with('-');
        if !valid {
            return Err(format!(
                "has the host '{host}', which is not a host name or address (letters, digits, '-', '.'; \
                 IPv6 in brackets)."
            ));
        }
        (host.to_string(), port)
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("has the port '{p}' for '{host}'; a port is a number from 1 to 65535."))?,
    };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn parsed(url: &str) -> KvUrl {
        match KvUrl::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn refused(url: &str) -> String {
        let e = KvUrl::parse(url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{url}");
        e.message().to_string()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn etcd_takes_several_members_with_default_ports() {
        assert_eq!(
            parsed("etcd://h1:2379,h2,10.0.0.3:32379"),
            KvUrl::Etcd {
                endpoints: strings(&["h1:2379", "h2:2379", "10.0.0.3:32379"])
            }
        );
        assert_eq!(
            parsed("etcd://[::1]:2379/"),
            KvUrl::Etcd {
                endpoints: strings(&["[::1]:2379"])
            }
        );
        assert_eq!(
            parsed("etcd://[fe80::1]"),
            KvUrl::Etcd {
                endpoints: strings(&["[fe80::1]:2379"])
            }
        );
    }

    #[test]
    fn zookeeper_takes_an_ensemble_and_an_optional_chroot() {
        assert_eq!(
            parsed("zk://h1:2181,h2:2182/vamp/root"),
            KvUrl::ZooKeeper {
                hosts: strings(&["h1:2181", "h2:2182"]),
                chroot: Some("/vamp/root".into())
            }
        );
        assert_eq!(
            parsed("zk://h1"),
            KvUrl::ZooKeeper {
                hosts: strings(&["h1:2181"]),
                chroot: None
            }
        );
        assert!(refused("zk://h1/a//b").contains("chroot"));
        assert!(refused("zk://h1/a/../b").contains("chroot"));
    }

    #[test]
    fn consul_takes_one_agent() {
        assert_eq!(
            parsed("consul://agent"),
            KvUrl::Consul {
                base_url: "http://agent:8500".into()
            }
        );
        assert!(refused("consul://a,b").contains("exactly one"));
        assert!(refused("consul://a/kv").contains("takes none"));
    }

    #[test]
    fn redis_takes_one_server_a_database_and_credentials() {
        assert_eq!(
            parsed("redis://cache"),
            KvUrl::Redis {
                url: "redis://cache:6379/0".into()
            }
        );
        assert_eq!(
            parsed("redis://:pw@cache:7000/3"),
            KvUrl::Redis {
                url: "redis://:pw@cache:7000/3".into()
            }
        );
        assert!(refused("redis://cache/x").contains("database number"));
        assert!(refused("redis://cache/-1").contains("database number"));
        assert!(refused("redis://a:1,b:2").contains("exactly one"));
    }

    #[test]
    fn memory_takes_nothing_else() {
        assert_eq!(parsed("memory://"), KvUrl::Memory);
        assert!(refused("memory://host").contains("memory://"));
    }

    #[test]
    fn unknown_schemes_list_the_known_ones() {
        let message = refused("mongodb://h:1");
        assert!(message.contains("'mongodb'"), "{message}");
        for scheme in SCHEMES {
            assert!(message.contains(&format!("{scheme}://")), "{message}");
        }
        assert!(refused("127.0.0.1:2379").contains("no scheme"));
    }

    #[test]
    fn bad_hosts_and_ports_are_refused_with_the_reason() {
        assert!(refused("etcd://").contains("no host"));
        assert!(refused("etcd://h1,,h2").contains("empty host"));
        assert!(refused("etcd://h1,").contains("empty host"));
        assert!(refused("etcd://h1:0").contains("port"));
        assert!(refused("etcd://h1:65536").contains("port"));
        assert!(refused("etcd://h1:+80").contains("port"));
        assert!(refused("etcd://h1:").contains("port"));
        assert!(refused("etcd://h%31").contains("not a host"));
        assert!(refused("etcd://[::1").contains("unclosed"));
        assert!(refused("etcd://[zz]").contains("IPv6"));
        assert!(refused("etcd://h 1").contains("white space"));
    }

    #[test]
    fn queries_credentials_and_paths_are_refused_where_not_taken() {
        assert!(refused("etcd://h1?timeout=1").contains("query"));
        assert!(refused("etcd://user:pw@h1").contains("credentials"));
        assert!(refused("etcd://h1/prefix").contains("takes none"));
    }

    #[test]
    fn passwords_never_show_in_messages() {
        let message = refused("redis://:hunter2@h1/zz");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("***@h1"), "{message}");
    }

    #[test]
    fn schemes_are_read_without_regard_to_case() {
        assert_eq!(parsed("ETCD://h1").scheme(), "etcd");
    }

    #[tokio::test]
    async fn memory_urls_connect_to_a_store_that_takes_large_values() {
        let store = connect("memory://").await.unwrap();
        let key = Key::parse("/vamp/default/x").unwrap();
        let value = vec![7u8; 3 * 1024 * 1024];
        let version = store.set(&key, value.clone()).await.unwrap();
        let back = store.get(&key).await.unwrap().unwrap();
        assert_eq!(back.version, version);
        assert!(back.value == Some(value));
    }

    #[tokio::test]
    async fn connect_refuses_bad_urls_before_connecting() {
        let e = connect("ftp://h").await.err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn a_left_out_backend_names_its_feature() {
        let e = left_out("zk", "zookeeper");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().contains("feature 'zookeeper'"));
    }
}
