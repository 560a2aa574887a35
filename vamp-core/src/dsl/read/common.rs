//! Readers shared by every artifact: names, references, traits, arguments, health checks, scales, metadata and
//! dialects.

use indexmap::IndexMap;

use crate::dsl::cursor::{describe, index, join, one_or_many, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::traits::split_alias;
use crate::model::{
    Argument, Constant, Cpu, Dialects, EnvironmentVariable, HealthCheck, Memory, Metadata, Percentage, Port,
    Ref, Scale, Seconds,
};

/// Whether `name` is a valid artifact name or reference: no white space, `/`, `[` or `]`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '[' | ']'))
}

/// Whether `name` is a valid trait name: a valid artifact name without `.`.
pub(crate) fn is_valid_strict_name(name: &str) -> bool {
    is_valid_name(name) && !name.contains('.')
}

/// Checks an artifact name or reference (`IllegalName`).
pub(crate) fn check_name(ctx: &Ctx, name: &str, path: &str, node: &Node) -> R<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ctx.err_at(
            ErrorCode::IllegalName,
            path,
            node,
            format!("'{name}' is not a valid name: white space, '/', '[' and ']' are not allowed"),
        ))
    }
}

/// Checks a trait name (`IllegalStrictName`).
pub(crate) fn check_strict_name(ctx: &Ctx, name: &str, path: &str, node: &Node) -> R<()> {
    if is_valid_strict_name(name) {
        Ok(())
    } else {
        Err(ctx.err_at(
            ErrorCode::IllegalStrictName,
            path,
            node,
            format!("'{name}' is not a valid name: white space, '.', '/', '[' and ']' are not allowed"),
        ))
    }
}

/// Reads the `name` of an artifact, required and validated.
pub(crate) fn read_name(c: &MapCursor) -> R<String> {
    let node = c.required("name")?;
    let name = scalar_text(c.ctx, node, &c.path_of("name"))?;
    check_name(c.ctx, &name, &c.path_of("name"), node)?;
    Ok(name)
}

/// Reads `metadata`: a free map.
pub(crate) fn read_metadata(c: &MapCursor) -> R<Metadata> {
    read_free_map(c, "metadata")
}

/// Reads `dialects` (or `dialect`): a free map of driver name to settings.
pub(crate) fn read_dialects(c: &MapCursor) -> R<Dialects> {
    match c.take_any(&["dialects", "dialect"]) {
        None => Ok(Dialects::new()),
        Some((key, node)) => free_map(c.ctx, node, &c.path_of(key)),
    }
}

pub(crate) fn read_free_map(c: &MapCursor, key: &str) -> R<IndexMap<String, serde_json::Value>> {
    match c.take(key) {
        None => Ok(IndexMap::new()),
        Some(node) => free_map(c.ctx, node, &c.path_of(key)),
    }
}

pub(crate) fn free_map(ctx: &Ctx, node: &Node, path: &str) -> R<IndexMap<String, serde_json::Value>> {
    match &node.value {
        Value::Null => Ok(IndexMap::new()),
        Value::Map(entries) => Ok(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        _ => Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a map, found {}", describe(node)),
        )),
    }
}

/// How a map that could be a reference or an inline artifact is told apart.
pub(crate) enum RefOrInline<'a> {
    /// A plain string or `{ref|reference: name}`.
    Named(String),
    /// A map to read as the artifact.
    Inline(&'a Node),
}

/// Reads a reference or inline artifact. A string is a reference; a map with `ref` or `reference` is a
/// reference (and nothing else may be set unless `extra_keys_with_ref` allows it); any other map is inline.
pub(crate) fn ref_or_inline<'a>(ctx: &Ctx, node: &'a Node, path: &str) -> R<RefOrInline<'a>> {
    match &node.value {
        Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            let name = scalar_text(ctx, node, path)?;
            check_name(ctx, &name, path, node)?;
            Ok(RefOrInline::Named(name))
        }
        Value::Map(_) => {
            let r = node.get("reference").or_else(|| node.get("ref"));
            match r {
                Some(rn) => {
                    let name = scalar_text(ctx, rn, path)?;
                    check_name(ctx, &name, path, rn)?;
                    Ok(RefOrInline::Named(name))
                }
                None => Ok(RefOrInline::Inline(node)),
            }
        }
        _ => Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            path,
            node,
            format!("expected a name or a map, found {}", describe(node)),
        )),
    }
}

/// Checks that a `{reference: name}` map holds nothing but the reference (and `kind`): any other field is
/// `UnexpectedElement`, since it would be ignored. A plain name passes.
pub(crate) fn check_reference_alone(ctx: &Ctx, node: &Node, path: &str) -> R<()> {
    let Value::Map(entries) = &node.value else {
        return Ok(());
    };
    match entries
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "ref" | "reference" | "kind"))
    {
        None => Ok(()),
        Some((k, v)) => Err(ctx.err_at(
            ErrorCode::UnexpectedElement,
            &join(path, k),
            v,
            format!("'{k}' cannot be set next to a reference; give either the reference or the definition"),
        )),
    }
}

/// Reads a weak reference (scale, SLA, escalation, route, condition, rewrite): a name, `{reference: name}`, or an
/// anonymous inline map. A map with both a `name` and fields is `EitherReferenceOrAnonymous`.
pub(crate) fn weak_ref<T>(
    ctx: &Ctx,
    node: &Node,
    path: &str,
    inline: impl FnOnce(&MapCursor) -> R<T>,
) -> R<Ref<T>> {
    match ref_or_inline(ctx, node, path)? {
        RefOrInline::Named(n) => {
            check_reference_alone(ctx, node, path)?;
            Ok(Ref::Named(n))
        }
        RefOrInline::Inline(node) => {
            if let Some(name_node) = node.get("name") {
                let name = scalar_text(ctx, name_node, &join(path, "name"))?;
                return Err(ctx.err_at(
                    ErrorCode::EitherReferenceOrAnonymous,
                    path,
                    node,
                    format!(
                        "'{name}' is named and defined here: either refer to a stored artifact ('reference: {name}') or define it inline without a name"
                    ),
                ));
            }
            let c = MapCursor::new(ctx, node, path)?;
            let value = inline(&c)?;
            c.finish()?;
            Ok(Ref::Inline(value))
        }
    }
}

/// A scalar trait value: a map or list is `MalformedTraitError`.
fn trait_value(ctx: &Ctx, node: &Node, path: &str) -> R<Option<String>> {
    match &node.value {
        Value::Null => Ok(None),
        Value::List(_) | Value::Map(_) => Err(ctx.err_at(
            ErrorCode::MalformedTraitError,
            path,
            node,
            "a trait value must be a single value, not a map or a list",
        )),
        _ => Ok(node.as_text().map(str::to_string)),
    }
}

type Entries<'a> = &'a [(String, Node)];

fn trait_entries<'a>(c: &MapCursor<'a>, keys: &[&'static str]) -> R<Option<(String, Entries<'a>)>> {
    match c.take_any(keys) {
        None => Ok(None),
        Some((key, node)) => match &node.value {
            Value::Null => Ok(None),
            Value::Map(entries) => Ok(Some((c.path_of(key), entries.as_slice()))),
            _ => Err(c.ctx.err_at(
                ErrorCode::UnexpectedTypeError,
                &c.path_of(key),
                node,
                format!("expected a map of name: value, found {}", describe(node)),
            )),
        },
    }
}

/// Reads `ports`: `name: "8080/http"`. A missing value is `MissingPortValueError`; a protocol other than http or
/// tcp is `UnsupportedProtocolError`.
pub(crate) fn read_ports(c: &MapCursor) -> R<Vec<Port>> {
    let Some((path, entries)) = trait_entries(c, &["ports"])? else {
        return Ok(Vec::new());
    };
    let mut ports = Vec::new();
    for (name, node) in entries {
        let p = join(&path, name);
        check_strict_name(c.ctx, name, &p, node)?;
        let value = trait_value(c.ctx, node, &p)?.ok_or_else(|| {
            c.ctx.err_at(
                ErrorCode::MissingPortValueError,
                &p,
                node,
                format!("port '{name}' needs a value such as 8080/http"),
            )
        })?;
        let port = Port::parse(name, &value).ok_or_else(|| {
            c.ctx.err_at(
                ErrorCode::UnsupportedProtocolError,
                &p,
                node,
                format!("'{value}' has an unsupported protocol: use '<port>/http' or '<port>/tcp'"),
            )
        })?;
        ports.push(port);
    }
    Ok(ports)
}

/// Reads `environment_variables` (or `env`): `NAME[ALIAS]: value`, `~` for a placeholder.
pub(crate) fn read_environment(c: &MapCursor, strict_names: bool) -> R<Vec<EnvironmentVariable>> {
    let Some((path, entries)) = trait_entries(c, &["environment_variables", "env"])? else {
        return Ok(Vec::new());
    };
    let mut vars = Vec::new();
    for (key, node) in entries {
        let p = join(&path, key);
        let (name, alias) = split_alias(key);
        if strict_names {
            check_strict_name(c.ctx, &name, &p, node)?;
        } else {
            check_name(c.ctx, &name, &p, node)?;
        }
        if let Some(a) = &alias {
            check_strict_name(c.ctx, a, &p, node)?;
        }
        let value = trait_value(c.ctx, node, &p)?;
        vars.push(EnvironmentVariable {
            name,
            alias,
            value,
            interpolated: None,
        });
    }
    Ok(vars)
}

/// Reads `constants`: a missing value is `MissingConstantValueError`.
pub(crate) fn read_constants(c: &MapCursor) -> R<Vec<Constant>> {
    let Some((path, entries)) = trait_entries(c, &["constants"])? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, node) in entries {
        let p = join(&path, key);
        let (name, alias) = split_alias(key);
        check_strict_name(c.ctx, &name, &p, node)?;
        let value = trait_value(c.ctx, node, &p)?.ok_or_else(|| {
            c.ctx.err_at(
                ErrorCode::MissingConstantValueError,
                &p,
                node,
                format!("constant '{name}' needs a value"),
            )
        })?;
        out.push(Constant { name, alias, value });
    }
    Ok(out)
}

/// Reads `arguments`: a list of `key: value` maps (a map with several keys counts as several arguments) or one
/// map. `privileged` must be a boolean.
pub(crate) fn read_arguments(c: &MapCursor) -> R<Vec<Argument>> {
    let Some(node) = c.value("arguments") else {
        return Ok(Vec::new());
    };
    let path = c.path_of("arguments");
    let mut out = Vec::new();
    for (i, item) in one_or_many(node).into_iter().enumerate() {
        let p = if matches!(node.value, Value::List(_)) {
            index(&path, i)
        } else {
            path.clone()
        };
        let Value::Map(entries) = &item.value else {
            return Err(c.ctx.err_at(
                ErrorCode::InvalidArgumentError,
                &p,
                item,
                "an argument must be written as 'key: value'",
            ));
        };
        for (key, v) in entries {
            let vp = join(&p, key);
            let value = match &v.value {
                Value::List(_) | Value::Map(_) => {
                    return Err(c.ctx.err_at(
                        ErrorCode::InvalidArgumentError,
                        &vp,
                        v,
                        "an argument must be written as 'key: value' with a single value",
                    ))
                }
                _ => v.as_text().unwrap_or_default().to_string(),
            };
            if key == "privileged" && !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(c.ctx.err_at(
                    ErrorCode::InvalidArgumentValueError,
                    &vp,
                    v,
                    format!("'privileged' must be true or false, not '{value}'"),
                ));
            }
            out.push(Argument {
                key: key.clone(),
                value,
            });
        }
    }
    Ok(out)
}

/// Reads the scalar `key`, when given, and parses it with `parse`; text it refuses is `InvalidValueError`, saying
/// "'<text>' is not `what`" (so `what` names the expected form, with an example where that helps).
pub(crate) fn read_optional_parsed<T>(
    c: &MapCursor,
    key: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    what: &str,
) -> R<Option<T>> {
    let Some(node) = c.value(key) else {
        return Ok(None);
    };
    let text = scalar_text(c.ctx, node, &c.path_of(key))?;
    parse(&text).map(Some).ok_or_else(|| {
        c.ctx.err_at(
            ErrorCode::InvalidValueError,
            &c.path_of(key),
            node,
            format!("'{text}' is not {what}"),
        )
    })
}

/// Parses a whole number, white space around it allowed: the parser of every count the DSL reads.
pub(crate) fn whole_number<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.trim().parse().ok()
}

/// [`read_optional_parsed`] for a required `key`: a missing one is `MissingPathValueError`.
pub(crate) fn read_parsed<T>(
    c: &MapCursor,
    key: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    what: &str,
) -> R<T> {
    read_optional_parsed(c, key, parse, what)?.ok_or_else(|| c.missing(key))
}

fn read_seconds(c: &MapCursor, key: &str) -> R<Seconds> {
    read_parsed(c, key, Seconds::parse, "a duration: use e.g. 10s, 1m or 2h")
}

/// Reads `health_checks`: one map or a list. `failures` must not be negative.
pub(crate) fn read_health_checks(c: &MapCursor) -> R<Option<Vec<HealthCheck>>> {
    let Some(node) = c.take("health_checks") else {
        return Ok(None);
    };
    let path = c.path_of("health_checks");
    let mut out = Vec::new();
    for (i, item) in one_or_many(node).into_iter().enumerate() {
        let p = if matches!(node.value, Value::List(_)) {
            index(&path, i)
        } else {
            path.clone()
        };
        let h = MapCursor::new(c.ctx, item, &p)?;
        let failures_node = h.required("failures")?;
        let failures_text = scalar_text(c.ctx, failures_node, &h.path_of("failures"))?;
        let failures: i64 = failures_text.trim().parse().map_err(|_| {
            c.ctx.err_at(
                ErrorCode::InvalidValueError,
                &h.path_of("failures"),
                failures_node,
                "'failures' must be a whole number",
            )
        })?;
        if failures < 0 {
            return Err(c.ctx.err_at(
                ErrorCode::NegativeFailuresNumberError,
                &h.path_of("failures"),
                failures_node,
                format!("'failures' is {failures}; it must be 0 or more"),
            ));
        }
        let check = HealthCheck {
            path: h.text("path")?.unwrap_or_else(|| "/".to_string()),
            port: h.required_text("port")?,
            initial_delay: read_seconds(&h, "initial_delay")?,
            timeout: read_seconds(&h, "timeout")?,
            interval: read_seconds(&h, "interval")?,
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            protocol: h.text("protocol")?.unwrap_or_else(|| "HTTP".to_string()),
        };
        h.finish()?;
        out.push(check);
    }
    Ok(Some(out))
}

/// Reads an inline scale: `cpu` and `memory` required, `instances` default 1.
pub(crate) fn read_scale_body(c: &MapCursor, name: String) -> R<Scale> {
    let metadata = read_metadata(c)?;
    let cpu = read_parsed(c, "cpu", Cpu::parse, "a CPU share: use e.g. 0.5 or 500m")?;
    let memory = read_parsed(c, "memory", Memory::parse, "a memory size: use e.g. 256MB or 1GB")?;
    let instances = read_optional_parsed(c, "instances", whole_number, "a number of instances (0 or more)")?;
    Ok(Scale {
        name,
        metadata,
        cpu,
        memory,
        instances: instances.unwrap_or(1),
    })
}

/// Reads a scale reference or an anonymous scale.
pub(crate) fn read_scale_ref(ctx: &Ctx, node: &Node, path: &str) -> R<Ref<Scale>> {
    weak_ref(ctx, node, path, |c| read_scale_body(c, String::new()))
}

/// Reads a percentage such as `50%`.
pub(crate) fn read_percentage(c: &MapCursor, key: &str, code: ErrorCode) -> R<Option<Percentage>> {
    let Some(node) = c.value(key) else { return Ok(None) };
    let text = scalar_text(c.ctx, node, &c.path_of(key))?;
    Percentage::parse(&text).map(Some).ok_or_else(|| {
        c.ctx.err_at(
            code,
            &c.path_of(key),
            node,
            format!("'{text}' is not a percentage between 0% and 100%"),
        )
    })
}

/// Reads a list of strings written as one string or a list.
pub(crate) fn read_string_list(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<String>> {
    let mut out = Vec::new();
    for (i, item) in one_or_many(node).into_iter().enumerate() {
        let p = if matches!(node.value, Value::List(_)) {
            index(path, i)
        } else {
            path.to_string()
        };
        out.push(scalar_text(ctx, item, &p)?);
    }
    Ok(out)
}
