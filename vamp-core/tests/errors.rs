//! One test per entry of the error catalogue: a minimal input that triggers it, checked for the code, the
//! artifact and the field path. `docs/errors.md` is generated from the same cases
//! (`VAMP_UPDATE_DOCS=1 cargo test -p vamp-core --test errors`) and a test keeps it current.

mod catalogue;

use catalogue::{cases, Case};
use vamp_core::dsl::ErrorCode;

fn check(case: &Case) {
    let err = (case.run)().expect_err(case.code);
    assert_eq!(err.code.name(), case.code, "{}: {err}", case.code);
    assert_eq!(err.path, case.path, "{}: {err}", case.code);
    assert!(!err.message.is_empty());
}

macro_rules! error_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        #[allow(non_snake_case)]
        fn $name() {
            let all = cases();
            let case = all.iter().find(|c| c.code == stringify!($name)).expect("a case for this code");
            check(case);
        }
    )*};
}

error_tests!(
    YamlParsingError,
    MissingPathValueError,
    UnexpectedTypeError,
    UnexpectedInnerElementError,
    EitherReferenceOrAnonymous,
    UnexpectedElement,
    IllegalName,
    IllegalStrictName,
    InconsistentArtifactName,
    InconsistentArtifactKind,
    ParserError,
    InvalidValueError,
    MalformedTraitError,
    MissingPortValueError,
    MissingConstantValueError,
    RecursiveDependenciesError,
    UnresolvedDependencyInTraitValueError,
    InvalidArgumentError,
    InvalidArgumentValueError,
    UnresolvedDependencyError,
    UnresolvedGatewayPortError,
    UnresolvedEnvironmentVariableError,
    NonUniqueBlueprintBreedReferenceError,
    UnresolvedBreedDependencyError,
    RouteWeightError,
    RouteConditionStrengthError,
    UnresolvedScaleEscalationTargetCluster,
    NoServiceError,
    MissingEnvironmentVariableError,
    IllegalGatewayStickyValue,
    IllegalGatewayVirtualHosts,
    UnresolvedServiceRouteError,
    UnsupportedGatewayNameError,
    UnsupportedRoutePathError,
    StickyPortTypeError,
    ConditionPortTypeError,
    IllegalAnonymousRoutingPortMappingError,
    GatewayRouteWeightError,
    GatewayRouteConditionStrengthError,
    DuplicateGatewayPortError,
    UnsupportedPathRewriteError,
    UnresolvedPortReferenceError,
    NegativeFailuresNumberError,
    UnsupportedProtocolError,
    InvalidGatewayPortError,
    ConditionSyntaxError,
    ConditionTooComplexError,
    UndefinedStateIntentionError,
    UndefinedStateStepError,
    UndefinedWorkflowScheduleError,
    IllegalWorkflowSchedulePeriod,
    IllegalWorkflowStatus,
    NoTagEventError,
    EventTimestampError,
    EventQueryTimeError,
    UnsupportedAggregatorError,
    EventTypeError,
    EmptyImportError,
    ImportDefinitionError,
    ImportReferenceError,
    NonUniqueBreedReferenceError,
    UnresolvedVariableValueError,
    UnresolvedEnvironmentValueError,
    UnsupportedRouteWeight,
    InvalidRouteWeight,
    UnavailableGatewayPortError,
    NoAvailablePortError,
    CanaryPolicyError,
    InternalGatewayCreateError,
    InternalGatewayUpdateError,
    InternalGatewayRemoveError,
    DeploymentWorkflowNameCollision,
    WorkflowUpdateError,
    UnexpectedArtifact,
);

#[test]
fn every_catalogue_entry_has_a_case() {
    let all = cases();
    for code in ErrorCode::ALL {
        assert!(
            all.iter().any(|c| c.code == code.name()),
            "no case for {}",
            code.name()
        );
    }
}

#[test]
fn errors_doc_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md");
    let rendered = catalogue::render_doc();
    if std::env::var_os("VAMP_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).expect("write docs/errors.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == rendered,
        "docs/errors.md is stale: run VAMP_UPDATE_DOCS=1 cargo test -p vamp-core --test errors"
    );
}
