//! Escalation: what an SLA does when it is violated — scale instances, CPU or memory, or a group of escalations.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{serialize_head, Metadata, Ref};

/// An escalation's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum EscalationKind {
    /// Apply every child.
    ToAll(Vec<Ref<Escalation>>),
    /// Apply the first child that can act (in reverse order when de-escalating).
    ToOne(Vec<Ref<Escalation>>),
    /// Add or remove `scale_by` instances, staying within `[minimum, maximum]`.
    ScaleInstances {
        /// Lower bound.
        minimum: i64,
        /// Upper bound.
        maximum: i64,
        /// Step.
        scale_by: i64,
        /// The cluster scaled; the SLA's own cluster when absent.
        target: Option<String>,
    },
    /// Add or remove `scale_by` CPU.
    ScaleCpu {
        /// Lower bound.
        minimum: f64,
        /// Upper bound.
        maximum: f64,
        /// Step.
        scale_by: f64,
        /// The cluster scaled.
        target: Option<String>,
    },
    /// Add or remove `scale_by` MB of memory.
    ScaleMemory {
        /// Lower bound.
        minimum: f64,
        /// Upper bound.
        maximum: f64,
        /// Step.
        scale_by: f64,
        /// The cluster scaled.
        target: Option<String>,
    },
    /// Any other type: kept with its parameters for third parties to act on.
    Generic {
        /// The type.
        kind: String,
        /// The remaining fields.
        parameters: Metadata,
    },
}

/// An escalation.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// The name when stored as an artifact; empty inline.
    pub name: String,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// What it does.
    pub kind: EscalationKind,
}

impl Escalation {
    /// An anonymous escalation.
    pub fn inline(kind: EscalationKind) -> Self {
        Escalation {
            name: String::new(),
            metadata: Metadata::new(),
            kind,
        }
    }

    /// The `type` as written.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            EscalationKind::ToAll(_) => "to_all",
            EscalationKind::ToOne(_) => "to_one",
            EscalationKind::ScaleInstances { .. } => "scale_instances",
            EscalationKind::ScaleCpu { .. } => "scale_cpu",
            EscalationKind::ScaleMemory { .. } => "scale_memory",
            EscalationKind::Generic { kind, .. } => kind,
        }
    }
}

/// Writes the fields of a scaling escalation: `minimum`, `maximum`, `scale_by`, and `target` when set.
fn write_scaling<M: SerializeMap, T: Serialize>(
    m: &mut M,
    minimum: &T,
    maximum: &T,
    scale_by: &T,
    target: &Option<String>,
) -> Result<(), M::Error> {
    m.serialize_entry("minimum", minimum)?;
    m.serialize_entry("maximum", maximum)?;
    m.serialize_entry("scale_by", scale_by)?;
    if let Some(t) = target {
        m.serialize_entry("target", t)?;
    }
    Ok(())
}

impl Serialize for Escalation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serialize_head(s, &self.name, &self.metadata)?;
        m.serialize_entry("type", self.type_name())?;
        match &self.kind {
            EscalationKind::ToAll(children) | EscalationKind::ToOne(children) => {
                m.serialize_entry("escalations", children)?;
            }
            EscalationKind::ScaleInstances {
                minimum,
                maximum,
                scale_by,
                target,
            } => write_scaling(&mut m, minimum, maximum, scale_by, target)?,
            EscalationKind::ScaleCpu {
                minimum,
                maximum,
                scale_by,
                target,
            }
            | EscalationKind::ScaleMemory {
                minimum,
                maximum,
                scale_by,
                target,
            } => write_scaling(&mut m, minimum, maximum, scale_by, target)?,
            EscalationKind::Generic { parameters, .. } => {
                for (k, v) in parameters {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        m.end()
    }
}
