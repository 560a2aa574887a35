//! The catalogue cases: for each error code, an input that triggers it and the field path it must name.

use vamp_core::dsl::{self, DslError};
use vamp_core::model::Kind;

mod operations;

/// One catalogue case.
pub struct Case {
    pub code: &'static str,
    pub example: &'static str,
    pub path: &'static str,
    pub run: fn() -> Result<(), DslError>,
}

macro_rules! read_case {
    ($code:ident, $kind:ident, $path:literal, $doc:literal) => {
        Case {
            code: stringify!($code),
            example: $doc,
            path: $path,
            run: || dsl::read(Kind::$kind, $doc).map(drop),
        }
    };
}

macro_rules! call_case {
    ($code:ident, $path:literal, $doc:literal, $run:expr) => {
        Case {
            code: stringify!($code),
            example: $doc,
            path: $path,
            run: $run,
        }
    };
}

pub(crate) use call_case;

pub fn cases() -> Vec<Case> {
    let mut all = vec![
        read_case!(YamlParsingError, Breed, "", "name: [unclosed\n"),
        read_case!(MissingPathValueError, Breed, "deployable", "name: web:1.0\n"),
        read_case!(UnexpectedTypeError, Blueprint, "clusters", "name: shop\nclusters: [web]\n"),
        read_case!(UnexpectedInnerElementError, Breed, "deployable.definition", "name: web:1.0\ndeployable: {definition: {image: x}}\n"),
        read_case!(
            EitherReferenceOrAnonymous,
            Blueprint,
            "clusters.web.services[0].scale",
            "name: shop\nclusters:\n  web:\n    services:\n      - breed: web:1.0\n        scale: {name: small, cpu: 1, memory: 1GB}\n"
        ),
        read_case!(UnexpectedElement, Breed, "port", "name: web:1.0\ndeployable: web\nport: 8080\n"),
        read_case!(IllegalName, Breed, "name", "name: web 1.0\ndeployable: web\n"),
        read_case!(IllegalStrictName, Breed, "ports.web.public", "name: web:1.0\ndeployable: web\nports: {web.public: 8080}\n"),
        call_case!(
            InconsistentArtifactName,
            "name",
            "PUT /api/v1/breeds/api:1.0 with body `name: web:1.0`",
            || {
                let a = dsl::read(Kind::Breed, "name: web:1.0\ndeployable: web\n")?;
                dsl::validate::name_matches(&a, "api:1.0")
            }
        ),
        read_case!(InconsistentArtifactKind, Breed, "kind", "name: web:1.0\nkind: blueprint\ndeployable: web\n"),
        read_case!(ParserError, Breed, "environment_variables.URL", "name: web:1.0\ndeployable: web\nenvironment_variables: {URL: \"${a b}\"}\n"),
        read_case!(InvalidValueError, Scale, "memory", "name: small\ncpu: 0.5\nmemory: lots\n"),
        read_case!(MalformedTraitError, Breed, "environment_variables.OPTS", "name: web:1.0\ndeployable: web\nenvironment_variables: {OPTS: [a, b]}\n"),
        read_case!(MissingPortValueError, Breed, "ports.web", "name: web:1.0\ndeployable: web\nports: {web: ~}\n"),
        read_case!(MissingConstantValueError, Breed, "constants.SCHEMA", "name: web:1.0\ndeployable: web\nconstants: {SCHEMA: ~}\n"),
        read_case!(
            RecursiveDependenciesError,
            Breed,
            "dependencies",
            "name: a:1\ndeployable: a\ndependencies:\n  b:\n    name: b:1\n    deployable: b\n    dependencies: {a: a:1}\n"
        ),
        read_case!(
            UnresolvedDependencyInTraitValueError,
            Breed,
            "environment_variables.DB",
            "name: web:1.0\ndeployable: web\nenvironment_variables: {DB: $db.host}\n"
        ),
        read_case!(InvalidArgumentError, Breed, "arguments[0]", "name: web:1.0\ndeployable: web\narguments: [privileged]\n"),
        read_case!(InvalidArgumentValueError, Breed, "arguments[0].privileged", "name: web:1.0\ndeployable: web\narguments: [{privileged: maybe}]\n"),
        read_case!(
            UnresolvedGatewayPortError,
            Blueprint,
            "gateways.9050.routes.web/admin",
            "name: shop\ngateways: {9050: web/admin}\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, ports: {http: 8080}}\n"
        ),
        read_case!(
            UnresolvedEnvironmentVariableError,
            Blueprint,
            "environment_variables.db.PASSWORD",
            "name: shop\nenvironment_variables: {db.PASSWORD: x}\nclusters:\n  web: web:1.0\n"
        ),
        read_case!(
            NonUniqueBlueprintBreedReferenceError,
            Blueprint,
            "clusters.b.services[0].breed",
            "name: shop\nclusters:\n  a: web:1.0\n  b: web:1.0\n"
        ),
        read_case!(
            UnresolvedBreedDependencyError,
            Blueprint,
            "clusters.web.services[0].breed.dependencies.db",
            "name: shop\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, dependencies: {db: db:1.0}}\n"
        ),
        read_case!(
            RouteWeightError,
            Blueprint,
            "clusters.web.gateways.http.routes",
            "name: shop\nclusters:\n  web:\n    gateways:\n      http:\n        routes:\n          web:1.0: {weight: 80%}\n          web:2.0: {weight: 30%}\n    services: [web:1.0, web:2.0]\n"
        ),
        read_case!(
            RouteConditionStrengthError,
            Blueprint,
            "clusters.web.gateways.http.routes.web:1.0.condition_strength",
            "name: shop\nclusters:\n  web:\n    gateways:\n      http:\n        routes:\n          web:1.0: {condition: has cookie beta, condition_strength: 150%}\n    services: [web:1.0]\n"
        ),
        read_case!(
            UnresolvedScaleEscalationTargetCluster,
            Blueprint,
            "clusters.web.sla.escalations",
            "name: shop\nclusters:\n  web:\n    services: [web:1.0]\n    sla:\n      type: escalation_only\n      escalations: [{type: scale_instances, target: db, minimum: 1, maximum: 3, scale_by: 1}]\n"
        ),
        read_case!(NoServiceError, Blueprint, "clusters.web.services", "name: shop\nclusters:\n  web:\n    services: []\n"),
        read_case!(
            MissingEnvironmentVariableError,
            Blueprint,
            "clusters.web.services[0].environment_variables.KEY",
            "name: shop\nclusters:\n  web:\n    services:\n      - breed: web:1.0\n        environment_variables: {KEY: ~}\n"
        ),
        read_case!(IllegalGatewayStickyValue, Gateway, "sticky", "name: shop\nport: 9050\nsticky: server\nroutes: shop/web\n"),
        read_case!(IllegalGatewayVirtualHosts, Gateway, "virtual_hosts", "name: shop\nport: 9050\nvirtual_hosts: {host: x}\nroutes: shop/web\n"),
        read_case!(
            UnresolvedServiceRouteError,
            Blueprint,
            "clusters.web.gateways.http.routes.api:1.0",
            "name: shop\nclusters:\n  web:\n    gateways:\n      http:\n        routes: {api:1.0: {weight: 100%}}\n    services: [web:1.0]\n"
        ),
        read_case!(UnsupportedGatewayNameError, Gateway, "name", "name: a/b/c/d/e\nport: 9050\nroutes: shop/web\n"),
        read_case!(UnsupportedRoutePathError, Gateway, "routes.a/b/c/d/e", "name: shop\nport: 9050\nroutes: {a/b/c/d/e: {weight: 100%}}\n"),
        read_case!(StickyPortTypeError, Gateway, "sticky", "name: shop\nport: 9050/tcp\nsticky: route\nroutes: shop/db\n"),
        read_case!(
            ConditionPortTypeError,
            Gateway,
            "routes.shop/db.condition",
            "name: shop\nport: 9050/tcp\nroutes:\n  shop/db: {condition: has cookie beta}\n"
        ),
        read_case!(
            IllegalAnonymousRoutingPortMappingError,
            Blueprint,
            "clusters.web.gateways",
            "name: shop\nclusters:\n  web:\n    gateways: {sticky: route}\n    breed: {name: web:1.0, deployable: web, ports: {http: 8080, admin: 9090}}\n"
        ),
        read_case!(
            GatewayRouteWeightError,
            Gateway,
            "routes",
            "name: shop\nport: 9050\nroutes:\n  shop/v1/web: {weight: 50%}\n  shop/v2/web: {weight: 60%}\n"
        ),
        read_case!(
            GatewayRouteConditionStrengthError,
            Gateway,
            "routes.shop/v2/web.condition_strength",
            "name: shop\nport: 9050\nroutes:\n  shop/v2/web: {condition: has cookie beta, condition_strength: 101%}\n"
        ),
        read_case!(
            DuplicateGatewayPortError,
            Blueprint,
            "gateways.9050/tcp",
            "name: shop\ngateways:\n  9050/http: web/http\n  9050/tcp: web/admin\nclusters:\n  web: web:1.0\n"
        ),
        read_case!(CanaryPolicyError, Gateway, "canary.canary", "name: shop\nport: 9050\nroutes:\n  sava/sava/sava:1.0/web: {weight: 100%}\n  sava/sava/sava:1.1/web: {weight: 0%}\ncanary:\n  baseline: sava/sava/sava:1.0/web\n  canary: sava/sava/sava:2.0/web\n"),
        read_case!(UnsupportedPathRewriteError, Gateway, "routes.shop/web.rewrites[0].path", "name: shop\nport: 9050\nroutes:\n  shop/web:\n    rewrites: [{path: /new-path}]\n"),
        read_case!(
            UnresolvedPortReferenceError,
            Breed,
            "health_checks[0].port",
            "name: web:1.0\ndeployable: web\nports: {http: 8080}\nhealth_checks: {path: /, port: admin, initial_delay: 1s, timeout: 1s, interval: 5s, failures: 3}\n"
        ),
        read_case!(
            NegativeFailuresNumberError,
            Breed,
            "health_checks.failures",
            "name: web:1.0\ndeployable: web\nports: {http: 8080}\nhealth_checks: {path: /, port: http, initial_delay: 1s, timeout: 1s, interval: 5s, failures: -1}\n"
        ),
        read_case!(UnsupportedProtocolError, Breed, "ports.dns", "name: dns:1.0\ndeployable: dns\nports: {dns: 53/udp}\n"),
        read_case!(InvalidGatewayPortError, Gateway, "port", "name: shop\nport: 70000\nroutes: shop/web\n"),
        read_case!(ConditionSyntaxError, Gateway, "routes.shop/web.condition", "name: shop\nport: 9050\nroutes:\n  shop/web: {condition: \"user-agent == \"}\n"),
        read_case!(
            ConditionTooComplexError,
            Condition,
            "condition",
            "name: huge\ncondition: (has cookie a or has cookie b) and (has cookie c or has cookie d) and (has cookie e or has cookie f) and (has cookie g or has cookie h) and (has cookie i or has cookie j) and (has cookie k or has cookie l) and (has cookie m or has cookie n) and (has cookie o or has cookie p) and (has cookie q or has cookie r)\n"
        ),
        read_case!(
            UndefinedStateIntentionError,
            Deployment,
            "clusters.web.services[0].status.intention",
            "name: shop\nclusters:\n  web:\n    services:\n      - status: {intention: Deploy, since: '2017-06-01T10:00:00Z', phase: {name: Done, since: '2017-06-01T10:00:00Z'}}\n        breed: {name: web:1.0, deployable: web}\n"
        ),
        read_case!(
            UndefinedStateStepError,
            Deployment,
            "clusters.web.services[0].status.phase.name",
            "name: shop\nclusters:\n  web:\n    services:\n      - status: {intention: Deployment, since: '2017-06-01T10:00:00Z', phase: {name: Deployed, since: '2017-06-01T10:00:00Z'}}\n        breed: {name: web:1.0, deployable: web}\n"
        ),
        read_case!(UndefinedWorkflowScheduleError, Workflow, "schedule", "name: metrics\nbreed: metrics\nschedule: hourly\n"),
        read_case!(IllegalWorkflowSchedulePeriod, Workflow, "schedule.time", "name: metrics\nbreed: metrics\nschedule: {time: every minute}\n"),
        read_case!(IllegalWorkflowStatus, Workflow, "status", "name: metrics\nbreed: metrics\nschedule: daemon\nstatus: paused\n"),
        call_case!(NoTagEventError, "tags", "publishing `tags: []`", || {
            let e = dsl::read_event("tags: []\nvalue: 1\n")?;
            dsl::validate::event(&e)
        }),
        call_case!(EventTimestampError, "timestamp", "tags: [a]\ntimestamp: yesterday\n", || {
            dsl::read_event("tags: [a]\ntimestamp: yesterday\n").map(drop)
        }),
        call_case!(EventQueryTimeError, "timestamp", "tags: [a]\ntimestamp: {lt: now, lte: now}\n", || {
            dsl::read_event_query("tags: [a]\ntimestamp: {lt: now, lte: now}\n").map(drop)
        }),
        call_case!(UnsupportedAggregatorError, "aggregator.type", "tags: [a]\naggregator: {type: median}\n", || {
            dsl::read_event_query("tags: [a]\naggregator: {type: median}\n").map(drop)
        }),
        call_case!(EventTypeError, "type", "tags: [a]\ntype: not valid!\n", || dsl::read_event("tags: [a]\ntype: not valid!\n").map(drop)),
        call_case!(EmptyImportError, "import[0]", "name: web:1.0\nimport: \"\"\n", || import("name: web:1.0\nimport: \"\"\n")),
        call_case!(ImportDefinitionError, "import[0]", "name: web:1.0\nimport: scalar-template   # whose definition is not a map\n", || {
            import("name: web:1.0\nimport: scalar-template\n")
        }),
        call_case!(ImportReferenceError, "import[0]", "name: web:1.0\nimport: a/b/c\n", || import("name: web:1.0\nimport: a/b/c\n")),
        call_case!(UnexpectedArtifact, "kind", "---\nkind: widgets\nname: x\n", || dsl::read_all("---\nkind: widgets\nname: x\n").map(drop)),
    ];
    all.extend(operations::cases());
    all
}

fn import(text: &str) -> Result<(), DslError> {
    let doc = dsl::single_document(Kind::Breed, text)?;
    let id = dsl::ArtifactId {
        kind: Kind::Breed,
        name: "web:1.0".into(),
    };
    dsl::import::resolve_imports(&doc, &id, |r| match r.name.as_str() {
        "scalar-template" => Some(serde_json::json!("just text")),
        _ => Some(serde_json::json!({"deployable": "web"})),
    })
    .map(drop)
}

/// docs/errors.md, rendered from the cases.
pub fn render_doc() -> String {
    let mut out = String::from(
        "# Error catalogue\n\nEvery validation error names the artifact (kind and name), the field path inside it, the line and \
column when it comes from a document, says what is wrong and what to do, and carries one of these codes. The codes \
keep the original Vamp's class names where it had one; the entries marked *new* are this project's. The API \
answers them with HTTP 400 and `{\"message\": …, \"code\": …, \"path\": …}`.\n\nThis page is generated from \
`vamp-core/tests/catalogue/` (`VAMP_UPDATE_DOCS=1 cargo test -p vamp-core --test errors`); each example is a \
test.\n\n",
    );
    let all = cases();
    for code in vamp_core::dsl::ErrorCode::ALL {
        let Some(case) = all.iter().find(|c| c.code == code.name()) else {
            continue;
        };
        let new = if NEW_CODES.contains(&case.code) {
            " *(new)*"
        } else {
            ""
        };
        out.push_str(&format!("## {}{new}\n\n{}\n\n", case.code, code.description()));
        if case.example.contains('\n') {
            out.push_str(&format!("```yaml\n{}```\n\n", case.example));
        } else {
            out.push_str(&format!("Example: {}\n\n", case.example));
        }
        if let Err(e) = (case.run)() {
            out.push_str(&format!("> {e}\n\n"));
        }
    }
    out
}

const NEW_CODES: &[&str] = &[
    "InvalidValueError",
    "CanaryPolicyError",
    "ConditionSyntaxError",
    "ConditionTooComplexError",
];
