//! SLA: a service level agreement on a cluster, with the escalations applied when it is violated.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::escalation::Escalation;
use super::{serialize_head, Metadata, Ref};

/// An SLA's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaKind {
    /// Escalate when the mean response time over `interval` seconds exceeds `upper` ms, de-escalate below `lower`;
    /// wait `cooldown` seconds after acting.
    ResponseTimeSlidingWindow {
        /// Upper threshold, ms.
        upper: u64,
        /// Lower threshold, ms.
        lower: u64,
        /// Window, seconds.
        interval: u64,
        /// Quiet time after an escalation, seconds.
        cooldown: u64,
    },
    /// Only escalations, triggered by SLA events others publish.
    EscalationOnly,
    /// A reference to a stored SLA, with escalations of its own (`{reference: name, escalations: […]}`).
    Reference(String),
    /// Any other type, kept with its parameters.
    Generic {
        /// The type.
        kind: String,
        /// The remaining fields.
        parameters: Metadata,
    },
}

/// An SLA.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    /// The name when stored as an artifact; empty inline.
    pub name: String,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// What it measures.
    pub kind: SlaKind,
    /// What it does when violated.
    pub escalations: Vec<Ref<Escalation>>,
}

impl Sla {
    /// The `type` as written.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            SlaKind::ResponseTimeSlidingWindow { .. } => "response_time_sliding_window",
            SlaKind::EscalationOnly => "escalation_only",
            SlaKind::Reference(_) => "reference",
            SlaKind::Generic { kind, .. } => kind,
        }
    }
}

impl Serialize for Sla {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serialize_head(s, &self.name, &self.metadata)?;
        match &self.kind {
            SlaKind::Reference(r) => m.serialize_entry("reference", r)?,
            _ => m.serialize_entry("type", self.type_name())?,
        }
        match &self.kind {
            SlaKind::ResponseTimeSlidingWindow {
                upper,
                lower,
                interval,
                cooldown,
            } => {
                m.serialize_entry("threshold", &serde_json::json!({"upper": upper, "lower": lower}))?;
                m.serialize_entry(
                    "window",
                    &serde_json::json!({"interval": interval, "cooldown": cooldown}),
                )?;
            }
            SlaKind::EscalationOnly | SlaKind::Reference(_) => {}
            SlaKind::Generic { parameters, .. } => {
                for (k, v) in parameters {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        if !self.escalations.is_empty() {
            m.serialize_entry("escalations", &self.escalations)?;
        }
        m.end()
    }
}
