//! Template: a stored definition other artifacts `import:` and override.

use serde::Serialize;

use super::{is_empty_map, Metadata};

/// A template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// The definition merged into importing documents.
    pub definition: serde_json::Map<String, serde_json::Value>,
}
