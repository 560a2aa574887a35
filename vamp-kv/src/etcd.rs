//! [`EtcdStore`]: the [`KeyValueStore`] on etcd's v3 API (crate `etcd-client`, gRPC).
//!
//! Keys map 1:1 to etcd keys (`/vamp/default/gateways/haproxy/2.6/configuration` is that etcd key), so
//! `etcdctl get` and the original agent read what Vamp writes. Versions are etcd's `mod_revision`, a store-wide
//! counter that only grows, across deletes too. `children` ranges over `<key>/` with keys only, in pages, and
//! skips over the subtree of each child once it has its name.
//!
//! A watch reads the current value (and the store revision of that read), then watches the key from the next
//! revision, so nothing written in between is missed. When the watch or the connection is lost it reports one
//! retryable error, reconnects with backoff, reads the current value again (and delivers it), and watches from
//! there: the final value always arrives.
//!
//! etcd refuses requests above its `--max-request-bytes` (1.5 MiB by default), so one value may be at most
//! [`EtcdStore::MAX_VALUE_BYTES`]; larger ones are refused with `Invalid` before they are sent. Wrap the store in
//! [`crate::large::LargeValues`] (as [`crate::url::connect`] does) to store any size.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, KvClient, TlsOptions, WatchClient,
    WatchOptions, WatchResponse, WatchStream,
};
use futures::stream::{self, BoxStream, StreamExt};
use futures::FutureExt;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::{Error, Result};

use crate::access::Access;
use crate::large::check_one_write;
use crate::reconnect::{close_signal, or_absent, CloseOnDrop, Closed, Reconnect, Reporting};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
const CHILDREN_PAGE: i64 = 500;

/// A key-value store on an etcd cluster (v3 API).
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    endpoints: String,
    closed: Closed,
    _close: CloseOnDrop,
}

impl EtcdStore {
    /// The largest value one `set` sends: etcd's default request limit (1.5 MiB) less 64 KiB for the key and the
    /// request's framing.
    pub const MAX_VALUE_BYTES: usize = 1536 * 1024 - 64 * 1024;

    /// The client port used when an endpoint names none.
    pub const DEFAULT_PORT: u16 = 2379;

    /// Connects to the cluster at `endpoints` (`host:port` or `http://host:port`, one per member; requests are
    /// balanced over them) and checks that it answers. Fails with `Invalid` for a malformed endpoint and with a
    /// retryable `Unavailable` when no member answers within a few seconds.
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        Self::connect_with(endpoints, &Access::default()).await
    }

    /// [`EtcdStore::connect`] with `access`: logged in as its RBAC user when it has a password (the client
    /// renews the token), and over TLS (`https://` endpoints) trusting its CA and presenting its client
    /// certificate when it has TLS settings. Wrong credentials fail here, with `Backend` saying etcd refused
    /// them; a server certificate the CA does not vouch for, or plain HTTP where TLS is asked for, fails as
    /// `Unavailable` (the connection does not come up). Fails with `Invalid` when a file cannot be read.
    pub async fn connect_with(endpoints: &[String], access: &Access) -> Result<Self> {
        if endpoints.is_empty() {
            return Err(Error::invalid(
                "etcd needs at least one endpoint, as in 'etcd://127.0.0.1:2379'.",
            ));
        }
        let scheme = if access.tls.is_some() { "https" } else { "http" };
        let urls: Vec<String> = endpoints
            .iter()
            .map(|e| {
                if e.contains("://") {
                    e.clone()
                } else {
                    format!("{scheme}://{e}")
                }
            })
            .collect();
        let described = urls.join(",");
        let mut options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        if let Some((user, password)) = access.login()? {
            options = options.with_user(user, password.expose());
        }
        if let Some(tls) = &access.tls {
            let mut config = TlsOptions::new();
            if let Some(ca) = tls.ca_pem()? {
                config = config.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = tls.identity_pem()? {
                config = config.identity(Identity::from_pem(cert, key));
            }
            options = options.with_tls(config);
        }
        let client = Client::connect(&urls, Some(options))
            .await
            .map_err(|e| etcd_error(&described, "connecting", e))?;
        let (close, closed) = close_signal();
        let store = EtcdStore {
            kv: client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            endpoints: described,
            closed,
            _close: close,
        };
        store
            .kv
            .clone()
            .get("/", Some(GetOptions::new().with_keys_only()))
            .await
            .map_err(|e| etcd_error(&store.endpoints, "checking the connection", e))?;
        Ok(store)
    }

    /// The endpoints, as `http://host:port` separated by commas.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    fn fail(&self, what: &str, key: &Key) -> impl FnOnce(etcd_client::Error) -> Error + '_ {
        let what = format!("{what} '{key}'");
        move |e| etcd_error(&self.endpoints, &what, e)
    }
}

#[async_trait]
impl KeyValueStore for EtcdStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        read(&mut self.kv.clone(), &self.endpoints, key)
            .await
            .map(|(v, _)| v)
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        check_one_write("etcd", key, &value, Self::MAX_VALUE_BYTES)?;
        let response = self
            .kv
            .clone()
            .put(key.as_str(), value, None)
            .await
            .map_err(self.fail("setting", key))?;
        revision(response.header().map(|h| h.revision()), &self.endpoints, key)
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        let response = self
            .kv
            .clone()
            .delete(key.as_str(), None)
            .await
            .map_err(self.fail("deleting", key))?;
        Ok(response.deleted() > 0)
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        let prefix = format!("{key}/");
        let end = format!("{key}0");
        let mut from = prefix.clone().into_bytes();
        let mut names: Vec<String> = Vec::new();
        loop {
            let options = GetOptions::new()
                .with_range(end.as_bytes())
                .with_keys_only()
                .with_limit(CHILDREN_PAGE);
            let response = self
                .kv
                .clone()
                .get(from.clone(), Some(options))
                .await
                .map_err(self.fail("listing the children of", key))?;
            for kv in response.kvs() {
                if let Some(name) = child_name(kv.key(), &prefix) {
                    if names.last().map(String::as_str) != Some(name) && key.join(name).is_ok() {
                        names.push(name.to_string());
                    }
                }
            }
            let Some(last) = response.kvs().last().map(|kv| kv.key()) else {
                break;
            };
            if !response.more() {
                break;
            }
            from = next_page_start(last, &prefix);
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        let state = Watch {
            kv: self.kv.clone(),
            watch: self.watch.clone(),
            endpoints: self.endpoints.clone(),
            key: key.clone(),
            reconnect: Reconnect::new(self.closed.clone(), Reporting::FirstOfOutage),
            stream: None,
        };
        stream::unfold(state, Watch::next).boxed()
    }
}

/// The name of the direct child of `prefix` (which ends in `/`) that `etcd_key` lies at or under.
fn child_name<'k>(etcd_key: &'k [u8], prefix: &str) -> Option<&'k str> {
    let rest = etcd_key.strip_prefix(prefix.as_bytes())?;
    let rest = std::str::from_utf8(rest).ok()?;
    rest.split('/').next().filter(|n| !n.is_empty())
}

/// Where the next page of a children listing starts after `last`: past the whole subtree of `last`'s child when
/// `last` lies below that child (keys of siblings that sort between the child and its subtree, such as `a.b`
/// between `a` and `a/x`, come before the subtree and so were already read), else just after `last`.
fn next_page_start(last: &[u8], prefix: &str) -> Vec<u8> {
    let rest = last.get(prefix.len()..).unwrap_or_default();
    match rest.iter().position(|b| *b == b'/') {
        Some(slash) => {
            let mut start = last.get(..prefix.len() + slash).unwrap_or_default().to_vec();
            start.push(b'0');
            start
        }
        None => {
            let mut start = last.to_vec();
            start.push(0);
            start
        }
    }
}

async fn read(kv: &mut KvClient, endpoints: &str, key: &Key) -> Result<(Option<Versioned>, i64)> {
    let mut response = kv
        .get(key.as_str(), None)
        .await
        .map_err(|e| etcd_error(endpoints, &format!("reading '{key}'"), e))?;
    let store_revision = response.header().map_or(0, |h| h.revision());
    let value = match response.take_kvs().into_iter().next() {
        Some(kv) => {
            let version = revision(Some(kv.mod_revision()), endpoints, key)?;
            let (_, value) = kv.into_key_value();
            Some(Versioned {
                value: Some(value),
                version,
            })
        }
        None => None,
    };
    Ok((value, store_revision))
}

fn revision(revision: Option<i64>, endpoints: &str, key: &Key) -> Result<u64> {
    revision
        .and_then(|r| u64::try_from(r).ok())
        .filter(|r| *r > 0)
        .ok_or_else(|| {
            Error::backend(format!(
                "etcd at {endpoints} answered for '{key}' without a revision."
            ))
        })
}

/// The state of one watch: a live etcd watch stream, or none while (re)connecting.
struct Watch {
    kv: KvClient,
    watch: WatchClient,
    endpoints: String,
    key: Key,
    reconnect: Reconnect,
    stream: Option<WatchStream>,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Versioned>, Watch)> {
        loop {
            if !self.reconnect.ready().await {
                return None;
            }
            let Some(stream) = self.stream.as_mut() else {
                match self.start().await {
                    Ok(current) => {
                        self.reconnect.succeeded();
                        return Some((Ok(current), self));
                    }
                    Err(e) => {
                        if let Some(report) = self.reconnect.failed(e) {
                            return Some((Err(report), self));
                        }
                        continue;
                    }
                }
            };
            let message = self.reconnect.unless_closed(stream.message()).await?;
            match message {
                Ok(Some(response)) => {
                    let mut latest = latest_of(&self.key, &response);
                    if response.canceled() {
                        self.stream = None;
                        continue;
                    }
                    while let Some(Ok(Some(more))) = stream.message().now_or_never() {
                        if more.canceled() {
                            self.stream = None;
                            break;
                        }
                        latest = latest_of(&self.key, &more).or(latest);
                    }
                    if let Some(item) = latest {
                        return Some((Ok(item), self));
                    }
                }
                Ok(None) | Err(_) => {
                    self.stream = None;
                    let lost = Error::unavailable(format!(
                        "The etcd watch of '{}' at {} lost its connection; reconnecting.",
                        self.key, self.endpoints
                    ));
                    if let Some(report) = self.reconnect.failed(lost) {
                        return Some((Err(report), self));
                    }
                }
            }
        }
    }

    /// Reads the current value and opens the etcd watch from the revision after that read.
    async fn start(&mut self) -> Result<Versioned> {
        let (current, store_revision) = read(&mut self.kv, &self.endpoints, &self.key).await?;
        let options = WatchOptions::new()
            .with_start_revision(store_revision + 1)
            .with_fragment();
        let stream = self
            .watch
            .watch(self.key.as_str(), Some(options))
            .await
            .map_err(|e| etcd_error(&self.endpoints, &format!("watching '{}'", self.key), e))?;
        self.stream = Some(stream);
        Ok(or_absent(current))
    }
}

/// The last event of `key` in `response`, as the value it leaves.
fn latest_of(key: &Key, response: &WatchResponse) -> Option<Versioned> {
    let event = response
        .events()
        .iter()
        .rfind(|e| e.kv().is_some_and(|kv| kv.key() == key.as_str().as_bytes()))?;
    let kv = event.kv()?;
    let version = u64::try_from(kv.mod_revision()).unwrap_or_default();
    Some(match event.event_type() {
        EventType::Put => Versioned {
            value: Some(kv.value().to_vec()),
            version,
        },
        EventType::Delete => Versioned { value: None, version },
    })
}

/// Maps an etcd client error into the Vamp error kinds: unreachable and timed out → retryable `Unavailable`,
/// bad input and oversized requests → `Invalid`, anything else → `Backend`.
fn etcd_error(endpoints: &str, what: &str, e: etcd_client::Error) -> Error {
    use etcd_client::Error as E;
    use tonic::Code;
    let message = format!("etcd at {endpoints} failed {what}: {e}");
    let error = match &e {
        E::TransportError(_) | E::IoError(_) | E::WatchError(_) => Error::unavailable(message),
        E::InvalidArgs(_) | E::InvalidUri(_) | E::EndpointError(_) => Error::invalid(message),
        E::GRpcStatus(status) => match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
                Error::unavailable(message)
            }
            Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange
                if status.message().contains("too large")
                    || status.message().contains("larger than max") =>
            {
                Error::invalid(format!(
                    "{message}. The request is larger than etcd accepts (--max-request-bytes); store large values \
                     through LargeValues."
                ))
            }
            Code::InvalidArgument | Code::OutOfRange => Error::invalid(message),
            Code::Unknown if is_connection_failure(status.message()) => Error::unavailable(message),
            _ => Error::backend(message),
        },
        _ => Error::backend(message),
    };
    error.with_source(e)
}

fn is_connection_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "transport",
        "connection",
        "connect",
        "broken pipe",
        "h2 protocol",
        "timeout",
    ]
    .iter()
    .any(|w| message.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_names_are_the_first_segment_below_the_prefix() {
        assert_eq!(child_name(b"/r/a", "/r/"), Some("a"));
        assert_eq!(child_name(b"/r/a/b/c", "/r/"), Some("a"));
        assert_eq!(child_name(b"/r//x", "/r/"), None);
        assert_eq!(child_name(b"/q/a", "/r/"), None);
    }

    #[test]
    fn a_page_ending_inside_a_subtree_continues_after_that_subtree() {
        assert_eq!(next_page_start(b"/r/a/deep/er", "/r/"), b"/r/a0".to_vec());
    }

    #[test]
    fn a_page_ending_at_a_child_continues_just_after_it() {
        assert_eq!(next_page_start(b"/r/a", "/r/"), b"/r/a\0".to_vec());
    }

    #[test]
    fn siblings_sorting_between_a_child_and_its_subtree_are_not_skipped() {
        // "/r/a.b" sorts after "/r/a" and before "/r/a/": a page ending at "/r/a" must not jump over it.
        let start = next_page_start(b"/r/a", "/r/");
        assert!(start.as_slice() < b"/r/a.b".as_slice());
        let after_subtree = next_page_start(b"/r/a/x", "/r/");
        assert!(after_subtree.as_slice() > b"/r/a/zzz".as_slice());
        assert!(after_subtree.as_slice() <= b"/r/a0".as_slice());
    }

    #[test]
    fn unreachable_and_timeouts_are_retryable() {
        let e = etcd_error(
            "http://x",
            "reading '/a'",
            etcd_client::Error::GRpcStatus(tonic::Status::unavailable("down")),
        );
        assert!(e.is_retryable());
        let e = etcd_error(
            "http://x",
            "reading '/a'",
            etcd_client::Error::GRpcStatus(tonic::Status::deadline_exceeded("slow")),
        );
        assert!(e.is_retryable());
        assert!(e.message().contains("http://x") && e.message().contains("'/a'"));
    }

    #[test]
    fn oversized_requests_are_invalid_and_say_what_to_do() {
        let e = etcd_error(
            "http://x",
            "setting '/a'",
            etcd_client::Error::GRpcStatus(tonic::Status::invalid_argument(
                "etcdserver: request is too large",
            )),
        );
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
        assert!(e.message().contains("LargeValues"));
    }

    #[test]
    fn other_server_failures_are_backend_errors() {
        let e = etcd_error(
            "http://x",
            "setting '/a'",
            etcd_client::Error::GRpcStatus(tonic::Status::permission_denied("no")),
        );
        assert_eq!(e.kind(), vamp_core::ErrorKind::Backend);
    }
}
