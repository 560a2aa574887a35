//! Condition: a stored or inline routing condition. The text is parsed by [`crate::condition`].

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{serialize_head, Metadata};

/// A condition such as `user-agent == Firefox and has cookie beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The name when stored as an artifact; empty inline.
    pub name: String,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// The condition text.
    pub definition: String,
}

impl Condition {
    /// An anonymous condition.
    pub fn inline(definition: impl Into<String>) -> Self {
        Condition {
            name: String::new(),
            metadata: Metadata::new(),
            definition: definition.into(),
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serialize_head(s, &self.name, &self.metadata)?;
        m.serialize_entry("condition", &self.definition)?;
        m.end()
    }
}
