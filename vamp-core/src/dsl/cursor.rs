//! Reading helpers: a map cursor that tracks which keys were read, so that every unknown key is reported as
//! `UnexpectedElement`, and typed accessors that report the artifact, the field path and the position.

use std::cell::Cell;

use super::error::{ArtifactId, DslError, ErrorCode};
use super::node::{Node, Value};
use crate::model::Kind;

/// Keys tolerated everywhere and never reported as unexpected.
const ALWAYS_TOLERATED: [&str; 2] = ["kind", "lookup_name"];

/// The artifact being read; builds errors that name it.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub artifact: ArtifactId,
}

impl Ctx {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Ctx {
            artifact: ArtifactId::new(kind, name),
        }
    }

    pub fn err(&self, code: ErrorCode, path: &str, message: impl Into<String>) -> DslError {
        DslError::new(code, self.artifact.clone(), path, message)
    }

    pub fn err_at(&self, code: ErrorCode, path: &str, node: &Node, message: impl Into<String>) -> DslError {
        self.err(code, path, message).at(node.position())
    }
}

pub(crate) type R<T> = Result<T, DslError>;

/// `parent.key`, or `key` at the root.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// A map being read.
pub(crate) struct MapCursor<'a> {
    pub ctx: &'a Ctx,
    pub node: &'a Node,
    pub path: String,
    entries: &'a [(String, Node)],
    used: Vec<Cell<bool>>,
}

impl<'a> MapCursor<'a> {
    /// A cursor over `node`, which must be a map.
    pub fn new(ctx: &'a Ctx, node: &'a Node, path: &str) -> R<Self> {
        match &node.value {
            Value::Map(entries) => Ok(MapCursor {
                ctx,
                node,
                path: path.to_string(),
                entries,
                used: entries.iter().map(|_| Cell::new(false)).collect(),
            }),
            _ => Err(ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                path,
                node,
                format!("expected a map of fields, found {}", describe(node)),
            )),
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, marking it read. A key present with a null value returns the null node.
    pub fn take(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k == key)
            .map(|(i, (_, v))| {
                self.used[i].set(true);
                v
            })
    }

    /// The first of `keys` present (aliases such as `environment_variables`/`env`), with the key used.
    pub fn take_any(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Node)> {
        let mut found = None;
        for k in keys {
            if let Some(v) = self.take(k) {
                found.get_or_insert((*k, v));
            }
        }
        found
    }

    /// The value of `key` unless absent or null.
    pub fn value(&self, key: &str) -> Option<&'a Node> {
        self.take(key).filter(|n| !n.is_null())
    }

    /// Whether `key` is present, without marking it read.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The keys, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// All entries, marking them read.
    pub fn take_all(&self) -> &'a [(String, Node)] {
        for u in &self.used {
            u.set(true);
        }
        self.entries
    }

    /// `key` as text; numbers and booleans as written.
    pub fn text(&self, key: &str) -> R<Option<String>> {
        match self.value(key) {
            None => Ok(None),
            Some(n) => scalar_text(self.ctx, n, &self.path_of(key)).map(Some),
        }
    }

    /// `key` as text, required.
    pub fn required_text(&self, key: &str) -> R<String> {
        self.text(key)?.ok_or_else(|| self.missing(key))
    }

    /// The node of `key`, required.
    pub fn required(&self, key: &str) -> R<&'a Node> {
        self.value(key).ok_or_else(|| self.missing(key))
    }

    pub fn missing(&self, key: &str) -> DslError {
        self.ctx
            .err(
                ErrorCode::MissingPathValueError,
                &self.path_of(key),
                format!("'{key}' is required here; add it"),
            )
            .at(self.node.position())
    }

    /// Reports the first key not read as `UnexpectedElement`; `metadata` is tolerated only where read.
    pub fn finish(&self) -> R<()> {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if !self.used[i].get() && !ALWAYS_TOLERATED.contains(&k.as_str()) {
                return Err(self.ctx.err_at(
                    ErrorCode::UnexpectedElement,
                    &self.path_of(k),
                    v,
                    format!("'{k}' is not a field here; remove it or check its spelling"),
                ));
            }
        }
        Ok(())
    }

    /// Checks `kind:`, when given, against the kind being read.
    pub fn check_kind(&self, expected: Kind) -> R<()> {
        if let Some(n) = self.take("kind") {
            let given = scalar_text(self.ctx, n, &self.path_of("kind"))?;
            let ok = given.parse::<Kind>().map(|k| k == expected).unwrap_or(false);
            if !ok {
                return Err(self.ctx.err_at(
                    ErrorCode::InconsistentArtifactKind,
                    &self.path_of("kind"),
                    n,
                    format!("kind is '{given}' but a {expected} is being read; fix 'kind' or send it to the right endpoint"),
                ));
            }
        }
        Ok(())
    }
}

/// A short description of a node's type for messages.
pub(crate) fn describe(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Str(_) => "a text",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
    }
}

/// A scalar's text; a map or list is `UnexpectedInnerElementError`.
pub(crate) fn scalar_text(ctx: &Ctx, node: &Node, path: &str) -> R<String> {
    match node.as_text() {
        Some(t) => Ok(t.to_string()),
        None if node.is_null() => Ok(String::new()),
        None => Err(ctx.err_at(
            ErrorCode::UnexpectedInnerElementError,
            path,
            node,
            format!("expected a single value, found {}", describe(node)),
        )),
    }
}

/// Items of a list, or the node itself as a one-item list.
pub(crate) fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.value {
        Value::List(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![node],
    }
}
