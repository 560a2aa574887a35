//! Workflow validation: the schedule's cron expression or period parses, an inline breed is valid, and
//! overridden variables exist in it and have a value.

use super::breed::validate_breed;
use crate::dsl::error::{ArtifactId, DslError, ErrorCode};
use crate::dsl::read::iso_period_seconds;
use crate::model::{Kind, Ref, Schedule, Workflow};
use crate::ops::workflow_schedule::CronSchedule;

/// Validates a workflow.
pub fn validate_workflow(w: &Workflow) -> Result<(), DslError> {
    let id = ArtifactId::new(Kind::Workflow, &w.name);
    match &w.schedule {
        Schedule::Cron { expression } => {
            if let Err(message) = CronSchedule::parse(expression) {
                return Err(DslError::new(
                    ErrorCode::IllegalWorkflowSchedulePeriod,
                    id,
                    "schedule.time.cron",
                    message,
                ));
            }
        }
        Schedule::Time { period, .. } if iso_period_seconds(period).is_none() => {
            return Err(DslError::new(
                ErrorCode::IllegalWorkflowSchedulePeriod,
                id,
                "schedule.time.period",
                format!("'{period}' is not an ISO-8601 period such as PT1M or P1DT2H"),
            ));
        }
        _ => {}
    }
    for v in &w.environment_variables {
        let path = format!("environment_variables.{}", v.name);
        if v.value.is_none() {
            return Err(DslError::new(
                ErrorCode::MissingEnvironmentVariableError,
                id,
                path,
                format!("variable '{}' has no value; give it one", v.name),
            ));
        }
        if let Ref::Inline(b) = &w.breed {
            if b.environment_variable(&v.name).is_none() {
                return Err(DslError::new(
                    ErrorCode::UnresolvedDependencyInTraitValueError,
                    id,
                    path,
                    format!(
                        "breed '{}' has no variable '{}' to override; declare it in the breed",
                        b.name, v.name
                    ),
                ));
            }
        }
    }
    if let Ref::Inline(b) = &w.breed {
        validate_breed(b, &id)?;
    }
    Ok(())
}
