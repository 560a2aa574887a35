//! Reads SLAs and escalations, with the original's shorthands (`to_one: [...]`, a reference carrying its own
//! escalations) and generic types kept with their parameters.

use super::common::{
    read_metadata, read_name, read_parsed, ref_or_inline, weak_ref, whole_number, RefOrInline,
};
use crate::dsl::cursor::{index, join, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{Escalation, EscalationKind, Metadata, Ref, Sla, SlaKind};

/// Reads a stored SLA artifact.
pub(crate) fn read_sla_artifact(ctx: &Ctx, node: &Node, path: &str) -> R<Sla> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Sla)?;
    let name = read_name(&c)?;
    let sla = read_sla_body(&c, name)?;
    c.finish()?;
    Ok(sla)
}

/// Reads an SLA given by name, `{reference: name[, escalations]}` or inline (see [`weak_ref`]). A reference that
/// carries its own escalations is an inline SLA of kind [`SlaKind::Reference`].
pub(crate) fn read_sla_ref(ctx: &Ctx, node: &Node, path: &str) -> R<Ref<Sla>> {
    let RefOrInline::Named(name) = ref_or_inline(ctx, node, path)? else {
        return weak_ref(ctx, node, path, |c| read_sla_body(c, String::new()));
    };
    let Value::Map(_) = &node.value else {
        return Ok(Ref::Named(name));
    };
    let c = MapCursor::new(ctx, node, path)?;
    c.take_any(&["reference", "ref"]);
    let escalations = read_escalations(&c)?;
    c.finish()?;
    if escalations.is_empty() {
        Ok(Ref::Named(name))
    } else {
        Ok(Ref::Inline(Sla {
            name: String::new(),
            metadata: Metadata::new(),
            kind: SlaKind::Reference(name),
            escalations,
        }))
    }
}

fn read_u64(c: &MapCursor, key: &str) -> R<u64> {
    read_parsed(c, key, whole_number, "a whole number of 0 or more")
}

fn read_sla_body(c: &MapCursor, name: String) -> R<Sla> {
    let metadata = read_metadata(c)?;
    let kind_text = c.required_text("type")?;
    let escalations = read_escalations(c)?;
    let kind = match kind_text.as_str() {
        "response_time_sliding_window" => {
            let t = MapCursor::new(c.ctx, c.required("threshold")?, &c.path_of("threshold"))?;
            let w = MapCursor::new(c.ctx, c.required("window")?, &c.path_of("window"))?;
            let kind = SlaKind::ResponseTimeSlidingWindow {
                upper: read_u64(&t, "upper")?,
                lower: read_u64(&t, "lower")?,
                interval: read_u64(&w, "interval")?,
                cooldown: read_u64(&w, "cooldown")?,
            };
            t.finish()?;
            w.finish()?;
            kind
        }
        "escalation_only" => SlaKind::EscalationOnly,
        other => {
            let parameters = rest(c);
            SlaKind::Generic {
                kind: other.to_string(),
                parameters,
            }
        }
    };
    Ok(Sla {
        name,
        metadata,
        kind,
        escalations,
    })
}

fn rest(c: &MapCursor) -> Metadata {
    let keys: Vec<String> = c
        .keys()
        .filter(|k| !matches!(*k, "kind" | "lookup_name"))
        .map(str::to_string)
        .collect();
    let mut out = Metadata::new();
    for k in keys {
        if let Some(v) = c.take(&k) {
            if !matches!(k.as_str(), "name" | "type" | "metadata" | "escalations") {
                out.insert(k, v.to_json());
            }
        }
    }
    out
}

/// Reads `escalations`: one item or a list.
pub(crate) fn read_escalations(c: &MapCursor) -> R<Vec<Ref<Escalation>>> {
    match c.value("escalations") {
        None => Ok(Vec::new()),
        Some(n) => read_escalation_list(c.ctx, n, &c.path_of("escalations")),
    }
}

fn read_escalation_list(ctx: &Ctx, node: &Node, path: &str) -> R<Vec<Ref<Escalation>>> {
    match &node.value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| read_escalation_ref(ctx, n, &index(path, i)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Ok(vec![read_escalation_ref(ctx, node, path)?]),
    }
}

/// Reads an escalation given by name, `{reference: name}`, the group shorthands `{to_all: …}`/`{to_one: …}`,
/// or inline with a `type` (the reference and inline forms as [`weak_ref`] reads them).
pub(crate) fn read_escalation_ref(ctx: &Ctx, node: &Node, path: &str) -> R<Ref<Escalation>> {
    if let Value::Map(entries) = &node.value {
        if entries.len() == 1 && matches!(entries[0].0.as_str(), "to_all" | "to_one") {
            let (key, inner) = &entries[0];
            let p = join(path, key);
            let children = match &inner.value {
                Value::Map(_) => {
                    let c = MapCursor::new(ctx, inner, &p)?;
                    let ch = read_escalations(&c)?;
                    c.finish()?;
                    ch
                }
                _ => read_escalation_list(ctx, inner, &p)?,
            };
            let kind = if key == "to_all" {
                EscalationKind::ToAll(children)
            } else {
                EscalationKind::ToOne(children)
            };
            return Ok(Ref::Inline(Escalation::inline(kind)));
        }
    }
    weak_ref(ctx, node, path, |c| read_escalation_body(c, String::new()))
}

fn read_f64(c: &MapCursor, key: &str) -> R<f64> {
    let finite = |t: &str| t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    read_parsed(c, key, finite, "a number")
}

fn read_i64(c: &MapCursor, key: &str) -> R<i64> {
    read_parsed(c, key, whole_number, "a whole number")
}

fn read_escalation_body(c: &MapCursor, name: String) -> R<Escalation> {
    let metadata = read_metadata(c)?;
    let type_node = c.required("type")?;
    let kind_text = scalar_text(c.ctx, type_node, &c.path_of("type"))?;
    let target = c.text("target")?;
    let kind = match kind_text.as_str() {
        "to_all" => EscalationKind::ToAll(read_escalations(c)?),
        "to_one" => EscalationKind::ToOne(read_escalations(c)?),
        "scale_instances" => EscalationKind::ScaleInstances {
            minimum: read_i64(c, "minimum")?,
            maximum: read_i64(c, "maximum")?,
            scale_by: read_i64(c, "scale_by")?,
            target,
        },
        "scale_cpu" => EscalationKind::ScaleCpu {
            minimum: read_f64(c, "minimum")?,
            maximum: read_f64(c, "maximum")?,
            scale_by: read_f64(c, "scale_by")?,
            target,
        },
        "scale_memory" => EscalationKind::ScaleMemory {
            minimum: read_f64(c, "minimum")?,
            maximum: read_f64(c, "maximum")?,
            scale_by: read_f64(c, "scale_by")?,
            target,
        },
        other => {
            let mut parameters = rest(c);
            if let Some(t) = target {
                parameters.insert("target".into(), serde_json::Value::String(t));
            }
            EscalationKind::Generic {
                kind: other.to_string(),
                parameters,
            }
        }
    };
    if let EscalationKind::ScaleInstances { minimum, maximum, .. } = &kind {
        if minimum > maximum {
            return Err(c.ctx.err_at(
                ErrorCode::InvalidValueError,
                &c.path_of("minimum"),
                c.node,
                "'minimum' is larger than 'maximum'",
            ));
        }
    }
    if matches!(&kind, EscalationKind::ToAll(_) | EscalationKind::ToOne(_)) && !c.has("escalations") {
        return Err(c.ctx.err_at(
            ErrorCode::MissingPathValueError,
            &c.path_of("escalations"),
            c.node,
            format!("a {kind_text} escalation needs 'escalations'"),
        ));
    }
    Ok(Escalation { name, metadata, kind })
}

/// Reads a stored escalation artifact.
pub(crate) fn read_escalation_artifact(ctx: &Ctx, node: &Node, path: &str) -> R<Escalation> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Escalation)?;
    let name = read_name(&c)?;
    let e = read_escalation_body(&c, name)?;
    c.finish()?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use crate::dsl::{read_sla, ErrorCode};
    use crate::model::{EscalationKind, Ref, SlaKind};

    #[test]
    fn a_named_inline_escalation_is_either_a_reference_or_anonymous() {
        let err = read_sla(
            "name: s\ntype: escalation_only\nescalations:\n  - {name: up, type: scale_instances, minimum: 1, \
             maximum: 3, scale_by: 1}\n",
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::EitherReferenceOrAnonymous);
        assert_eq!(err.path, "escalations[0]");
    }

    #[test]
    fn an_escalation_reference_takes_no_other_fields() {
        let err = read_sla("name: s\ntype: escalation_only\nescalations:\n  - {reference: up, target: db}\n")
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnexpectedElement);
        assert_eq!(err.path, "escalations[0].target");
    }

    #[test]
    fn escalations_by_reference_shorthand_and_inline() {
        let sla = read_sla(
            "name: s\ntype: escalation_only\nescalations:\n  - up\n  - {ref: down}\n  - {to_one: [up]}\n  - \
             {type: scale_cpu, minimum: 0.5, maximum: 2, scale_by: 0.5}\n",
        )
        .unwrap();
        assert_eq!(sla.kind, SlaKind::EscalationOnly);
        let kinds: Vec<&str> = sla
            .escalations
            .iter()
            .map(|e| match e {
                Ref::Named(n) => n.as_str(),
                Ref::Inline(e) => match &e.kind {
                    EscalationKind::ToOne(_) => "to_one",
                    EscalationKind::ScaleCpu { .. } => "scale_cpu",
                    _ => "other",
                },
            })
            .collect();
        assert_eq!(kinds, ["up", "down", "to_one", "scale_cpu"]);
    }
}
