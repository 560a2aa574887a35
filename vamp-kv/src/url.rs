//! Choosing a key-value store by URL: [`KvUrl::parse`] reads and checks the URL, [`connect`] opens the backend
//! it names and wraps it in [`LargeValues`] with that backend's per-write limit, so every store it returns takes
//! values of any size.
//!
//! | URL | backend | default port |
//! |---|---|---|
//! | `etcd://[user:password@]h1:2379,h2:2379[?tls…]` | etcd v3, requests balanced over the members; RBAC user | 2379 |
//! | `zk://[user:password@]h1:2181,h2:2181[/chroot]` | ZooKeeper ensemble, optionally below a chroot path; digest auth | 2181 |
//! | `consul://[:token@]host:8500[?tls…]` | Consul's KV HTTP API; ACL token | 8500 |
//! | `redis://[user][:password@]host:6379[/db]` | one Redis server, database `db` (default 0); ACL user | 6379 |
//! | `memory://` | in-process memory, for tests and trials | — |
//!
//! Credentials and TLS are described in [`crate::access`]: a password can also come from a file
//! (`?password-file=`), and etcd and Consul take `?tls=true`, `?ca=`, `?cert=` and `?key=`. With a ZooKeeper
//! user, the nodes Vamp creates are readable and writable by that user only (ACL `auth`), so a client without
//! the credentials can neither read nor change them.
//!
//! Hosts are names, IPv4 addresses or bracketed IPv6 addresses (`[::1]:2379`). Fragments, unknown query
//! parameters, credentials where the scheme takes none and paths where the scheme takes none are refused with
//! `Invalid`, as is an unknown scheme (the message lists the known ones). A scheme whose backend feature was
//! left out of the build fails with `Unsupported` naming the feature. Messages and [`redacted`] URLs never show
//! a password.

use std::sync::Arc;

use vamp_core::kv::{Key, KeyValueStore};
use vamp_core::memory::MemoryKeyValueStore;
use vamp_core::{Error, Result};

use crate::access::{Access, Takes};
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
        /// RBAC user and TLS.
        access: Access,
    },
    /// `zk://`: the ensemble as `host:port`, and the chroot path if any (`/vamp-root`).
    ZooKeeper {
        /// One `host:port` per server, in the order given.
        hosts: Vec<String>,
        /// The path every key is placed below, when the URL has one.
        chroot: Option<String>,
        /// Digest credentials.
        access: Access,
    },
    /// `consul://`: the agent's HTTP base URL (`http://host:8500`).
    Consul {
        /// `http://host:port`, or `https://host:port` with TLS.
        base_url: String,
        /// ACL token (the password) and TLS.
        access: Access,
    },
    /// `redis://`: the server and database, and the credentials apart from them.
    Redis {
        /// `redis://host:port/db`, without credentials.
        url: String,
        /// ACL user and password.
        access: Access,
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
        if rest.contains('#') {
            return Err(bad("has a fragment; remove everything from '#'.".into()));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        let scheme = scheme.to_ascii_lowercase();
        let access = |takes: Takes| Access::parse(&scheme, credentials, query, takes).map_err(bad);
        const ALL: Takes = Takes {
            user: true,
            password: true,
            tls: true,
        };
        const NO_TLS: Takes = Takes { tls: false, ..ALL };
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
                access(Takes {
                    user: false,
                    password: false,
                    tls: false,
                })?;
                Ok(KvUrl::Memory)
            }
            "etcd" => {
                no_path(path)?;
                let endpoints = host_list(hosts, 2379, true).map_err(bad)?;
                let access = access(ALL)?;
                Ok(KvUrl::Etcd { endpoints, access })
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
                let access = access(NO_TLS)?;
                if access.password.is_some() && access.user.is_none() {
                    return Err(bad(
                        "has a password without a user; ZooKeeper digest auth takes 'user:password@'.".into(),
                    ));
                }
                Ok(KvUrl::ZooKeeper {
                    hosts,
                    chroot,
                    access,
                })
            }
            "consul" => {
                no_path(path)?;
                let host = single(host_list(hosts, 8500, false).map_err(bad)?).map_err(bad)?;
                let access = access(Takes { user: false, ..ALL })?;
                let scheme = if access.tls.is_some() { "https" } else { "http" };
                Ok(KvUrl::Consul {
                    base_url: format!("{scheme}://{host}"),
                    access,
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
                let access = access(NO_TLS)?;
                Ok(KvUrl::Redis {
                    url: format!("redis://{host}/{db}"),
                    access,
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
        KvUrl::Etcd { endpoints, access } => connect_etcd(&endpoints, &access).await,
        KvUrl::ZooKeeper {
            hosts,
            chroot,
            access,
        } => connect_zookeeper(&hosts, chroot.as_deref(), &access).await,
        KvUrl::Consul { base_url, access } => connect_consul(&base_url, &access).await,
        KvUrl::Redis { url, access } => connect_redis(&url, &access).await,
    }
}

#[cfg(feature = "etcd")]
async fn connect_etcd(endpoints: &[String], access: &Access) -> Result<Arc<dyn KeyValueStore>> {
    use crate::etcd::EtcdStore;
    let store = EtcdStore::connect_with(endpoints, access).await?;
    Ok(Arc::new(LargeValues::new(store, EtcdStore::MAX_VALUE_BYTES)))
}

#[cfg(not(feature = "etcd"))]
async fn connect_etcd(_: &[String], _: &Access) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("etcd", "etcd"))
}

#[cfg(feature = "redis")]
async fn connect_redis(url: &str, access: &Access) -> Result<Arc<dyn KeyValueStore>> {
    use crate::redis::RedisStore;
    let store = RedisStore::connect_with(url, access).await?;
    Ok(Arc::new(LargeValues::new(store, RedisStore::MAX_VALUE_BYTES)))
}

#[cfg(not(feature = "redis"))]
async fn connect_redis(_: &str, _: &Access) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("redis", "redis"))
}

/// A ZooKeeper store, wrapped in `LargeValues` with its per-node limit.
#[cfg(feature = "zookeeper")]
async fn connect_zookeeper(
    hosts: &[String],
    chroot: Option<&str>,
    access: &Access,
) -> Result<Arc<dyn KeyValueStore>> {
    let store = crate::zookeeper::ZooKeeperStore::connect_with(hosts, chroot, access).await?;
    Ok(Arc::new(LargeValues::new(
        store,
        crate::zookeeper::ZooKeeperStore::MAX_VALUE_BYTES,
    )))
}

#[cfg(not(feature = "zookeeper"))]
async fn connect_zookeeper(_: &[String], _: Option<&str>, _: &Access) -> Result<Arc<dyn KeyValueStore>> {
    Err(left_out("zk", "zookeeper"))
}

/// A Consul store, wrapped in `LargeValues` with its per-value limit.
#[cfg(feature = "consul")]
async fn connect_consul(base_url: &str, access: &Access) -> Result<Arc<dyn KeyValueStore>> {
    let store = crate::consul::ConsulStore::connect_with(base_url, access).await?;
    Ok(Arc::new(LargeValues::new(
        store,
        crate::consul::ConsulStore::MAX_VALUE_BYTES,
    )))
}

#[cfg(not(feature = "consul"))]
async fn connect_consul(_: &str, _: &Access) -> Result<Arc<dyn KeyValueStore>> {
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

/// `url` with its password and credential parameters replaced by `***`, for messages and logs
/// ([`vamp_core::redact::url`]).
pub fn redacted(url: &str) -> String {
    vamp_core::redact::url(url)
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
                endpoints: strings(&["h1:2379", "h2:2379", "10.0.0.3:32379"]),
                access: Access::default()
            }
        );
        assert_eq!(
            parsed("etcd://[::1]:2379/"),
            KvUrl::Etcd {
                endpoints: strings(&["[::1]:2379"]),
                access: Access::default()
            }
        );
        assert_eq!(
            parsed("etcd://[fe80::1]"),
            KvUrl::Etcd {
                endpoints: strings(&["[fe80::1]:2379"]),
                access: Access::default()
            }
        );
    }

    #[test]
    fn zookeeper_takes_an_ensemble_and_an_optional_chroot() {
        assert_eq!(
            parsed("zk://h1:2181,h2:2182/vamp/root"),
            KvUrl::ZooKeeper {
                hosts: strings(&["h1:2181", "h2:2182"]),
                chroot: Some("/vamp/root".into()),
                access: Access::default()
            }
        );
        assert_eq!(
            parsed("zk://h1"),
            KvUrl::ZooKeeper {
                hosts: strings(&["h1:2181"]),
                chroot: None,
                access: Access::default()
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
                base_url: "http://agent:8500".into(),
                access: Access::default()
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
                url: "redis://cache:6379/0".into(),
                access: Access::default()
            }
        );
        let KvUrl::Redis { url, access } = parsed("redis://:pw@cache:7000/3") else {
            panic!("not redis");
        };
        assert_eq!(url, "redis://cache:7000/3");
        assert_eq!(access.login().unwrap().unwrap().1.expose(), "pw");
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
    fn unknown_queries_fragments_credentials_and_paths_are_refused_where_not_taken() {
        assert!(refused("etcd://h1?timeout=1").contains("timeout"));
        assert!(refused("etcd://h1#x").contains("fragment"));
        assert!(refused("memory://?tls=true").contains("TLS"));
        assert!(refused("zk://h1?ca=/c").contains("TLS"));
        assert!(refused("redis://h1?tls=true").contains("TLS"));
        assert!(refused("consul://user:t@h1").contains("user"));
        assert!(refused("zk://:pw@h1").contains("without a user"));
        assert!(refused("etcd://h1/prefix").contains("takes none"));
    }

    #[test]
    fn credentials_and_tls_are_read_for_the_stores_that_take_them() {
        let KvUrl::Etcd { access, .. } = parsed("etcd://root:pw@h1,h2?ca=/ca.pem&cert=/c.pem&key=/k.pem")
        else {
            panic!("not etcd");
        };
        assert_eq!(access.user.as_deref(), Some("root"));
        let tls = access.tls.unwrap();
        assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert!(tls.identity.is_some());
        let KvUrl::Consul { base_url, access } = parsed("consul://:tok@h1?tls=true") else {
            panic!("not consul");
        };
        assert_eq!(base_url, "https://h1:8500");
        assert_eq!(access.login().unwrap().unwrap().1.expose(), "tok");
        let KvUrl::ZooKeeper { access, chroot, .. } = parsed("zk://vamp:pw@h1/root") else {
            panic!("not zk");
        };
        assert_eq!(
            (access.user.as_deref(), chroot.as_deref()),
            (Some("vamp"), Some("/root"))
        );
    }

    #[test]
    fn parsed_urls_never_print_their_password() {
        for url in [
            "etcd://u:hunter2@h",
            "redis://u:hunter2@h",
            "zk://u:hunter2@h",
            "consul://:hunter2@h",
        ] {
            let shown = format!("{:?}", parsed(url));
            assert!(!shown.contains("hunter2"), "{shown}");
        }
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
