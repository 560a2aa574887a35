//! [`RedisStore`]: the [`KeyValueStore`] on a single Redis server (crate `redis`, tokio, auto-reconnecting
//! connection manager).
//!
//! # Layout in Redis
//!
//! - The value of key `K` is the Redis string at `K` itself (`GET /vamp/default/gateways/haproxy/2.6/configuration`
//!   reads it), so other tools read what Vamp writes.
//! - `vamp-kv:revision`: one counter for the whole database; every set and delete takes the next number, so a
//!   key's version grows also across a delete and a later set.
//! - `vamp-kv:versions`: a hash, `K` → the version of `K`'s value.
//! - `vamp-kv:subtree`: a hash, path `P` → how many values lie at `P` or below it.
//! - `vamp-kv:children:<P>`: a sorted set (all scores 0, so ordered by name) of the names of `P`'s children
//!   under which at least one value lies. `children` is one `ZRANGE`; no `KEYS` or `SCAN`.
//!
//! `set` and `delete` are Lua scripts, so the value, its version, the counts and the children sets change in one
//! atomic step. Each script then publishes a notice on the channel `vamp-kv:watch:<K>`: `<version>=<value>` for a
//! value of at most [`INLINE_BYTES`], `<version>` alone for a larger one, `<version>-` for a delete. User keys all
//! start with `/`, so they never collide with these internal names. Write only through the store: a value
//! written with a plain `SET` reads back with version 0 and is neither listed by `children` nor seen by watches.
//! The scripts touch keys they compute, so this is for a single server, not Redis Cluster.
//!
//! # Watches
//!
//! Each watch has its own pub/sub connection: it subscribes to the key's channel first, then reads the current
//! value and delivers it. Of the notices that arrived since (queued ones are coalesced to the latest) it delivers
//! the value or deletion the notice carries, or reads the value when the notice has none; notices no newer than
//! what was delivered are skipped, so versions never go back. The store publishes the channel itself, so no
//! server setting
//! (`notify-keyspace-events`) is needed. When the connection is lost the watch reports one retryable error,
//! reconnects with backoff, subscribes again, reads the current value and delivers it: the final value always
//! arrives. A deleted key is delivered without value and with version 0 (Redis keeps no tombstone).

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use futures::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubStream};
use redis::{Client, IntoConnectionInfo, RedisError, RetryMethod, Script};
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::{Error, Result};

use crate::access::Access;
use crate::large::check_one_write;
use crate::reconnect::{close_signal, or_absent, CloseOnDrop, Closed, Reconnect, Reporting};

const REVISION: &str = "vamp-kv:revision";
const VERSIONS: &str = "vamp-kv:versions";
const SUBTREE: &str = "vamp-kv:subtree";
const CHILDREN_PREFIX: &str = "vamp-kv:children:";
const WATCH_PREFIX: &str = "vamp-kv:watch:";

/// Values up to this size travel inside the change notice, which saves watchers a read; larger ones are read.
pub const INLINE_BYTES: usize = 64 * 1024;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Walks the ancestors of `key` (and `key` itself) and adds `delta` to each one's subtree count, adding the name
/// to (or removing it from) its parent's children set when the count leaves (or reaches) zero.
const WALK_PATHS: &str = r"
local function walk(key, delta, subtree, children_prefix)
  local slash = 1
  while true do
    local next_slash = string.find(key, '/', slash + 1, true)
    local path = key
    if next_slash then path = string.sub(key, 1, next_slash - 1) end
    local parent = children_prefix .. string.sub(key, 1, slash - 1)
    local name = string.sub(path, slash + 1)
    local count = redis.call('HINCRBY', subtree, path, delta)
    if delta > 0 and count == 1 then
      redis.call('ZADD', parent, 0, name)
    elseif delta < 0 and count <= 0 then
      redis.call('HDEL', subtree, path)
      redis.call('ZREM', parent, name)
    end
    if not next_slash then break end
    slash = next_slash
  end
end
";

/// KEYS: the key, the revision counter, the versions hash, the subtree hash. ARGV: the value, the children
/// prefix, the watch prefix, the inline limit. Returns the new version.
const SET_SCRIPT: &str = r"
local key = KEYS[1]
local indexed = redis.call('HEXISTS', KEYS[3], key) == 1
redis.call('SET', key, ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[3], key, version)
if not indexed then walk(key, 1, KEYS[4], ARGV[2]) end
if string.len(ARGV[1]) <= tonumber(ARGV[4]) then
  redis.call('PUBLISH', ARGV[3] .. key, version .. '=' .. ARGV[1])
else
  redis.call('PUBLISH', ARGV[3] .. key, version)
end
return version
";

/// KEYS as for the set script. ARGV: the children prefix, the watch prefix. Returns 1 when a value was deleted,
/// else 0.
const DELETE_SCRIPT: &str = r"
local key = KEYS[1]
local existed = redis.call('DEL', key)
if redis.call('HDEL', KEYS[3], key) == 1 then
  walk(key, -1, KEYS[4], ARGV[1])
end
if existed == 1 then
  local version = redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[2] .. key, version .. '-')
end
return existed
";

/// A key-value store on one Redis server (one database of it).
pub struct RedisStore {
    client: Client,
    connection: ConnectionManager,
    address: String,
    set_script: Script,
    delete_script: Script,
    closed: Closed,
    _close: CloseOnDrop,
}

impl RedisStore {
    /// The largest value stored as it is. Redis takes strings up to 512 MB, but one command that large stalls the
    /// single-threaded server for everyone; [`crate::large::LargeValues`] compresses or chunks values above this.
    pub const MAX_VALUE_BYTES: usize = 32 * 1024 * 1024;

    /// The port used when the URL names none.
    pub const DEFAULT_PORT: u16 = 6379;

    /// Connects to the server of `url` (`redis://[user][:password@]host[:port][/db]`, the `redis` crate's URL
    /// form) and checks that it answers. Fails with `Invalid` for a malformed URL, with a retryable
    /// `Unavailable` when the server does not answer within a few seconds.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &Access::default()).await
    }

    /// [`RedisStore::connect`] logged in as `access`'s ACL user (`AUTH user password`; the `default` user when
    /// only a password is given), on every connection, and checked with a `PING`. Wrong or missing credentials
    /// fail here: `Backend` saying the server refused them (`WRONGPASS`, `NOAUTH`). Fails with `Invalid` when the password file cannot be read.
    pub async fn connect_with(url: &str, access: &Access) -> Result<Self> {
        let address = redacted(url);
        let mut info = url.into_connection_info().map_err(|e| {
            Error::invalid(format!("The Redis URL '{address}' is not valid: {e}")).with_source(e)
        })?;
        if let Some((user, password)) = access.login()? {
            let mut settings = info.redis_settings().clone().set_password(password.expose());
            if !user.is_empty() {
                settings = settings.set_username(user);
            }
            info = info.set_redis_settings(settings);
        }
        let client = Client::open(info).map_err(|e| {
            Error::invalid(format!("The Redis URL '{address}' is not valid: {e}")).with_source(e)
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = tokio::time::timeout(
            CONNECT_TIMEOUT * 3,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| {
            Error::unavailable(format!(
                "Redis at {address} did not answer within {:?}.",
                CONNECT_TIMEOUT * 3
            ))
        })?
        .map_err(|e| redis_error(&address, "connecting", e))?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection.clone())
            .await
            .map_err(|e| redis_error(&address, "checking the connection (PING)", e))?;
        let (close, closed) = close_signal();
        Ok(RedisStore {
            client,
            connection,
            address,
            set_script: Script::new(&format!("{WALK_PATHS}{SET_SCRIPT}")),
            delete_script: Script::new(&format!("{WALK_PATHS}{DELETE_SCRIPT}")),
            closed,
            _close: close,
        })
    }

    /// The server address, `redis://host:port/db`, without credentials.
    pub fn address(&self) -> &str {
        &self.address
    }
}

#[async_trait]
impl KeyValueStore for RedisStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        read(&mut self.connection.clone(), &self.address, key).await
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        check_one_write("Redis", key, &value, Self::MAX_VALUE_BYTES)?;
        self.set_script
            .key(key.as_str())
            .key(REVISION)
            .key(VERSIONS)
            .key(SUBTREE)
            .arg(value)
            .arg(CHILDREN_PREFIX)
            .arg(WATCH_PREFIX)
            .arg(INLINE_BYTES)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| redis_error(&self.address, &format!("setting '{key}'"), e))
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        let deleted: i64 = self
            .delete_script
            .key(key.as_str())
            .key(REVISION)
            .key(VERSIONS)
            .key(SUBTREE)
            .arg(CHILDREN_PREFIX)
            .arg(WATCH_PREFIX)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| redis_error(&self.address, &format!("deleting '{key}'"), e))?;
        Ok(deleted > 0)
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        let names: Vec<String> = redis::cmd("ZRANGE")
            .arg(format!("{CHILDREN_PREFIX}{key}"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| redis_error(&self.address, &format!("listing the children of '{key}'"), e))?;
        Ok(names)
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        let state = Watch {
            client: self.client.clone(),
            connection: self.connection.clone(),
            address: self.address.clone(),
            key: key.clone(),
            reconnect: Reconnect::new(self.closed.clone(), Reporting::FirstOfOutage),
            messages: None,
            delivered: 0,
        };
        stream::unfold(state, Watch::next).boxed()
    }
}

async fn read(connection: &mut ConnectionManager, address: &str, key: &Key) -> Result<Option<Versioned>> {
    let (value, version): (Option<Vec<u8>>, Option<u64>) = redis::pipe()
        .atomic()
        .get(key.as_str())
        .hget(VERSIONS, key.as_str())
        .query_async(connection)
        .await
        .map_err(|e| redis_error(address, &format!("reading '{key}'"), e))?;
    Ok(value.map(|value| Versioned {
        value: Some(value),
        version: version.unwrap_or_default(),
    }))
}

/// The state of one watch: a live subscription, or none while (re)connecting.
struct Watch {
    client: Client,
    connection: ConnectionManager,
    address: String,
    key: Key,
    reconnect: Reconnect,
    messages: Option<PubSubStream>,
    /// The version of the last item delivered; notices up to it are old news.
    delivered: u64,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Versioned>, Watch)> {
        loop {
            if !self.reconnect.ready().await {
                return None;
            }
            let Some(messages) = self.messages.as_mut() else {
                let started = self.start().await;
                match self.current(started, true).await {
                    Some(item) => return Some((item, self)),
                    None => continue,
                }
            };
            let message = self.reconnect.unless_closed(messages.next()).await?;
            let Some(mut latest) = message else {
                self.messages = None;
                let lost = Error::unavailable(format!(
                    "The Redis watch of '{}' at {} lost its connection; reconnecting.",
                    self.key, self.address
                ));
                if let Some(report) = self.reconnect.failed(lost) {
                    return Some((Err(report), self));
                }
                continue;
            };
            while let Some(Some(newer)) = messages.next().now_or_never() {
                latest = newer;
            }
            if let Some(item) = notice(latest.get_payload_bytes()) {
                if item.version <= self.delivered {
                    continue;
                }
                self.delivered = item.version;
                return Some((Ok(item), self));
            }
            match self.current(Ok(()), false).await {
                Some(item) => return Some((item, self)),
                None => continue,
            }
        }
    }

    /// After a successful step, reads and returns the current value; after a failed one, drops the subscription
    /// and returns the error to report, if any (`None`: retry quietly). After a (re)subscription, `fresh`, the
    /// version read replaces the one delivered before (a restarted server without persistence counts anew).
    async fn current(&mut self, step: Result<()>, fresh: bool) -> Option<Result<Versioned>> {
        let result = match step {
            Ok(()) => read(&mut self.connection, &self.address, &self.key).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(current) => {
                self.reconnect.succeeded();
                let current = or_absent(current);
                self.delivered = if fresh {
                    current.version
                } else {
                    self.delivered.max(current.version)
                };
                Some(Ok(current))
            }
            Err(e) => {
                self.messages = None;
                self.reconnect.failed(e).map(Err)
            }
        }
    }

    /// Opens a pub/sub connection subscribed to the key's channel.
    async fn start(&mut self) -> Result<()> {
        let channel = format!("{WATCH_PREFIX}{}", self.key);
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, RedisError>(pubsub.into_on_message())
        };
        let messages = tokio::time::timeout(CONNECT_TIMEOUT, subscribe)
            .await
            .map_err(|_| {
                Error::unavailable(format!(
                    "Redis at {} did not accept a subscription within {CONNECT_TIMEOUT:?}.",
                    self.address
                ))
            })?
            .map_err(|e| redis_error(&self.address, &format!("watching '{}'", self.key), e))?;
        self.messages = Some(messages);
        Ok(())
    }
}

/// What a change notice says: the value or deletion it carries with its version, or `None` when the value has to
/// be read (a large value, or a notice this build does not understand).
fn notice(payload: &[u8]) -> Option<Versioned> {
    let digits = payload.iter().take_while(|b| b.is_ascii_digit()).count();
    let version: u64 = std::str::from_utf8(payload.get(..digits)?).ok()?.parse().ok()?;
    match payload.get(digits..)? {
        [b'=', value @ ..] => Some(Versioned {
            value: Some(value.to_vec()),
            version,
        }),
        [b'-'] => Some(Versioned { value: None, version }),
        _ => None,
    }
}

/// `url` without a password, for messages.
fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
        _ => url.to_string(),
    }
}

/// Maps a Redis error into the Vamp error kinds: unreachable, dropped, timed out or loading → retryable
/// `Unavailable`, a bad configuration → `Invalid`, anything else → `Backend`.
fn redis_error(address: &str, what: &str, e: RedisError) -> Error {
    let message = format!("Redis at {address} failed {what}: {e}");
    let reachability = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.retry_method(),
            RetryMethod::Reconnect
                | RetryMethod::ReconnectFromInitialConnections
                | RetryMethod::WaitAndRetry
                | RetryMethod::RetryImmediately
        );
    let error = if reachability {
        Error::unavailable(message)
    } else if e.kind() == redis::ErrorKind::InvalidClientConfig {
        Error::invalid(message)
    } else {
        Error::backend(message)
    };
    error.with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_carry_small_values_and_deletions() {
        assert_eq!(
            notice(b"42=a=b\n\0"),
            Some(Versioned {
                value: Some(b"a=b\n\0".to_vec()),
                version: 42
            })
        );
        assert_eq!(
            notice(b"7="),
            Some(Versioned {
                value: Some(Vec::new()),
                version: 7
            })
        );
        assert_eq!(
            notice(b"43-"),
            Some(Versioned {
                value: None,
                version: 43
            })
        );
    }

    #[test]
    fn notices_without_a_value_mean_read_it() {
        for payload in [&b"44"[..], b"", b"x=1", b"45-extra", b"=1"] {
            assert_eq!(notice(payload), None, "{payload:?}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redacted("redis://:secret@host:6379/2"), "redis://host:6379/2");
        assert_eq!(redacted("redis://host:6379"), "redis://host:6379");
    }

    #[test]
    fn io_failures_are_retryable() {
        let e = redis_error(
            "redis://h:1",
            "reading '/a'",
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            )),
        );
        assert!(e.is_retryable());
        assert!(e.message().contains("redis://h:1") && e.message().contains("'/a'"));
    }

    #[test]
    fn bad_configuration_is_invalid() {
        let e = redis_error(
            "redis://h:1",
            "connecting",
            RedisError::from((redis::ErrorKind::InvalidClientConfig, "bad db")),
        );
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
    }
}
