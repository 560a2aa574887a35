//! Stored documents ↔ artifacts: the store keeps the canonical JSON (`vamp_core::dsl::to_json`) and reads back
//! through the DSL reader, so what is stored is always what the API accepts.

use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind};
use vamp_core::store::Stored;
use vamp_core::{Error, Result};

/// The canonical JSON document of `artifact`.
pub(crate) fn encode(artifact: &Artifact) -> Result<serde_json::Value> {
    dsl::to_json(artifact)
}

/// The artifact of a stored document. A document the reader refuses is a server-side failure (`Backend`): it
/// was written by this server, so the store or a migration is at fault, not the caller.
pub(crate) fn decode(stored: &Stored) -> Result<Artifact> {
    decode_document(stored.kind, &stored.name, &stored.document)
}

/// [`decode`] of a bare document.
pub(crate) fn decode_document(kind: Kind, name: &str, document: &serde_json::Value) -> Result<Artifact> {
    let text = serde_json::to_string(document).map_err(|e| {
        Error::backend(format!(
            "The stored {kind} '{name}' cannot be written as JSON: {e}"
        ))
    })?;
    dsl::read(kind, &text).map_err(|e| {
        Error::backend(format!(
            "The stored {kind} '{name}' cannot be read back: {e}. The store holds a document this server does not accept."
        ))
    })
}
