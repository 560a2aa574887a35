//! Reads breeds: `deployable` as a string or `{type, definition}`, traits, arguments, dependencies (by name,
//! `{breed: …}`, `{ref: …}` or inline) and health checks.

use indexmap::IndexMap;

use super::common::{
    check_reference_alone, read_arguments, read_constants, read_environment, read_health_checks,
    read_metadata, read_name, read_ports, ref_or_inline, RefOrInline,
};
use crate::dsl::cursor::{describe, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::breed::DEFAULT_DEPLOYABLE_TYPE;
use crate::model::{Breed, Deployable, Ref};

/// Reads a breed from a map node.
pub(crate) fn read_breed(ctx: &Ctx, node: &Node, path: &str) -> R<Breed> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Breed)?;
    let name = read_name(&c)?;
    let breed = read_breed_fields(&c, name)?;
    c.finish()?;
    Ok(breed)
}

fn read_breed_fields(c: &MapCursor, name: String) -> R<Breed> {
    let metadata = read_metadata(c)?;
    let deployable = read_deployable(c)?;
    let ports = read_ports(c)?;
    let environment_variables = read_environment(c, true)?;
    let constants = read_constants(c)?;
    let arguments = read_arguments(c)?;
    let dependencies = read_dependencies(c)?;
    let health_checks = read_health_checks(c)?;
    Ok(Breed {
        name,
        metadata,
        deployable,
        ports,
        environment_variables,
        constants,
        arguments,
        dependencies,
        health_checks,
    })
}

fn read_deployable(c: &MapCursor) -> R<Deployable> {
    let node = c.required("deployable")?;
    let path = c.path_of("deployable");
    match &node.value {
        Value::Map(_) => {
            let d = MapCursor::new(c.ctx, node, &path)?;
            let kind = d
                .text("type")?
                .unwrap_or_else(|| DEFAULT_DEPLOYABLE_TYPE.to_string());
            let definition = d.required_text("definition")?;
            d.finish()?;
            Ok(Deployable { kind, definition })
        }
        Value::List(_) => Err(c.ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            &path,
            node,
            "a deployable is an image name or {type, definition}",
        )),
        _ => {
            let text = scalar_text(c.ctx, node, &path)?;
            Ok(Deployable::docker(text))
        }
    }
}

/// Reads a breed given by reference or inline, in a dependency or a service: a name, `{ref: name}`,
/// `{breed: <name or breed>}` or an inline breed.
pub(crate) fn read_breed_ref(ctx: &Ctx, node: &Node, path: &str) -> R<Ref<Breed>> {
    if let Value::Map(entries) = &node.value {
        if let Some((_, inner)) = entries.iter().find(|(k, _)| k == "breed") {
            if let Some((k, v)) = entries.iter().find(|(k, _)| k != "breed") {
                return Err(ctx.err_at(
                    ErrorCode::UnexpectedElement,
                    &crate::dsl::cursor::join(path, k),
                    v,
                    format!("'{k}' is not a field here; remove it or check its spelling"),
                ));
            }
            return read_breed_ref(ctx, inner, &crate::dsl::cursor::join(path, "breed"));
        }
    }
    match ref_or_inline(ctx, node, path)? {
        RefOrInline::Named(n) => {
            check_reference_alone(ctx, node, path)?;
            Ok(Ref::Named(n))
        }
        RefOrInline::Inline(n) => read_breed(ctx, n, path).map(Ref::Inline),
    }
}

fn read_dependencies(c: &MapCursor) -> R<IndexMap<String, Ref<Breed>>> {
    let Some(node) = c.value("dependencies") else {
        return Ok(IndexMap::new());
    };
    let path = c.path_of("dependencies");
    let Value::Map(entries) = &node.value else {
        return Err(c.ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            &path,
            node,
            format!("expected a map of alias: breed, found {}", describe(node)),
        ));
    };
    let mut out = IndexMap::new();
    for (alias, v) in entries {
        let p = crate::dsl::cursor::join(&path, alias);
        super::common::check_strict_name(c.ctx, alias, &p, v)?;
        out.insert(alias.clone(), read_breed_ref(c.ctx, v, &p)?);
    }
    Ok(out)
}
