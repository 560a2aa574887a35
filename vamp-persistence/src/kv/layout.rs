//! Where [`super::KvArtifactStore`] keeps what under its base key, and how artifact names become key segments.
//!
//! ```text
//! <base>/persistence/<kind plural>/<name>            the current revision (absent once deleted)
//! <base>/history/<kind plural>/<name>                the last revision number ever written, as decimal text
//! <base>/history/<kind plural>/<name>/<revision>     every revision ever written
//! ```
//!
//! The first line is the original's layout (vamp-behaviour.md §4.6). History lives under its own root so that the
//! children of `<base>/persistence/<kind plural>` are exactly the current artifacts, which is what `list` reads.
//!
//! Names that are already valid key segments and contain no `%` are written as they are, so the usual names
//! (`sava:1.0`, `shop`) read the same as in the original. Every other byte (`/`, `%`, white space, anything
//! outside printable ASCII) is percent-encoded as `%XX` of its UTF-8 bytes, and the names `.` and `..` become
//! `%2E` and `%2E%2E`, so any non-empty name has exactly one segment.

use vamp_core::kv::Key;
use vamp_core::model::Kind;
use vamp_core::{Error, Result};

/// The keys of one store's layout below its base key.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    base: Key,
}

impl Layout {
    /// The layout under `base`.
    pub(crate) fn new(base: &Key) -> Layout {
        Layout { base: base.clone() }
    }

    /// `<base>/persistence/<kind plural>`: the parent of every current artifact of `kind`.
    pub(crate) fn kind_dir(&self, kind: Kind) -> Result<Key> {
        self.base.join("persistence")?.join(kind.plural())
    }

    /// `<base>/persistence/<kind plural>/<name>`: the current revision.
    pub(crate) fn current(&self, kind: Kind, name: &str) -> Result<Key> {
        self.kind_dir(kind)?.join(&encode_name(name))
    }

    /// `<base>/history/<kind plural>/<name>`: the last revision number, and the parent of every revision.
    pub(crate) fn history_head(&self, kind: Kind, name: &str) -> Result<Key> {
        self.base
            .join("history")?
            .join(kind.plural())?
            .join(&encode_name(name))
    }

    /// `<base>/history/<kind plural>/<name>/<revision>`.
    pub(crate) fn history_entry(&self, kind: Kind, name: &str, revision: u64) -> Result<Key> {
        self.history_head(kind, name)?.join(&revision.to_string())
    }
}

/// The key segment for an artifact name (see the module documentation). Empty names are refused before this.
pub(crate) fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_graphic() && byte != b'/' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    match out.as_str() {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => out,
    }
}

/// The artifact name a segment encodes; fails with `Backend`, naming `key`, when the segment is not what
/// [`encode_name`] writes (a key written by something else under this store's base).
pub(crate) fn decode_name(segment: &str, key: &Key) -> Result<String> {
    let foreign = |why: &str| {
        Error::backend(format!(
            "The key-value artifact store found '{segment}' under '{key}', which is not an artifact name it wrote \
             ({why}); remove that key or give the store a base key of its own."
        ))
    };
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let (hex, after) = tail
                .split_at_checked(2)
                .ok_or_else(|| foreign("a '%' without two hex digits"))?;
            let text = std::str::from_utf8(hex).map_err(|_| foreign("a '%' without two hex digits"))?;
            let byte = u8::from_str_radix(text, 16).map_err(|_| foreign("a '%' without two hex digits"))?;
            bytes.push(byte);
            rest = after;
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    let name = String::from_utf8(bytes).map_err(|_| foreign("it decodes to bytes that are not UTF-8"))?;
    if name.is_empty() || encode_name(&name) != segment {
        return Err(foreign("it is not in the canonical encoding"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Key {
        Key::parse("/vamp/default").unwrap()
    }

    fn round_trip(name: &str) -> String {
        let segment = encode_name(name);
        let key = base().join(&segment).unwrap();
        assert_eq!(key.name(), segment, "{name:?} must encode to one segment");
        decode_name(&segment, &base()).unwrap()
    }

    #[test]
    fn the_current_document_sits_where_the_original_kept_it() {
        let layout = Layout::new(&base());
        assert_eq!(
            layout.current(Kind::Breed, "sava:1.0").unwrap().as_str(),
            "/vamp/default/persistence/breeds/sava:1.0"
        );
        assert_eq!(
            layout.history_entry(Kind::Gateway, "shop", 3).unwrap().as_str(),
            "/vamp/default/history/gateways/shop/3"
        );
    }

    #[test]
    fn plain_names_are_written_unchanged() {
        assert_eq!(encode_name("sava:1.0.0"), "sava:1.0.0");
        assert_eq!(encode_name("a.b"), "a.b");
    }

    #[test]
    fn names_that_are_not_segments_are_percent_encoded_and_come_back() {
        assert_eq!(encode_name("shop/frontend/8080"), "shop%2Ffrontend%2F8080");
        assert_eq!(encode_name("100%"), "100%25");
        assert_eq!(encode_name("."), "%2E");
        assert_eq!(encode_name(".."), "%2E%2E");
        for name in [
            "shop/frontend/8080",
            "100%",
            ".",
            "..",
            "a b",
            "café ☕",
            "tab\there",
            "%2F",
        ] {
            assert_eq!(round_trip(name), name);
        }
    }

    #[test]
    fn foreign_segments_are_backend_errors_naming_the_key() {
        for segment in ["%zz", "%4", "%C3%28", "%41", "%2e"] {
            let e = decode_name(segment, &base()).unwrap_err();
            assert_eq!(e.kind(), vamp_core::ErrorKind::Backend, "{segment}");
            assert!(e.message().contains("/vamp/default"), "{}", e.message());
        }
    }
}
