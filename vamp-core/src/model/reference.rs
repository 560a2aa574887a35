//! `Ref<T>`: an artifact given by name (a reference to a stored artifact) or inline.

use serde::{Serialize, Serializer};

/// An artifact written either as a reference to a stored artifact (`breed: sava:1.0`, `{ref: sava:1.0}`) or inline.
#[derive(Debug, Clone, PartialEq)]
pub enum Ref<T> {
    /// The name of a stored artifact, resolved when it is used.
    Named(String),
    /// The artifact itself.
    Inline(T),
}

impl<T> Ref<T> {
    /// The referenced name, if this is a reference.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Ref::Named(n) => Some(n),
            Ref::Inline(_) => None,
        }
    }

    /// The inline artifact, if this is one.
    pub fn inline(&self) -> Option<&T> {
        match self {
            Ref::Named(_) => None,
            Ref::Inline(t) => Some(t),
        }
    }

    /// Mutable access to the inline artifact, if this is one.
    pub fn inline_mut(&mut self) -> Option<&mut T> {
        match self {
            Ref::Named(_) => None,
            Ref::Inline(t) => Some(t),
        }
    }
}

impl<T: Serialize> Serialize for Ref<T> {
    /// A reference is written as `{reference: name}`, the form every reader of the DSL accepts.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Ref::Named(name) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("reference", name)?;
                m.end()
            }
            Ref::Inline(t) => t.serialize(s),
        }
    }
}
