//! Validation of read artifacts against the error catalogue: what the original's readers checked after parsing,
//! plus the condition syntax this project checks strictly.

pub mod blueprint;
pub mod breed;
pub mod canary;
pub mod gateway;
pub mod workflow;

use super::error::{ArtifactId, DslError, ErrorCode};
use crate::model::{Artifact, Event, Kind};

/// Validates a read artifact.
pub fn artifact(artifact: &Artifact) -> Result<(), DslError> {
    match artifact {
        Artifact::Breed(b) => breed::validate_breed(b, &breed::id(b)),
        Artifact::Blueprint(b) => blueprint::validate_blueprint(b, blueprint::Scope::Blueprint),
        Artifact::Gateway(g) => gateway::validate_gateway(g),
        Artifact::Route(r) => gateway::validate_route_artifact(r),
        Artifact::Condition(c) => gateway::validate_condition_artifact(c),
        Artifact::Workflow(w) => workflow::validate_workflow(w),
        _ => Ok(()),
    }
}

/// Checks that an artifact sent to `PUT /{kind}/{name}` carries the name of the path (`InconsistentArtifactName`).
pub fn name_matches(artifact: &Artifact, path_name: &str) -> Result<(), DslError> {
    if artifact.name() == path_name {
        return Ok(());
    }
    Err(DslError::about(
        ErrorCode::InconsistentArtifactName,
        artifact.kind(),
        artifact.name(),
        "name",
        format!(
            "the document is named '{}' but the request is for '{path_name}'; make them equal",
            artifact.name()
        ),
    ))
}

/// Checks an event before it is published: it has tags (`NoTagEventError`) and a valid type (`EventTypeError`).
pub fn event(e: &Event) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Event, e.id.clone().unwrap_or_default());
    if e.tags.is_empty() {
        return Err(DslError::new(
            ErrorCode::NoTagEventError,
            id,
            "tags",
            "publishing an event without tags is not allowed; add at least one tag",
        ));
    }
    if !Event::valid_type(&e.kind) {
        return Err(DslError::new(
            ErrorCode::EventTypeError,
            id,
            "type",
            format!(
                "'{}' is not an event type: only alphanumerics, '-' and '_' are allowed",
                e.kind
            ),
        ));
    }
    Ok(())
}
