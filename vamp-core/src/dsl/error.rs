//! The error catalogue of the DSL and of the operations that validate artifacts.
//!
//! Every error names the artifact (kind and name), the field path inside it (`clusters.web.services[0].breed`)
//! and says what is wrong and what to do. [`ErrorCode`] keeps the original Vamp's class names, so a client that
//! matched on them still can; codes this project added are marked in `docs/errors.md`.

use std::fmt;

use crate::model::Kind;

macro_rules! catalogue {
    ($($code:ident => $what:literal,)*) => {
        /// A catalogue entry. `name()` is the original Vamp's error class name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(#[doc = $what] $code,)*
        }

        impl ErrorCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];

            /// The code's name, e.g. `UnresolvedGatewayPortError`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$code => stringify!($code),)* }
            }

            /// What the error means, in one sentence.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$code => $what,)* }
            }
        }
    };
}

catalogue! {
    YamlParsingError => "The document is not valid YAML or JSON.",
    MissingPathValueError => "A required field is missing.",
    UnexpectedTypeError => "A field has the wrong type (a list where a text is expected, …).",
    UnexpectedInnerElementError => "A field that must be a scalar holds a nested map or list.",
    EitherReferenceOrAnonymous => "An artifact is given both as a reference and inline.",
    UnexpectedElement => "A field the DSL does not know.",
    IllegalName => "A name contains white space, '/', '[' or ']'.",
    IllegalStrictName => "A port, variable or constant name contains white space, '.', '/', '[' or ']'.",
    InconsistentArtifactName => "The name in the document differs from the name in the request path.",
    InconsistentArtifactKind => "The `kind` in the document differs from the kind being read.",
    ParserError => "A value could not be parsed.",
    InvalidValueError => "A unit value (cpu, memory, percentage, time, port number) is malformed or out of range.",
    MalformedTraitError => "A port, variable or constant value is a map or a list instead of a scalar.",
    MissingPortValueError => "A breed port has no value.",
    MissingConstantValueError => "A breed constant has no value.",
    RecursiveDependenciesError => "Breed dependencies form a cycle.",
    UnresolvedDependencyInTraitValueError => "A `$` reference or an overridden variable names something the breed does not declare.",
    InvalidArgumentError => "An argument is not a single `key: value`.",
    InvalidArgumentValueError => "The `privileged` argument is not a boolean.",
    UnresolvedDependencyError => "A breed dependency is not satisfied by any cluster of the deployment.",
    UnresolvedGatewayPortError => "A gateway route names a cluster or port that does not exist.",
    UnresolvedEnvironmentVariableError => "A blueprint environment variable names a cluster or variable that does not exist.",
    NonUniqueBlueprintBreedReferenceError => "A breed appears more than once in a blueprint.",
    UnresolvedBreedDependencyError => "A breed dependency is not satisfied inside the blueprint.",
    RouteWeightError => "Route weights of a cluster gateway are negative or exceed 100%.",
    RouteConditionStrengthError => "A condition strength is outside 0..100%.",
    UnresolvedScaleEscalationTargetCluster => "A scale escalation targets a cluster that does not exist.",
    NoServiceError => "A cluster has no service.",
    MissingEnvironmentVariableError => "A service or workflow environment variable has no value.",
    IllegalGatewayStickyValue => "`sticky` is not `route`, `instance` or `none`.",
    IllegalGatewayVirtualHosts => "`virtual_hosts` is not a text or a list of texts.",
    UnresolvedServiceRouteError => "A cluster gateway route names a service that is not in the cluster.",
    UnsupportedGatewayNameError => "A gateway name has more than 4 segments or forbidden characters.",
    UnsupportedRoutePathError => "A route path is not 1 to 4 segments or `[host:port]`.",
    StickyPortTypeError => "Sticky sessions on a TCP port.",
    ConditionPortTypeError => "A condition on a TCP port.",
    IllegalAnonymousRoutingPortMappingError => "A cluster gateway without a port name while the breeds have several ports.",
    GatewayRouteWeightError => "Route weights of a gateway do not total 0% or 100%.",
    GatewayRouteConditionStrengthError => "A gateway route's condition strength is outside 0..100%.",
    DuplicateGatewayPortError => "Two gateways of a blueprint use the same port.",
    UnsupportedPathRewriteError => "A rewrite is not `<path> if <condition>`.",
    UnresolvedPortReferenceError => "A health check names a port the breed does not declare.",
    NegativeFailuresNumberError => "A health check's `failures` is negative.",
    UnsupportedProtocolError => "A port protocol other than http or tcp.",
    InvalidGatewayPortError => "A gateway port is not a number in 0..65535 with an optional /http or /tcp.",
    ConditionSyntaxError => "A condition could not be parsed; the message gives the position.",
    ConditionTooComplexError => "A condition's normal form would exceed the term limit.",
    UndefinedStateIntentionError => "A service status intention is not Deployment or Undeployment.",
    UndefinedStateStepError => "A service status phase is not Initiated, Updating, Done or Failed.",
    UndefinedWorkflowScheduleError => "A workflow schedule is not daemon, event or time.",
    IllegalWorkflowSchedulePeriod => "A workflow time schedule's period is not an ISO-8601 period.",
    IllegalWorkflowStatus => "A workflow status is not one of the known ones.",
    NoTagEventError => "An event has no tags.",
    EventTimestampError => "An event timestamp is not an ISO-8601 date-time.",
    EventQueryTimeError => "An event query gives both `lt` and `lte`, or both `gt` and `gte`, or an unreadable bound.",
    UnsupportedAggregatorError => "An event aggregator is not count, min, max, average or sum.",
    EventTypeError => "An event type has characters other than alphanumerics, '-' and '_'.",
    EmptyImportError => "An `import` names nothing.",
    ImportDefinitionError => "An imported artifact is not a map.",
    ImportReferenceError => "An `import` entry is not `name` or `kind/name`.",
    NonUniqueBreedReferenceError => "A breed is deployed more than once in a deployment.",
    UnresolvedVariableValueError => "A breed variable placeholder (`~`) is given no value at deploy time.",
    UnresolvedEnvironmentValueError => "A `$` reference in a value cannot be resolved at deploy time (strict resolution).",
    UnsupportedRouteWeight => "After a merge, a cluster's route weights do not total 0% or 100%.",
    InvalidRouteWeight => "After removing services, the remaining route weight is not 100%; re-weight first.",
    UnavailableGatewayPortError => "A gateway port is already used by another gateway.",
    NoAvailablePortError => "Every port of the configured gateway port range is in use.",
    CanaryPolicyError => "A canary policy does not fit its gateway or cluster: unknown or equal routes or services, a deployment's own gateway, steps not ascending in 1..100%, an interval outside 1 s..10 min, too few minimum requests, a confidence outside (0.5, 1).",
    InternalGatewayCreateError => "Internal gateways are created by deployments, not through the API.",
    InternalGatewayUpdateError => "The routes of an internal gateway are set by its deployment.",
    InternalGatewayRemoveError => "An internal gateway is removed with its deployment.",
    DeploymentWorkflowNameCollision => "A deployment and a workflow may not share a name.",
    WorkflowUpdateError => "A workflow can be updated only while suspended.",
    UnexpectedArtifact => "An unknown artifact kind.",
}

/// The kind and name of the artifact an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactId {
    /// Its kind.
    pub kind: Kind,
    /// Its name; empty when the document has none yet.
    pub name: String,
}

impl ArtifactId {
    /// The artifact of kind `kind` called `name` (empty when the document has no name yet).
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ArtifactId {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} '{}'", self.kind, self.name)
        }
    }
}

/// A DSL or validation error: what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DslError {
    /// The catalogue entry.
    pub code: ErrorCode,
    /// The artifact it is about.
    pub artifact: ArtifactId,
    /// The field path inside the artifact; empty for the whole document.
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
    /// Line and column in the source document, when known (1-based).
    pub position: Option<(usize, usize)>,
}

impl DslError {
    /// An error about `artifact` at `path`.
    pub fn new(
        code: ErrorCode,
        artifact: ArtifactId,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DslError {
            code,
            artifact,
            path: path.into(),
            message: message.into(),
            position: None,
        }
    }

    /// An error about the artifact of kind `kind` called `name`, at `path`: [`DslError::new`] with the
    /// [`ArtifactId`] built in.
    pub fn about(
        code: ErrorCode,
        kind: Kind,
        name: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DslError::new(code, ArtifactId::new(kind, name), path, message)
    }

    /// The same error reported as part of `artifact`, its path under `prefix` (a gateway checked inside a
    /// blueprint is reported as the blueprint's `gateways.<name>…`).
    pub fn within(mut self, artifact: &ArtifactId, prefix: &str) -> Self {
        if self.artifact != *artifact {
            self.artifact = artifact.clone();
            self.path = match (prefix.is_empty(), self.path.is_empty()) {
                (true, _) => self.path,
                (false, true) => prefix.to_string(),
                (false, false) => format!("{prefix}.{}", self.path),
            };
        }
        self
    }

    /// With a source position.
    pub fn at(mut self, position: Option<(usize, usize)>) -> Self {
        if self.position.is_none() {
            self.position = position;
        }
        self
    }
}

impl fmt::Display for DslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.artifact)?;
        if !self.path.is_empty() {
            write!(f, ", field '{}'", self.path)?;
        }
        if let Some((line, col)) = self.position {
            write!(f, " (line {line}, column {col})")?;
        }
        write!(f, ": {} [{}]", self.message, self.code.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_an_artifact_name_it_and_the_field() {
        let err = DslError::about(
            ErrorCode::UnresolvedDependencyError,
            Kind::Deployment,
            "shop",
            "clusters.web",
            "deploy the dependency",
        );
        assert_eq!(err.artifact, ArtifactId::new(Kind::Deployment, "shop"));
        assert_eq!(
            err.to_string(),
            "deployment 'shop', field 'clusters.web': deploy the dependency [UnresolvedDependencyError]"
        );
        let unnamed = DslError::about(ErrorCode::YamlParsingError, Kind::Blueprint, "", "", "not YAML");
        assert_eq!(unnamed.to_string(), "blueprint: not YAML [YamlParsingError]");
    }
}
