//! The value [`super::KvArtifactStore`] writes under a current or history key: one revision of an artifact as
//! UTF-8 JSON, `{"revision": 3, "updated": "2026-01-01T10:00:00Z", "document": {...}}`.
//!
//! The original wrote the bare artifact JSON under the current key; the envelope adds what the revision contract
//! needs. A value that is not an envelope (foreign data, the original's bare format, bytes that are not UTF-8)
//! is reported as a `Backend` error naming its key rather than guessed at.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vamp_core::kv::Key;
use vamp_core::model::Kind;
use vamp_core::store::Stored;
use vamp_core::{Error, Result};

/// One revision as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    pub(crate) revision: u64,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) document: serde_json::Value,
}

impl Envelope {
    /// The bytes to store.
    pub(crate) fn encode(&self, kind: Kind, name: &str) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::invalid(format!("The {kind} '{name}' cannot be written as JSON: {e}.")))
    }

    /// The envelope stored at `key`.
    pub(crate) fn decode(bytes: &[u8], key: &Key) -> Result<Envelope> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Error::backend(format!(
                "The key-value store holds {} bytes at '{key}' that are not UTF-8 (invalid at byte {}); \
                 the artifact store did not write them. Remove or repair that key.",
                bytes.len(),
                e.valid_up_to()
            ))
        })?;
        serde_json::from_str(text).map_err(|e| {
            Error::backend(format!(
                "The key-value store holds a value at '{key}' that is not a Vamp artifact revision \
                 ({{\"revision\", \"updated\", \"document\"}}): {e}. Remove or repair that key."
            ))
        })
    }

    /// The revision as the store answers it.
    pub(crate) fn into_stored(self, kind: Kind, name: &str) -> Stored {
        Stored {
            kind,
            name: name.to_string(),
            revision: self.revision,
            document: self.document,
            updated: self.updated,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vamp_core::ErrorKind;

    use super::*;

    fn key() -> Key {
        Key::parse("/vamp/persistence/breeds/x").unwrap()
    }

    #[test]
    fn an_envelope_round_trips() {
        let envelope = Envelope {
            revision: 7,
            updated: Utc::now(),
            document: json!({"name": "x", "big": 9_007_199_254_740_993u64}),
        };
        let bytes = envelope.encode(Kind::Breed, "x").unwrap();
        assert_eq!(Envelope::decode(&bytes, &key()).unwrap(), envelope);
    }

    #[test]
    fn bytes_that_are_not_utf8_name_the_key() {
        let e = Envelope::decode(b"{\"revision\":\xff}", &key()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("not UTF-8"), "{}", e.message());
        assert!(e.message().contains("/vamp/persistence/breeds/x"));
    }

    #[test]
    fn the_originals_bare_documents_are_not_mistaken_for_revisions() {
        let e = Envelope::decode(br#"{"name": "x", "deployable": "y"}"#, &key()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.message().contains("not a Vamp artifact revision"));
    }
}
