//! Validation of read artifacts against the error catalogue: what the original's readers checked after parsing,
//! plus the condition syntax this project checks strictly.

pub mod blueprint;
pub mod breed;
pub mod gateway;
pub mod workflow;

use super::error::DslError;
use crate::model::Artifact;

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
