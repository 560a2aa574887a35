//! The artifact model: one file per kind. Readers live in [`crate::dsl`]; every type here serializes to the
//! canonical form that the readers accept back unchanged.

pub mod blueprint;
pub mod breed;
pub mod canary;
pub mod condition;
pub mod deployment;
pub mod escalation;
pub mod event;
pub mod gateway;
pub mod health_check;
pub mod kind;
pub mod lookup;
pub mod reference;
pub mod rewrite;
pub mod scale;
pub mod sla;
pub mod template;
pub mod traits;
pub mod units;
pub mod workflow;

pub use blueprint::{Blueprint, Cluster, Service};
pub use breed::{Breed, Deployable};
pub use canary::{CanaryPolicy, CanaryStatus, Millis, Rate};
pub use condition::Condition;
pub use deployment::{
    Deployment, DeploymentCluster, DeploymentService, Health, Instance, Intention, Phase, ServiceStatus,
};
pub use escalation::{Escalation, EscalationKind};
pub use event::{Aggregator, AggregatorKind, Event, EventQuery, TimeBound, TimeRange};
pub use gateway::{
    Gateway, GatewayPort, GatewayRoute, GatewayService, Route, RoutePath, RouteTarget, Sticky,
};
pub use health_check::HealthCheck;
pub use kind::Kind;
pub use reference::Ref;
pub use rewrite::Rewrite;
pub use scale::Scale;
pub use sla::{Sla, SlaKind};
pub use template::Template;
pub use traits::{Argument, Constant, EnvironmentVariable, Port, Protocol};
pub use units::{Cpu, Memory, Percentage, Seconds};
pub use workflow::{Schedule, Workflow, WorkflowStatus};

/// Free-form metadata of an artifact.
pub type Metadata = indexmap::IndexMap<String, serde_json::Value>;

/// Driver-specific settings keyed by driver name (`docker`, `marathon`, `kubernetes`, …).
pub type Dialects = indexmap::IndexMap<String, serde_json::Value>;

pub(crate) fn is_empty_map(m: &Metadata) -> bool {
    m.is_empty()
}

/// Opens the map of a weak-reference artifact (condition, rewrite, SLA, escalation) and writes its `name` and
/// `metadata`, each only when not empty: an anonymous inline artifact is written without them, so the readers
/// take it back as inline rather than as named-and-defined.
pub(crate) fn serialize_head<S: serde::Serializer>(
    s: S,
    name: &str,
    metadata: &Metadata,
) -> Result<S::SerializeMap, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    if !name.is_empty() {
        m.serialize_entry("name", name)?;
    }
    if !metadata.is_empty() {
        m.serialize_entry("metadata", metadata)?;
    }
    Ok(m)
}

/// Writes gateways as a map keyed by their name, without repeating the name, and without an unassigned port.
pub(crate) fn gateways_as_map<S: serde::Serializer>(gateways: &[Gateway], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::{Error, SerializeMap};
    use serde::Serialize;
    if let [g] = gateways {
        if g.name.is_empty() {
            let mut body = serde_json::to_value(g).map_err(S::Error::custom)?;
            if let Some(obj) = body.as_object_mut() {
                obj.shift_remove("name");
                obj.shift_remove("port");
            }
            return body.serialize(s);
        }
    }
    let mut m = s.serialize_map(Some(gateways.len()))?;
    for g in gateways {
        let mut body = serde_json::to_value(g).map_err(S::Error::custom)?;
        if let Some(obj) = body.as_object_mut() {
            obj.shift_remove("name");
            if g.port.number == 0 {
                obj.shift_remove("port");
            }
        }
        m.serialize_entry(&g.name, &body)?;
    }
    m.end()
}

/// Any artifact the DSL reads. Variants are not boxed: an artifact is built once per request and matched often.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum Artifact {
    /// A breed.
    Breed(Breed),
    /// A blueprint.
    Blueprint(Blueprint),
    /// A deployment.
    Deployment(Deployment),
    /// A gateway.
    Gateway(Gateway),
    /// A stored route.
    Route(Route),
    /// A stored condition.
    Condition(Condition),
    /// A stored rewrite.
    Rewrite(Rewrite),
    /// A stored scale.
    Scale(Scale),
    /// An SLA.
    Sla(Sla),
    /// An escalation.
    Escalation(Escalation),
    /// A workflow.
    Workflow(Workflow),
    /// An event.
    Event(Event),
    /// A template.
    Template(Template),
}

impl Artifact {
    /// The artifact's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Artifact::Breed(_) => Kind::Breed,
            Artifact::Blueprint(_) => Kind::Blueprint,
            Artifact::Deployment(_) => Kind::Deployment,
            Artifact::Gateway(_) => Kind::Gateway,
            Artifact::Route(_) => Kind::Route,
            Artifact::Condition(_) => Kind::Condition,
            Artifact::Rewrite(_) => Kind::Rewrite,
            Artifact::Scale(_) => Kind::Scale,
            Artifact::Sla(_) => Kind::Sla,
            Artifact::Escalation(_) => Kind::Escalation,
            Artifact::Workflow(_) => Kind::Workflow,
            Artifact::Event(_) => Kind::Event,
            Artifact::Template(_) => Kind::Template,
        }
    }

    /// The artifact's name (an event's id, or empty before it is stored).
    pub fn name(&self) -> &str {
        match self {
            Artifact::Breed(a) => &a.name,
            Artifact::Blueprint(a) => &a.name,
            Artifact::Deployment(a) => &a.name,
            Artifact::Gateway(a) => &a.name,
            Artifact::Route(a) => &a.name,
            Artifact::Condition(a) => &a.name,
            Artifact::Rewrite(a) => &a.name,
            Artifact::Scale(a) => &a.name,
            Artifact::Sla(a) => &a.name,
            Artifact::Escalation(a) => &a.name,
            Artifact::Workflow(a) => &a.name,
            Artifact::Event(a) => a.id.as_deref().unwrap_or(""),
            Artifact::Template(a) => &a.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_artifacts_write_name_and_metadata_only_when_set() {
        let anonymous = Condition::inline("hdr_sub(user-agent) Firefox");
        assert_eq!(
            serde_json::to_value(&anonymous).unwrap(),
            serde_json::json!({"condition": "hdr_sub(user-agent) Firefox"})
        );
        let mut named = Condition::inline("hdr_sub(user-agent) Firefox");
        named.name = "firefox".into();
        named.metadata.insert("team".into(), "web".into());
        assert_eq!(
            serde_json::to_string(&named).unwrap(),
            r#"{"name":"firefox","metadata":{"team":"web"},"condition":"hdr_sub(user-agent) Firefox"}"#
        );
    }
}
