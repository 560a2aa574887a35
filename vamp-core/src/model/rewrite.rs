//! Rewrite: a path rewrite `"<new path> if <condition>"` applied by the gateway.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{serialize_head, Metadata};

/// A path rewrite. `path` is the new path (HAProxy sample expressions such as `%[path]` allowed); `condition` the
/// HAProxy condition that selects the requests rewritten.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    /// The name when stored as an artifact; empty inline.
    pub name: String,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// The new path.
    pub path: String,
    /// When to rewrite.
    pub condition: String,
}

impl Rewrite {
    /// Parses `"<new path> if <condition>"` (the `if` is case-insensitive); `None` if it has no `if`.
    pub fn parse(text: &str) -> Option<(String, String)> {
        let lower = text.to_ascii_lowercase();
        let at = lower.rfind(" if ")?;
        let path = text[..at].trim();
        let cond = text[at + 4..].trim();
        (!path.is_empty() && !cond.is_empty()).then(|| (path.to_string(), cond.to_string()))
    }
}

impl Serialize for Rewrite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serialize_head(s, &self.name, &self.metadata)?;
        m.serialize_entry("path", &format!("{} if {}", self.path, self.condition))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_splits_on_if() {
        assert_eq!(
            Rewrite::parse("/api/%[path] IF { path_beg /v2/ }"),
            Some(("/api/%[path]".into(), "{ path_beg /v2/ }".into()))
        );
        assert_eq!(Rewrite::parse("/only-a-path"), None);
    }
}
