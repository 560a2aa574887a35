//! The Consul backend of [`KeyValueStore`], speaking Consul's KV HTTP API (`/v1/kv`) directly through `reqwest`
//! (rustls), with blocking queries for watches.
//!
//! Layout: the key `/vamp/default/x` is the Consul key `vamp/default/x` (Consul keys carry no leading `/`), at
//! `GET|PUT|DELETE /v1/kv/vamp/default/x`. Consul keys are flat: a value-less key simply does not exist, and the
//! empty value is an existing key whose `Value` is `null`. Versions are `ModifyIndex`, Consul's Raft index, which
//! increases with every write store-wide, so also across a delete and a later set.
//!
//! `set` is a `PUT` followed by a `GET` for the new `ModifyIndex` (a `PUT` answers only `true`); when another
//! client writes the key in between, `set` returns that later version, which is still greater than every version
//! before. `delete` reads the `ModifyIndex` and deletes with `?cas=<it>`, so it says truly whether it removed a
//! value. `children` lists `?keys&separator=/` below the key.
//!
//! Watches are blocking queries (`?index=<X-Consul-Index>&wait=30s`). As Consul documents, an answer may come
//! without a change (the stream delivers only changed values), the index is reset to 0 when it goes backwards
//! or is 0, and after an error the stream backs off, reads the current value again without `index` and
//! delivers it when it differs from the last one delivered.
//!
//! Tested against a wire-level double of the documented API (`vamp-kv/tests/support/consul_double.rs`), not a
//! real Consul, which cannot be installed on the project's machines.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use futures::stream::BoxStream;
use futures::StreamExt;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use vamp_core::kv::{Key, KeyValueStore, Versioned};
use vamp_core::{Error, Result};

use crate::access::Access;
use crate::large::check_one_write;
use crate::reconnect::{close_signal, or_absent, CloseOnDrop, Closed, Reconnect, Reporting};

/// The largest value one `set` accepts: Consul's default `kv_max_value_size` (512 KiB). Larger values go through
/// [`crate::large::LargeValues`].
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// How long one blocking query of a watch waits for a change before Consul answers anyway.
pub const WATCH_WAIT: Duration = Duration::from_secs(30);

/// How long one plain request may take before it fails with `Unavailable`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: usize = 16;

/// How long a watch waits before its next query after Consul's index went backwards or was 0 (and was reset), so
/// that a misbehaving agent cannot make the loop spin.
const INDEX_RESET_PAUSE: Duration = Duration::from_millis(100);

/// A [`KeyValueStore`] on a Consul agent's KV HTTP API.
///
/// Dropping the store ends its watch streams.
pub struct ConsulStore {
    api: Arc<Api>,
    closed: Closed,
    _close: CloseOnDrop,
}

impl std::fmt::Debug for ConsulStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulStore")
            .field("base", &self.api.base.as_str())
            .finish()
    }
}

struct Api {
    base: Url,
    http: reqwest::Client,
}

/// One KV entry as Consul answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    value: Option<String>,
    modify_index: u64,
}

/// What a read of one key found, with the `X-Consul-Index` of the answer.
struct Read {
    current: Option<Versioned>,
    index: u64,
}

impl ConsulStore {
    /// [`MAX_VALUE_BYTES`], the per-write limit to give [`crate::large::LargeValues`] when wrapping this store.
    pub const MAX_VALUE_BYTES: usize = MAX_VALUE_BYTES;

    /// Connects to the agent at `base_url` (`http://host:8500` or `https://…`) and checks that it answers
    /// `/v1/status/leader` with a leader.
    ///
    /// Fails with `Invalid` for a URL that is not `http(s)://host[:port]`, and with `Unavailable` when the agent
    /// cannot be reached or knows no leader.
    pub async fn connect(base_url: &str) -> Result<Self> {
        Self::connect_with(base_url, &Access::default()).await
    }

    /// [`ConsulStore::connect`] with `access`: its password is the ACL token, sent as `X-Consul-Token` on every
    /// request (marked sensitive, so it is never logged) and checked at once through `/v1/acl/token/self` — an
    /// unknown token fails with `Backend` saying the agent refused it; its TLS settings trust the CA given
    /// (besides the system's roots) and present the client certificate given. Fails with `Invalid` when a file
    /// cannot be read or holds no PEM.
    pub async fn connect_with(base_url: &str, access: &Access) -> Result<Self> {
        let base = parse_base(base_url)?;
        let bad_pem = |what: &str, e: reqwest::Error| {
            Error::invalid(format!("Consul: the {what} is not usable PEM: {e}")).with_source(e)
        };
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        let token = access.login()?.map(|(_, token)| token);
        if let Some(token) = &token {
            let mut value = reqwest::header::HeaderValue::from_str(token.expose()).map_err(|_| {
                Error::invalid("Consul: the ACL token holds characters a header cannot carry.")
            })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("X-Consul-Token", value);
            builder = builder.default_headers(headers);
        }
        if let Some(tls) = &access.tls {
            if let Some(ca) = tls.ca_pem()? {
                let certificate =
                    reqwest::Certificate::from_pem(&ca).map_err(|e| bad_pem("CA certificate", e))?;
                builder = builder.add_root_certificate(certificate);
            }
            if let Some((cert, key)) = tls.identity_pem()? {
                let mut pem = cert;
                pem.push(b'\n');
                pem.extend_from_slice(&key);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|e| bad_pem("client certificate or key", e))?;
                builder = builder.identity(identity);
            }
        }
        let http = builder.build().map_err(|e| {
            Error::backend(format!("Consul: the HTTP client cannot be built: {e}")).with_source(e)
        })?;
        let api = Api { base, http };
        api.check_leader().await?;
        if token.is_some() {
            api.check_token().await?;
        }
        let (close, closed) = close_signal();
        Ok(ConsulStore {
            api: Arc::new(api),
            closed,
            _close: close,
        })
    }
}

fn parse_base(base_url: &str) -> Result<Url> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "Consul: the address '{base_url}' {why}; write it as 'http://127.0.0.1:8500'."
        ))
    };
    let mut base = Url::parse(base_url).map_err(|_| invalid("is not a URL"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(invalid("names no host"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

impl Api {
    fn endpoint(&self, segments: &[&str], trailing_slash: bool) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                Error::invalid(format!("Consul: the address '{}' cannot take a path.", self.base))
            })?;
            path.pop_if_empty().extend(segments);
            if trailing_slash {
                path.push("");
            }
        }
        Ok(url)
    }

    fn kv_url(&self, key: &Key, trailing_slash: bool) -> Result<Url> {
        let mut segments = vec!["v1", "kv"];
        segments.extend(key.segments());
        self.endpoint(&segments, trailing_slash)
    }

    fn unreachable(&self, what: &str, key: Option<&Key>, error: reqwest::Error) -> Error {
        let about = key.map(|k| format!(" of '{k}'")).unwrap_or_default();
        let why = if error.is_timeout() {
            "timed out".to_string()
        } else if error.is_connect() {
            "cannot connect".to_string()
        } else {
            error.to_string()
        };
        Error::unavailable(format!(
            "Consul at {}: {what}{about} failed: {why}; retry later.",
            self.base
        ))
        .with_source(error)
    }

    async fn refusal(&self, what: &str, key: Option<&Key>, response: reqwest::Response) -> Error {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let about = key.map(|k| format!(" of '{k}'")).unwrap_or_default();
        let message = format!(
            "Consul at {}: {what}{about} answered {status}: {}",
            self.base,
            body.trim()
        );
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Error::invalid(format!(
                "{message}; the value is above the agent's kv_max_value_size: store it through \
                 vamp_kv::large::LargeValues."
            )),
            StatusCode::BAD_REQUEST => Error::invalid(format!("{message}.")),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                Error::backend(format!("{message}; the agent's ACLs refuse it."))
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Error::unavailable(format!("{message}; retry later."))
            }
            _ => Error::backend(format!("{message}.")),
        }
    }

    /// Sends `request` with `timeout`; failing to reach the agent is `Unavailable` naming `what` and `key`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
        what: &str,
        key: Option<&Key>,
    ) -> Result<reqwest::Response> {
        request
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(what, key, e))
    }

    /// Whether the agent knows the token this client sends: `Backend` naming the refusal otherwise.
    async fn check_token(&self) -> Result<()> {
        let url = self.endpoint(&["v1", "acl", "token", "self"], false)?;
        let response = self
            .send(self.http.get(url), REQUEST_TIMEOUT, "the ACL token check", None)
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.refusal("the ACL token check", None, response).await)
        }
    }

    async fn check_leader(&self) -> Result<()> {
        let url = self.endpoint(&["v1", "status", "leader"], false)?;
        let response = self
            .send(self.http.get(url), REQUEST_TIMEOUT, "the leader check", None)
            .await?;
        if !response.status().is_success() {
            return Err(self.refusal("the leader check", None, response).await);
        }
        let leader = response
            .text()
            .await
            .map_err(|e| self.unreachable("the leader check", None, e))?;
        if leader.trim().trim_matches('"').is_empty() {
            return Err(Error::unavailable(format!(
                "Consul at {}: the agent knows no cluster leader; retry when the cluster has one.",
                self.base
            )));
        }
        Ok(())
    }

    /// Reads `key`; with `blocking`, waits (a blocking query) until the index passes the given one.
    async fn read(&self, what: &str, key: &Key, blocking: Option<u64>) -> Result<Read> {
        let mut url = self.kv_url(key, false)?;
        let mut timeout = REQUEST_TIMEOUT;
        if let Some(index) = blocking.filter(|i| *i > 0) {
            url.query_pairs_mut()
                .append_pair("index", &index.to_string())
                .append_pair("wait", &format!("{}s", WATCH_WAIT.as_secs()));
            timeout += WATCH_WAIT + WATCH_WAIT / 16;
        }
        let response = self.send(self.http.get(url), timeout, what, Some(key)).await?;
        let index = response
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match response.status() {
            StatusCode::NOT_FOUND => Ok(Read { current: None, index }),
            s if s.is_success() => {
                let entries: Vec<Entry> = response.json().await.map_err(|e| {
                    Error::backend(format!(
                        "Consul at {}: {what} of '{key}' answered what is not a KV entry list: {e}.",
                        self.base
                    ))
                })?;
                let current = match entries.into_iter().next() {
                    None => None,
                    Some(entry) => Some(self.versioned(key, entry)?),
                };
                Ok(Read { current, index })
            }
            _ => Err(self.refusal(what, Some(key), response).await),
        }
    }

    fn versioned(&self, key: &Key, entry: Entry) -> Result<Versioned> {
        let value = match entry.value {
            None => Vec::new(),
            Some(text) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| {
                    Error::backend(format!(
                        "Consul at {}: the value of '{key}' is not base64: {e}.",
                        self.base
                    ))
                })?,
        };
        Ok(Versioned {
            value: Some(value),
            version: entry.modify_index,
        })
    }

    async fn put(&self, key: &Key, value: Vec<u8>) -> Result<()> {
        let response = self
            .send(
                self.http.put(self.kv_url(key, false)?).body(value),
                REQUEST_TIMEOUT,
                "set",
                Some(key),
            )
            .await?;
        if !response.status().is_success() {
            return Err(self.refusal("set", Some(key), response).await);
        }
        match response.json::<bool>().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::backend(format!(
                "Consul at {}: set of '{key}' answered false.",
                self.base
            ))),
            Err(e) => Err(self.unreachable("set", Some(key), e)),
        }
    }

    async fn delete_at(&self, key: &Key, modify_index: u64) -> Result<bool> {
        let mut url = self.kv_url(key, false)?;
        url.query_pairs_mut()
            .append_pair("cas", &modify_index.to_string());
        let response = self
            .send(self.http.delete(url), REQUEST_TIMEOUT, "delete", Some(key))
            .await?;
        if !response.status().is_success() {
            return Err(self.refusal("delete", Some(key), response).await);
        }
        response
            .json::<bool>()
            .await
            .map_err(|e| self.unreachable("delete", Some(key), e))
    }

    async fn keys(&self, key: &Key) -> Result<Vec<String>> {
        let mut url = self.kv_url(key, true)?;
        url.query_pairs_mut()
            .append_key_only("keys")
            .append_pair("separator", "/");
        let response = self
            .send(self.http.get(url), REQUEST_TIMEOUT, "children", Some(key))
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(Vec::new()),
            s if s.is_success() => response.json::<Vec<String>>().await.map_err(|e| {
                Error::backend(format!(
                    "Consul at {}: children of '{key}' answered what is not a key list: {e}.",
                    self.base
                ))
            }),
            _ => Err(self.refusal("children", Some(key), response).await),
        }
    }
}

/// The Consul key of `key`: its path without the leading `/`.
fn consul_key(key: &Key) -> &str {
    key.as_str().trim_start_matches('/')
}

/// The direct child names in a `?keys&separator=/` listing below `key`: valid key segments, sorted, each once.
fn child_names(key: &Key, listed: &[String]) -> Vec<String> {
    let prefix = format!("{}/", consul_key(key));
    let mut names: Vec<String> = listed
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .filter(|name| key.join(name).is_ok())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The state of one watch: the index of the next blocking query (0: a plain read), whether Consul's index was
/// just reset, and the last item delivered.
struct Watching {
    api: Arc<Api>,
    reconnect: Reconnect,
    key: Key,
    index: u64,
    last: Option<Versioned>,
    index_reset: bool,
}

impl Watching {
    /// The next item of the watch stream; `None` once the store is dropped or after a non-retryable error.
    async fn next(mut self) -> Option<(Result<Versioned>, Watching)> {
        loop {
            if !self.reconnect.ready().await {
                return None;
            }
            if std::mem::take(&mut self.index_reset) && !self.reconnect.pause(INDEX_RESET_PAUSE).await {
                return None;
            }
            let blocking = (self.last.is_some() && self.index > 0).then_some(self.index);
            let read = self.api.read("watch", &self.key, blocking);
            match self.reconnect.unless_closed(read).await? {
                Ok(Read { current, index }) => {
                    self.reconnect.succeeded();
                    if index == 0 || index < self.index {
                        self.index = 0;
                        self.index_reset = true;
                    } else {
                        self.index = index;
                    }
                    let current = or_absent(current);
                    if self.last.as_ref() != Some(&current) {
                        self.last = Some(current.clone());
                        return Some((Ok(current), self));
                    }
                }
                Err(e) => {
                    self.index = 0;
                    if let Some(report) = self.reconnect.failed(e) {
                        return Some((Err(report), self));
                    }
                }
            }
        }
    }
}

#[async_trait]
impl KeyValueStore for ConsulStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>> {
        Ok(self.api.read("get", key, None).await?.current)
    }

    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64> {
        check_one_write("Consul", key, &value, MAX_VALUE_BYTES)?;
        self.api.put(key, value).await?;
        let read = self.api.read("set", key, None).await?;
        Ok(read.current.map_or(read.index, |v| v.version))
    }

    async fn delete(&self, key: &Key) -> Result<bool> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.api.read("delete", key, None).await?.current else {
                return Ok(false);
            };
            if self.api.delete_at(key, current.version).await? {
                return Ok(true);
            }
        }
        Err(Error::unavailable(format!(
            "Consul at {}: delete of '{key}' lost to other writers {MAX_ATTEMPTS} times; retry later.",
            self.api.base
        )))
    }

    async fn children(&self, key: &Key) -> Result<Vec<String>> {
        let listed = self.api.keys(key).await?;
        Ok(child_names(key, &listed))
    }

    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>> {
        let watching = Watching {
            api: Arc::clone(&self.api),
            reconnect: Reconnect::new(self.closed.clone(), Reporting::EveryFailure),
            key: key.clone(),
            index: 0,
            last: None,
            index_reset: false,
        };
        futures::stream::unfold(watching, Watching::next).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    #[test]
    fn keys_map_to_consul_paths_without_the_leading_slash() {
        let api = Api {
            base: parse_base("http://127.0.0.1:8500").unwrap(),
            http: reqwest::Client::new(),
        };
        let url = api.kv_url(&key("/vamp/default/a%b?c"), false).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8500/v1/kv/vamp/default/a%25b%3Fc");
        assert_eq!(
            api.kv_url(&key("/vamp/x"), true).unwrap().as_str(),
            "http://127.0.0.1:8500/v1/kv/vamp/x/"
        );
        assert_eq!(consul_key(&key("/vamp/x")), "vamp/x");
    }

    #[test]
    fn a_base_path_is_kept_in_front_of_the_api() {
        let api = Api {
            base: parse_base("https://proxy.example/consul").unwrap(),
            http: reqwest::Client::new(),
        };
        assert_eq!(
            api.kv_url(&key("/v"), false).unwrap().as_str(),
            "https://proxy.example/consul/v1/kv/v"
        );
    }

    #[test]
    fn bad_addresses_are_invalid() {
        for bad in [
            "127.0.0.1:8500",
            "ftp://h",
            "http://",
            "http://h?x=1",
            "not a url",
        ] {
            assert_eq!(parse_base(bad).unwrap_err().kind(), ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn child_names_are_direct_sorted_valid_segments() {
        let listed = [
            "vamp/x/b/",
            "vamp/x/a",
            "vamp/x/a/",
            "vamp/x/",
            "vamp/x/bad name",
            "vamp/xy/z",
        ]
        .map(String::from);
        assert_eq!(child_names(&key("/vamp/x"), &listed), ["a", "b"]);
    }
}
