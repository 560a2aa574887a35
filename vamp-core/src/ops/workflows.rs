//! Workflow operations: when a workflow may be created or updated.

use crate::dsl::{ArtifactId, DslError, ErrorCode};
use crate::model::{Kind, Workflow, WorkflowStatus};

/// Checks that `requested` may be stored: no deployment has its name (`DeploymentWorkflowNameCollision`), and an
/// existing workflow of that name is suspended (`WorkflowUpdateError`). A status-only change goes through
/// [`WorkflowStatus`] updates, not this check.
pub fn check_workflow_update(
    existing: Option<&Workflow>,
    requested: &Workflow,
    deployment_exists: bool,
) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Workflow, &requested.name);
    if deployment_exists {
        return Err(DslError::new(
            ErrorCode::DeploymentWorkflowNameCollision,
            id,
            "name",
            format!(
                "a deployment is called '{}': a deployment and a workflow may not share a name",
                requested.name
            ),
        ));
    }
    match existing {
        Some(w) if w.status != WorkflowStatus::Suspended => Err(DslError::new(
            ErrorCode::WorkflowUpdateError,
            id,
            "status",
            format!(
                "workflow '{}' is {}; suspend it (status: suspended) before updating it",
                w.name,
                serde_json::to_value(w.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}
