//! `import:`: a document may import stored templates (`name`) or artifacts (`kind/name`); their definitions are
//! deep-merged left to right and the document's own fields override them.

use super::error::{ArtifactId, DslError, ErrorCode};
use super::node::{Node, Value};
use crate::model::Kind;

/// What an `import` entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRef {
    /// `Template` for a bare name.
    pub kind: Kind,
    /// The artifact's name.
    pub name: String,
}

/// Parses one `import` entry: `name` (a template) or `kind/name`.
pub fn parse_import(
    entry: &serde_json::Value,
    artifact: &ArtifactId,
    path: &str,
) -> Result<ImportRef, DslError> {
    let bad = |msg: String| DslError::new(ErrorCode::ImportReferenceError, artifact.clone(), path, msg);
    let text = entry
        .as_str()
        .ok_or_else(|| bad(format!("{entry} is not a name: write 'template' or 'kind/name'")))?;
    if text.trim().is_empty() {
        return Err(DslError::new(
            ErrorCode::EmptyImportError,
            artifact.clone(),
            path,
            "'import' is empty: name a template or 'kind/name'",
        ));
    }
    match text.split('/').collect::<Vec<_>>().as_slice() {
        [name] => Ok(ImportRef {
            kind: Kind::Template,
            name: name.to_string(),
        }),
        [kind, name] if !name.is_empty() => {
            let kind: Kind = kind
                .parse()
                .map_err(|_| bad(format!("'{kind}' in '{text}' is not an artifact kind")))?;
            Ok(ImportRef {
                kind,
                name: name.to_string(),
            })
        }
        _ => Err(bad(format!("'{text}' is not 'name' or 'kind/name'"))),
    }
}

fn deep_merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Resolves the imports of a document with `lookup` (which returns a template's `definition` or an artifact's
/// JSON) and returns the merged document without `import`. A document without `import` is returned unchanged.
pub fn resolve_imports(
    doc: &Node,
    artifact: &ArtifactId,
    lookup: impl Fn(&ImportRef) -> Option<serde_json::Value>,
) -> Result<Node, DslError> {
    let Some(entries) = super::read::imports_of(doc) else {
        return Ok(doc.clone());
    };
    if entries.is_empty() {
        return Err(DslError::new(
            ErrorCode::EmptyImportError,
            artifact.clone(),
            "import",
            "'import' is empty: name a template or 'kind/name'",
        ));
    }
    let mut merged = serde_json::Value::Object(serde_json::Map::new());
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("import[{i}]");
        let r = parse_import(entry, artifact, &path)?;
        let def = lookup(&r).ok_or_else(|| {
            DslError::new(
                ErrorCode::ImportReferenceError,
                artifact.clone(),
                &path,
                format!(
                    "{} '{}' cannot be found; store it first or fix the name",
                    r.kind, r.name
                ),
            )
        })?;
        if !def.is_object() {
            return Err(DslError::new(
                ErrorCode::ImportDefinitionError,
                artifact.clone(),
                &path,
                format!("{} '{}' is not a map and cannot be imported", r.kind, r.name),
            ));
        }
        deep_merge(&mut merged, def);
    }
    let mut own = doc.to_json();
    if let Some(o) = own.as_object_mut() {
        o.shift_remove("import");
    }
    deep_merge(&mut merged, own);
    let node = Node::from_json(&merged);
    debug_assert!(matches!(node.value, Value::Map(_)));
    Ok(node)
}
