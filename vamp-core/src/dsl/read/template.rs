//! Reads templates and the `import:` of any document: the imports are read as written (a name, `kind/name`, or a
//! list of them); they are checked when resolved against the store ([`crate::dsl::import`]).

use super::common::{free_map, read_metadata, read_name};
use crate::dsl::cursor::{Ctx, MapCursor, R};
use crate::dsl::node::{Node, Value};
use crate::model::Template;

/// Reads a template: `name` and `definition` (or `def`), a map.
pub(crate) fn read_template(ctx: &Ctx, node: &Node, path: &str) -> R<Template> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Template)?;
    let name = read_name(&c)?;
    let metadata = read_metadata(&c)?;
    let definition = match c.take_any(&["definition", "def"]) {
        None => serde_json::Map::new(),
        Some((key, n)) => free_map(ctx, n, &c.path_of(key))?.into_iter().collect(),
    };
    c.finish()?;
    Ok(Template {
        name,
        metadata,
        definition,
    })
}

/// The entries of a document's `import:`, as written (each a JSON value: normally a text).
pub fn imports_of(node: &Node) -> Option<Vec<serde_json::Value>> {
    let imports = node.get("import")?;
    Some(match &imports.value {
        Value::List(items) => items.iter().map(Node::to_json).collect(),
        _ => vec![imports.to_json()],
    })
}
