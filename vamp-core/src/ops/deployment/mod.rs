//! Deployment operations: blueprint to deployment ([`attach()`]), merge (PUT), slice (DELETE with a body),
//! `as_blueprint` export, health-check precedence and service status timeouts.
//!
//! Every function here is pure and deterministic: the current time is passed in as `now`, referenced artifacts
//! come from an [`ArtifactSource`], and the result is a new value. The deployment loop and the API in
//! `vamp-server` call them and persist what they return.

pub mod attach;
pub mod dependencies;
pub mod export;
pub mod health_checks;
pub mod merge;
pub mod slice;
pub mod source;
pub mod status;
pub mod validate;

mod weights;

pub use attach::{attach, merge_arguments, DeploymentDefaults};
pub use dependencies::map_dependencies;
pub use export::as_blueprint;
pub use health_checks::effective_health_checks;
pub use merge::merge;
pub use slice::{remove_undeployed, slice, slice_request};
pub use source::{references, ArtifactSource, MapSource};
pub use status::{fail_on_timeout, service_error, timed_out, Timeouts};
pub use validate::validate;

use crate::dsl::{DslError, ErrorCode};
use crate::model::Kind;

/// A validation error about deployment `deployment` at `path`.
pub(crate) fn deployment_error(
    code: ErrorCode,
    deployment: &str,
    path: impl Into<String>,
    message: impl Into<String>,
) -> DslError {
    DslError::about(code, Kind::Deployment, deployment, path, message)
}
