//! Where an [`super::ElasticsearchStore`] connects and which indices it uses, read from a URL.
//!
//! ```text
//! elasticsearch://[user:password@]host:port[/path][?namespace=default&index=vamp-pulse-default&timeout=30]
//! ```
//!
//! `elasticsearch://` and `http://` speak plain HTTP, `elasticsearch+https://` and `https://` TLS (rustls).
//! `namespace` (default `default`) names the Vamp namespace; the index name is `vamp-pulse-<namespace>`, the
//! original's namespace-name variant (vamp-behaviour.md §4.7), unless `index` gives another. `timeout` is the
//! request timeout in seconds (default 30).

use std::time::Duration;

use url::Url;
use vamp_core::{Error, Result};

/// The namespace when the URL names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The prefix of the index name, followed by `-<namespace>` (the original's `vamp-pulse-${namespace}`).
pub const INDEX_PREFIX: &str = "vamp-pulse";
/// The request timeout when the URL gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest index name Elasticsearch accepts, in bytes.
pub const MAX_INDEX_NAME_BYTES: usize = 255;

const KNOWN_PARAMETERS: &str = "namespace, index, timeout";

/// A parsed Elasticsearch URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticsearchConfig {
    /// The node's HTTP address, without credentials and parameters (`http://127.0.0.1:9200/`).
    pub node: Url,
    /// The user and password for basic authentication, if the URL has them.
    pub credentials: Option<(String, String)>,
    /// The Vamp namespace the events belong to.
    pub namespace: String,
    /// The `index.name` of the original: every event index is `<index>-<type>-<date>`.
    pub index: String,
    /// How long one request may take.
    pub timeout: Duration,
}

impl ElasticsearchConfig {
    /// Reads a URL as described in the module documentation. Fails with `Invalid` for another scheme, an
    /// unknown parameter, a namespace or index name Elasticsearch would refuse, or a timeout that is not a
    /// positive number of seconds.
    pub fn from_url(text: &str) -> Result<ElasticsearchConfig> {
        let url = Url::parse(text).map_err(|e| {
            Error::invalid(format!(
                "The Elasticsearch URL '{text}' cannot be read: {e}; write it as elasticsearch://host:9200."
            ))
        })?;
        let scheme = match url.scheme() {
            "elasticsearch" | "elasticsearch+http" | "http" => "http",
            "elasticsearch+https" | "https" => "https",
            other => {
                return Err(Error::invalid(format!(
                    "The Elasticsearch URL '{text}' has the scheme '{other}'; use elasticsearch://, \
                     elasticsearch+https://, http:// or https://."
                )))
            }
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::invalid(format!(
                "The Elasticsearch URL '{text}' names no host; write it as elasticsearch://host:9200."
            ))
        })?;
        let port = url.port().unwrap_or(9200);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let node_text = format!("{scheme}://{host}:{port}{}", url.path());
        let node = Url::parse(&node_text).map_err(|e| {
            Error::invalid(format!(
                "The Elasticsearch URL '{text}' does not give a usable node address: {e}."
            ))
        })?;
        let credentials = (!url.username().is_empty()).then(|| {
            (
                decode(url.username()),
                url.password().map(decode).unwrap_or_default(),
            )
        });

        let mut namespace = DEFAULT_NAMESPACE.to_string();
        let mut index = None;
        let mut timeout = DEFAULT_TIMEOUT;
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "namespace" => namespace = value.into_owned(),
                "index" => index = Some(value.into_owned()),
                "timeout" => timeout = parse_timeout(&value)?,
                other => {
                    return Err(Error::invalid(format!(
                        "The Elasticsearch URL has the unknown parameter '{other}'; known parameters are \
                         {KNOWN_PARAMETERS}."
                    )))
                }
            }
        }
        check_namespace(&namespace)?;
        let index = index.unwrap_or_else(|| format!("{INDEX_PREFIX}-{namespace}"));
        check_index_name(&index)?;
        Ok(ElasticsearchConfig {
            node,
            credentials,
            namespace,
            index,
            timeout,
        })
    }
}

/// The user or password of a URL, percent-decoded (a literal `+` stays a `+`).
fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn parse_timeout(value: &str) -> Result<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            Error::invalid(format!(
                "The Elasticsearch timeout '{value}' is not a positive whole number of seconds."
            ))
        })
}

/// Whether `text` may stand in an Elasticsearch index name: lowercase letters, digits, `-`, `_` and `.`, starting
/// with a letter or digit (no wildcard, separator or upper case, which index names or patterns refuse).
fn index_safe(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn check_namespace(namespace: &str) -> Result<()> {
    if index_safe(namespace) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "The namespace '{namespace}' cannot be part of an Elasticsearch index name; use lowercase letters, \
         digits, '-', '_' and '.', starting with a letter or digit."
    )))
}

/// What Elasticsearch requires of an index name, for the base name the store adds `-<type>-<date>` to.
fn check_index_name(index: &str) -> Result<()> {
    if !index_safe(index) {
        return Err(Error::invalid(format!(
            "The index name '{index}' is not one Elasticsearch accepts; use lowercase letters, digits, '-', '_' \
             and '.', starting with a letter or digit."
        )));
    }
    if index.len() + "-x-2000-01-01".len() > MAX_INDEX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "The index name '{index}' is too long: with '-<type>-<date>' added it would pass Elasticsearch's \
             limit of {MAX_INDEX_NAME_BYTES} bytes."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use vamp_core::ErrorKind;

    use super::*;

    #[test]
    fn the_index_is_vamp_pulse_and_the_namespace_name() {
        let c = ElasticsearchConfig::from_url("elasticsearch://es.local:9201?namespace=shop").unwrap();
        assert_eq!(c.node.as_str(), "http://es.local:9201/");
        assert_eq!(
            (c.namespace.as_str(), c.index.as_str()),
            ("shop", "vamp-pulse-shop")
        );
        let d = ElasticsearchConfig::from_url("http://localhost").unwrap();
        assert_eq!(
            (d.index.as_str(), d.node.port()),
            ("vamp-pulse-default", Some(9200))
        );
    }

    #[test]
    fn tls_schemes_give_https_and_credentials_are_taken_apart() {
        let c = ElasticsearchConfig::from_url("elasticsearch+https://vamp:s%40c+et@es:9243/prefix?timeout=5")
            .unwrap();
        assert_eq!(c.node.as_str(), "https://es:9243/prefix");
        assert_eq!(c.credentials, Some(("vamp".to_string(), "s@c+et".to_string())));
        assert_eq!(c.timeout, Duration::from_secs(5));
    }

    #[test]
    fn an_explicit_index_replaces_the_default() {
        let c = ElasticsearchConfig::from_url("elasticsearch://es?namespace=a&index=events").unwrap();
        assert_eq!((c.namespace.as_str(), c.index.as_str()), ("a", "events"));
    }

    #[test]
    fn bad_urls_are_invalid_and_say_what_to_write() {
        for (url, says) in [
            ("redis://es:9200", "scheme 'redis'"),
            ("elasticsearch://es?shards=3", "unknown parameter 'shards'"),
            ("elasticsearch://es?namespace=Shop", "namespace 'Shop'"),
            ("elasticsearch://es?namespace=a*b", "namespace 'a*b'"),
            ("elasticsearch://es?index=_hidden", "index name '_hidden'"),
            ("elasticsearch://es?timeout=0", "timeout '0'"),
            ("not a url", "cannot be read"),
        ] {
            let e = ElasticsearchConfig::from_url(url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{url}");
            assert!(e.message().contains(says), "{url}: {}", e.message());
        }
        let long = format!("elasticsearch://es?index={}", "a".repeat(250));
        assert!(ElasticsearchConfig::from_url(&long)
            .unwrap_err()
            .message()
            .contains("too long"));
    }
}
