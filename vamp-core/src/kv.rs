//! The `KeyValueStore` trait: where gateway configuration is published for agents to watch.
//!
//! Keys are validated paths ([`Key`]) so every backend (etcd, ZooKeeper, Consul, Redis, memory) accepts the same
//! set. The server writes the rendered proxy configuration under [`haproxy_configuration_key`]; gateway agents
//! [`KeyValueStore::watch`] that key and apply each value they receive.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The root segment of every key Vamp writes.
pub const ROOT_SEGMENT: &str = "vamp";

/// A validated key path: `/` followed by one or more segments separated by `/`.
///
/// A segment is non-empty, is not `.` or `..`, and consists of printable ASCII other than `/` (no white space,
/// no control characters). ASCII only, because ZooKeeper refuses some Unicode ranges in paths and one rule for
/// every backend keeps a key valid wherever it is written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key(String);

impl Key {
    /// Parses and validates a key such as `/vamp/default/gateways/haproxy/2.6/configuration`.
    ///
    /// Fails with [`crate::ErrorKind::Invalid`] saying which rule the text breaks.
    pub fn parse(text: &str) -> Result<Key> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(Error::invalid(format!(
                "The key '{text}' must start with '/', as in '/vamp/default'."
            )));
        };
        if rest.is_empty() {
            return Err(Error::invalid(
                "The key '/' has no segment; write at least one, as in '/vamp'.",
            ));
        }
        for segment in rest.split('/') {
            check_segment(segment)
                .map_err(|why| Error::invalid(format!("The key '{text}' is invalid: {why}")))?;
        }
        Ok(Key(text.to_string()))
    }

    /// This key with one more segment; fails with `Invalid` when `segment` is not a valid segment (it must not
    /// contain `/`).
    pub fn join(&self, segment: &str) -> Result<Key> {
        check_segment(segment).map_err(|why| {
            Error::invalid(format!(
                "Cannot add the segment '{segment}' to the key '{}': {why}",
                self.0
            ))
        })?;
        Ok(Key(format!("{}/{segment}", self.0)))
    }

    /// The segments, in order, without the separators.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').skip(1)
    }

    /// The last segment.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The key one segment up; `None` for a key of one segment.
    pub fn parent(&self) -> Option<Key> {
        let (parent, _) = self.0.rsplit_once('/')?;
        (!parent.is_empty()).then(|| Key(parent.to_string()))
    }

    /// Whether `self` lies strictly below `ancestor`.
    pub fn is_descendant_of(&self, ancestor: &Key) -> bool {
        self.0
            .strip_prefix(ancestor.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_segment(segment: &str) -> std::result::Result<(), String> {
    if segment.is_empty() {
        return Err("a segment is empty (two '/' in a row or a trailing '/').".to_string());
    }
    if segment == "." || segment == ".." {
        return Err(format!(
            "the segment '{segment}' is not allowed; name the key without relative segments."
        ));
    }
    if let Some(c) = segment.chars().find(|c| !c.is_ascii_graphic() || *c == '/') {
        let what = if c.is_whitespace() {
            "white space"
        } else if c.is_control() {
            "a control character"
        } else if c == '/' {
            "'/'"
        } else {
            "a character outside printable ASCII"
        };
        return Err(format!(
            "the segment '{}' contains {what} ({c:?}); use printable ASCII only.",
            segment.escape_debug()
        ));
    }
    Ok(())
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Key {
    type Err = Error;

    fn from_str(s: &str) -> Result<Key> {
        Key::parse(s)
    }
}

impl TryFrom<String> for Key {
    type Error = Error;

    fn try_from(s: String) -> Result<Key> {
        Key::parse(&s)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.0
    }
}

/// `/vamp/<namespace>`: the base under which everything of a namespace is written.
pub fn namespace_key(namespace: &str) -> Result<Key> {
    Key::parse(&format!("/{ROOT_SEGMENT}"))?.join(namespace)
}

/// `/vamp/<namespace>/gateways/<kind>/<version>/configuration`: where the marshaller `kind` (`haproxy`) of
/// `version` writes its rendered configuration, as the original agent reads it (vamp-behaviour.md §4.5).
pub fn gateway_configuration_key(namespace: &str, kind: &str, version: &str) -> Result<Key> {
    namespace_key(namespace)?
        .join("gateways")?
        .join(kind)?
        .join(version)?
        .join("configuration")
}

/// `/vamp/<namespace>/gateways/<kind>/<version>/template`: where an operator may store a template that replaces
/// the marshaller's built-in one.
pub fn gateway_template_key(namespace: &str, kind: &str, version: &str) -> Result<Key> {
    namespace_key(namespace)?
        .join("gateways")?
        .join(kind)?
        .join(version)?
        .join("template")
}

/// `/vamp/<namespace>/gateways/haproxy/<version>/configuration`.
pub fn haproxy_configuration_key(namespace: &str, version: &str) -> Result<Key> {
    gateway_configuration_key(namespace, "haproxy", version)
}

/// `/vamp/<namespace>/gateways/haproxy/<version>/template`.
pub fn haproxy_template_key(namespace: &str, version: &str) -> Result<Key> {
    gateway_template_key(namespace, "haproxy", version)
}

/// A value with the version it was written at; `value: None` means the key holds no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes stored, or `None` when the key is absent.
    pub value: Option<Vec<u8>>,
    /// The version of the write that produced `value`. With `value: None` it is the version of the deletion
    /// when the backend knows it, else 0; compare versions only between values.
    pub version: u64,
}

/// Bytes under validated keys, with versions and watches. Held as `Arc<dyn KeyValueStore>`.
///
/// Every key may hold a value and have children at the same time (as in ZooKeeper). Versions of one key
/// increase strictly with every write, also across a delete and a later set; they need not be contiguous and a
/// backend may take them from a store-wide revision counter (etcd, Consul). Every method may fail with
/// [`crate::ErrorKind::Unavailable`] when the store cannot be reached.
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// The value and its version; `None` when the key holds no value (also when it only has children).
    async fn get(&self, key: &Key) -> Result<Option<Versioned>>;

    /// Stores `value` (any bytes, the empty value included) and returns the new version, which is greater than
    /// every version the key had before. Durable once `Ok` for durable backends. Watches of the key see it.
    async fn set(&self, key: &Key, value: Vec<u8>) -> Result<u64>;

    /// Removes the key's value and says whether there was one. Idempotent: deleting an absent key is
    /// `Ok(false)`. Children are left in place. Watches of the key see a `Versioned` without value.
    async fn delete(&self, key: &Key) -> Result<bool>;

    /// The names (last segments) of the direct children of `key` under which at least one value is stored,
    /// sorted ascending, each once; empty when there is none. Whether `key` itself holds a value does not matter.
    async fn children(&self, key: &Key) -> Result<Vec<String>>;

    /// A stream of the key's value: the first item is the current value (a `Versioned` with `value: None`
    /// when absent); after every later set or delete of this key it delivers the value then current.
    ///
    /// It may coalesce intermediate values, but the latest value is always delivered, also after the backend
    /// lost and regained its connection (after a reconnect it delivers the current value again, so an item may
    /// repeat the previous one). An `Err` item reports a failure; the stream keeps trying after a retryable
    /// one and ends after any other. The stream does nothing until polled and ends when the store is dropped.
    fn watch(&self, key: &Key) -> BoxStream<'static, Result<Versioned>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn invalid(text: &str) -> String {
        let err = Key::parse(text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{text}");
        err.message().to_string()
    }

    #[test]
    fn a_gateway_configuration_path_is_a_key() {
        let key = Key::parse("/vamp/default/gateways/haproxy/2.6/configuration").unwrap();
        assert_eq!(
            key.segments().collect::<Vec<_>>(),
            ["vamp", "default", "gateways", "haproxy", "2.6", "configuration"]
        );
        assert_eq!(key.name(), "configuration");
    }

    #[test]
    fn keys_must_start_with_a_slash() {
        assert!(invalid("vamp/default").contains("must start with '/'"));
    }

    #[test]
    fn keys_refuse_empty_segments() {
        assert!(invalid("/vamp//default").contains("empty"));
        assert!(invalid("/vamp/").contains("empty"));
        assert!(invalid("/").contains("no segment"));
        assert!(invalid("").contains("must start with '/'"));
    }

    #[test]
    fn keys_refuse_relative_segments() {
        assert!(invalid("/vamp/../etc").contains("'..'"));
        assert!(invalid("/vamp/./x").contains("'.'"));
    }

    #[test]
    fn keys_refuse_white_space_and_control_characters() {
        assert!(invalid("/vamp/de fault").contains("white space"));
        assert!(invalid("/vamp/a\tb").contains("white space"));
        assert!(invalid("/vamp/a\u{1}b").contains("control character"));
        assert!(invalid("/vamp/caf\u{e9}").contains("printable ASCII"));
    }

    #[test]
    fn dots_inside_a_segment_are_fine() {
        assert!(Key::parse("/vamp/a.b/2.6/..x").is_ok());
    }

    #[test]
    fn join_adds_one_validated_segment() {
        let key = Key::parse("/vamp").unwrap();
        assert_eq!(key.join("default").unwrap().as_str(), "/vamp/default");
        assert_eq!(key.join("a/b").unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(key.join("").unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn parent_walks_up_to_the_first_segment() {
        let key = Key::parse("/vamp/default").unwrap();
        assert_eq!(key.parent().unwrap().as_str(), "/vamp");
        assert_eq!(key.parent().unwrap().parent(), None);
    }

    #[test]
    fn descendants_are_below_a_segment_boundary() {
        let a = Key::parse("/vamp/a").unwrap();
        assert!(Key::parse("/vamp/a/b").unwrap().is_descendant_of(&a));
        assert!(!Key::parse("/vamp/ab").unwrap().is_descendant_of(&a));
        assert!(!a.is_descendant_of(&a));
    }

    #[test]
    fn haproxy_keys_follow_the_original_layout() {
        assert_eq!(
            haproxy_configuration_key("default", "2.6").unwrap().as_str(),
            "/vamp/default/gateways/haproxy/2.6/configuration"
        );
        assert_eq!(
            haproxy_template_key("default", "2.6").unwrap().as_str(),
            "/vamp/default/gateways/haproxy/2.6/template"
        );
        assert_eq!(
            haproxy_configuration_key("bad ns", "2.6").unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn keys_deserialize_only_when_valid() {
        let key: Key = serde_json::from_str("\"/vamp/x\"").unwrap();
        assert_eq!(key.as_str(), "/vamp/x");
        assert!(serde_json::from_str::<Key>("\"vamp/x\"").is_err());
    }
}
