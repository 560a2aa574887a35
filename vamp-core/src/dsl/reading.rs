//! The entry points of the DSL reader: text (YAML or JSON) in, validated artifacts out.

use chrono::Utc;

use super::cursor::{scalar_text, Ctx, MapCursor};
use super::error::{ArtifactId, DslError, ErrorCode};
use super::node::{parse_documents, Node, Value};
use super::read::{blueprint, breed, compose, event, gateway, sla, template, workflow};
use super::validate;
use crate::model::{
    Artifact, Blueprint, Breed, Escalation, Event, EventQuery, Gateway, Kind, Scale, Sla, Template, Workflow,
};

fn document_name(node: &Node) -> String {
    node.get("name")
        .and_then(Node::as_text)
        .unwrap_or_default()
        .to_string()
}

/// Parses `text` into its documents, as `YamlParsingError` on failure.
pub fn documents(kind: Kind, text: &str) -> Result<Vec<Node>, DslError> {
    parse_documents(text).map_err(|e| {
        DslError::about(
            ErrorCode::YamlParsingError,
            kind,
            "",
            "",
            format!("the document is not valid YAML or JSON: {}", e.message),
        )
        .at(e.position)
    })
}

/// The single document of a request body: one document, or one document holding a one-element list.
pub fn single_document(kind: Kind, text: &str) -> Result<Node, DslError> {
    let mut docs = documents(kind, text)?;
    let id = ArtifactId::new(kind, "");
    match docs.len() {
        0 => Err(DslError::new(
            ErrorCode::MissingPathValueError,
            id,
            "",
            "the request has no document; send one",
        )),
        1 => {
            let doc = docs.remove(0);
            match doc.value {
                Value::List(mut items) if items.len() == 1 => Ok(items.remove(0)),
                Value::List(_) => Err(DslError::new(
                    ErrorCode::UnexpectedTypeError,
                    id,
                    "",
                    "expected one artifact; send several to the root endpoint as separate documents",
                )),
                _ => Ok(doc),
            }
        }
        n => Err(DslError::new(
            ErrorCode::UnexpectedTypeError,
            id,
            "",
            format!("expected one document, found {n}; send several to the root endpoint"),
        )),
    }
}

/// Reads and validates one artifact of `kind` from a node.
pub fn read_node(kind: Kind, node: &Node) -> Result<Artifact, DslError> {
    let ctx = Ctx::new(kind, document_name(node));
    let artifact = match kind {
        Kind::Breed => Artifact::Breed(breed::read_breed(&ctx, node, "")?),
        Kind::Blueprint => {
            let mut bp = blueprint::read_blueprint(&ctx, node, "")?;
            validate::blueprint::name_anonymous_gateways(&mut bp)?;
            Artifact::Blueprint(bp)
        }
        Kind::Deployment => Artifact::Deployment(super::read::deployment::read_deployment(&ctx, node, "")?),
        Kind::Gateway => Artifact::Gateway(gateway::read_gateway(&ctx, node, "")?),
        Kind::Route => Artifact::Route(gateway::read_route_artifact(&ctx, node, "")?),
        Kind::Condition => Artifact::Condition(gateway::read_condition_artifact(&ctx, node, "")?),
        Kind::Rewrite => Artifact::Rewrite(gateway::read_rewrite_artifact(&ctx, node, "")?),
        Kind::Scale => {
            let c = MapCursor::new(&ctx, node, "")?;
            c.check_kind(Kind::Scale)?;
            let name = super::read::common::read_name(&c)?;
            let s = super::read::common::read_scale_body(&c, name)?;
            c.finish()?;
            Artifact::Scale(s)
        }
        Kind::Sla => Artifact::Sla(sla::read_sla_artifact(&ctx, node, "")?),
        Kind::Escalation => Artifact::Escalation(sla::read_escalation_artifact(&ctx, node, "")?),
        Kind::Workflow => Artifact::Workflow(workflow::read_workflow(&ctx, node, "")?),
        Kind::Event => Artifact::Event(event::read_event(&ctx, node, "", Utc::now())?),
        Kind::Template => Artifact::Template(template::read_template(&ctx, node, "")?),
        Kind::CanaryProgress => {
            return Err(ctx.err(
                ErrorCode::UnexpectedTypeError,
                "",
                "the progress of a canary is kept by the canary loop; it is not written as an artifact",
            ))
        }
    };
    validate::artifact(&artifact)?;
    Ok(artifact)
}

/// Reads and validates one artifact of `kind` from a request body.
pub fn read(kind: Kind, text: &str) -> Result<Artifact, DslError> {
    read_node(kind, &single_document(kind, text)?)
}

/// Reads every document of a multi-document text; each must say its `kind` (singular or plural).
pub fn read_all(text: &str) -> Result<Vec<Artifact>, DslError> {
    let docs = documents(Kind::Blueprint, text)?;
    let mut out = Vec::new();
    for doc in docs {
        let items: Vec<Node> = match doc.value {
            Value::List(items) => items,
            _ => vec![doc],
        };
        for item in items {
            let name = document_name(&item);
            let kind_node = item.get("kind").ok_or_else(|| {
                DslError::about(
                    ErrorCode::MissingPathValueError,
                    Kind::Blueprint,
                    &name,
                    "kind",
                    "each document sent to the root endpoint needs a 'kind'",
                )
                .at(item.position())
            })?;
            let ctx = Ctx::new(Kind::Blueprint, name.clone());
            let kind_text = scalar_text(&ctx, kind_node, "kind")?;
            let kind: Kind = kind_text.parse().map_err(|_| {
                DslError::about(
                    ErrorCode::UnexpectedArtifact,
                    Kind::Blueprint,
                    name,
                    "kind",
                    format!("'{kind_text}' is not an artifact kind"),
                )
                .at(kind_node.position())
            })?;
            out.push(read_node(kind, &item)?);
        }
    }
    Ok(out)
}

macro_rules! typed_reader {
    ($(#[$doc:meta] $fn:ident => $kind:ident, $ty:ty;)*) => {$(
        #[$doc]
        pub fn $fn(text: &str) -> Result<$ty, DslError> {
            match read(Kind::$kind, text)? {
                Artifact::$kind(a) => Ok(a),
                other => Err(DslError::about(ErrorCode::InconsistentArtifactKind, Kind::$kind, other.name(),
                    "kind",
                    format!("expected a {}, read a {}", Kind::$kind, other.kind()),
                )),
            }
        }
    )*};
}

typed_reader! {
    /// Reads a deployment in its canonical form (with status, instances and resolved environment).
    read_deployment => Deployment, crate::model::Deployment;
    /// Reads and validates a breed.
    read_breed => Breed, Breed;
    /// Reads and validates a blueprint.
    read_blueprint => Blueprint, Blueprint;
    /// Reads and validates a gateway.
    read_gateway => Gateway, Gateway;
    /// Reads and validates a scale.
    read_scale => Scale, Scale;
    /// Reads and validates an SLA.
    read_sla => Sla, Sla;
    /// Reads and validates an escalation.
    read_escalation => Escalation, Escalation;
    /// Reads and validates a workflow.
    read_workflow => Workflow, Workflow;
    /// Reads and validates a template.
    read_template => Template, Template;
}

/// Reads an event; its timestamp defaults to now.
pub fn read_event(text: &str) -> Result<Event, DslError> {
    let node = single_document(Kind::Event, text)?;
    let ctx = Ctx::new(Kind::Event, "");
    event::read_event(&ctx, &node, "", Utc::now())
}

/// Reads an event query.
pub fn read_event_query(text: &str) -> Result<EventQuery, DslError> {
    let node = single_document(Kind::Event, text)?;
    let ctx = Ctx::new(Kind::Event, "query");
    event::read_event_query(&ctx, &node, "")
}

/// Reads a deployment request body: a blueprint (tolerating `kind: deployment`), validated as a blueprint whose
/// dependencies may be satisfied by the deployment it merges into.
pub fn read_deployment_request(text: &str) -> Result<Blueprint, DslError> {
    let node = single_document(Kind::Deployment, text)?;
    let ctx = Ctx::new(Kind::Deployment, document_name(&node));
    let c = MapCursor::new(&ctx, &node, "")?;
    c.take("kind");
    let name = super::read::common::read_name(&c)?;
    let mut bp = blueprint::read_blueprint_fields(&c, name)?;
    c.take("ports");
    c.take("hosts");
    c.finish()?;
    validate::blueprint::name_anonymous_gateways(&mut bp)?;
    validate::blueprint::validate_blueprint(&bp, validate::blueprint::Scope::Deployment)?;
    Ok(bp)
}

/// Converts a docker-compose file into a blueprint called `name`, with notes on what was not converted.
pub fn read_compose(text: &str, name: &str) -> Result<(Blueprint, Vec<String>), DslError> {
    let node = single_document(Kind::Blueprint, text)?;
    let ctx = Ctx::new(Kind::Blueprint, name);
    let (bp, notes) = compose::read_compose(&ctx, &node, name)?;
    validate::artifact(&Artifact::Blueprint(bp.clone()))?;
    Ok((bp, notes))
}

/// Reads a compose `ports` list (a document `ports: […]`).
pub fn read_compose_ports(text: &str) -> Result<Vec<compose::ComposePort>, DslError> {
    let node = single_document(Kind::Blueprint, text)?;
    let ctx = Ctx::new(Kind::Blueprint, "compose");
    let c = MapCursor::new(&ctx, &node, "")?;
    let ports = compose::read_compose_ports(&ctx, c.required("ports")?, "ports")?;
    c.finish()?;
    Ok(ports)
}

/// The text of field `key` of a document; a map or list there is `UnexpectedInnerElementError`. For embedders that
/// read documents of their own with the DSL's errors.
pub fn field_text(doc: &Node, key: &str) -> Result<String, DslError> {
    let ctx = Ctx::new(Kind::Template, document_name(doc));
    let c = MapCursor::new(&ctx, doc, "")?;
    c.required_text(key)
}

/// The integer of field `key` of a document; anything else is `UnexpectedTypeError`.
pub fn field_integer(doc: &Node, key: &str) -> Result<i64, DslError> {
    let ctx = Ctx::new(Kind::Template, document_name(doc));
    let c = MapCursor::new(&ctx, doc, "")?;
    let node = c.required(key)?;
    match node.value {
        Value::Int(i) => Ok(i),
        _ => Err(ctx.err_at(
            ErrorCode::UnexpectedTypeError,
            key,
            node,
            format!(
                "'{key}' must be an integer, found {}",
                super::cursor::describe(node)
            ),
        )),
    }
}
