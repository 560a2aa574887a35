//! Behaviour of the deployment operations (attach, merge, slice, export, status) and of reconcile planning.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use vamp_core::dsl::ErrorCode;
use vamp_core::model::{
    Argument, Blueprint, Breed, Cluster, Condition, Deployable, Deployment, EnvironmentVariable, Gateway,
    GatewayPort, GatewayRoute, Health, HealthCheck, Instance, Intention, Percentage, Phase, Port, Ref, Route,
    Scale, Seconds, Service, ServiceStatus, Sticky,
};
use vamp_core::ops::deployment::{
    as_blueprint, attach, effective_health_checks, fail_on_timeout, merge, remove_undeployed, slice,
    timed_out, DeploymentDefaults, MapSource, Timeouts,
};
use vamp_core::ErrorKind;

// ---------------------------------------------------------------------------------------------------------------
// Builders

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_500_000_000 + secs, 0).single().unwrap()
}

fn breed(name: &str, ports: &[(&str, &str)]) -> Breed {
    let mut b = Breed::new(name, Deployable::docker(format!("acme/{name}")));
    b.ports = ports.iter().map(|(n, v)| Port::parse(n, v).unwrap()).collect();
    b
}

fn var(name: &str, value: Option<&str>) -> EnvironmentVariable {
    EnvironmentVariable::new(name, value.map(str::to_string))
}

fn arg(key: &str, value: &str) -> Argument {
    Argument {
        key: key.into(),
        value: value.into(),
    }
}

fn source() -> MapSource {
    let mut api = breed("api:1", &[("http", "8080")]);
    api.dependencies.insert("db".into(), Ref::Named("db:*".into()));
    let mut cfg = breed("cfg:1", &[("web", "80")]);
    cfg.environment_variables = vec![var("TOKEN", None), var("MODE", Some("prod"))];
    MapSource::new()
        .with_breed(breed("web:1", &[("web", "8080")]))
        .with_breed(breed("web:2", &[("web", "8080")]))
        .with_breed(breed("db:1", &[("pg", "5432/tcp")]))
        .with_breed(api)
        .with_breed(cfg)
        .with_breed(breed("multi:1", &[("web", "80"), ("admin", "9090")]))
        .with_scale("small", Scale::new(0.2, 256.0, 2))
}

fn svc(breed: &str) -> Service {
    Service::new(Ref::Named(breed.into()))
}

fn scaled(breed: &str, instances: u32) -> Service {
    let mut s = svc(breed);
    s.scale = Some(Ref::Inline(Scale::new(0.5, 512.0, instances)));
    s
}

fn blueprint(name: &str, clusters: Vec<Cluster>) -> Blueprint {
    Blueprint {
        name: name.into(),
        metadata: Default::default(),
        gateways: Vec::new(),
        clusters,
        environment_variables: Vec::new(),
        dialects: Default::default(),
    }
}

fn route(path: &str, weight: Option<u8>) -> GatewayRoute {
    let mut r = GatewayRoute::new(path);
    if let Ref::Inline(inline) = &mut r.route {
        inline.weight = weight.map(Percentage);
    }
    r
}

fn gateway(name: &str, routes: Vec<GatewayRoute>) -> Gateway {
    let mut g = Gateway::new(name, GatewayPort::default());
    g.routes = routes;
    g
}

fn external(port: u16, routes: &[&str]) -> Gateway {
    let mut g = Gateway::new(
        port.to_string(),
        GatewayPort {
            number: port,
            ..Default::default()
        },
    );
    g.routes = routes.iter().map(|r| GatewayRoute::new(*r)).collect();
    g
}

fn attach_at(bp: &Blueprint, now: DateTime<Utc>) -> Deployment {
    attach(bp, "shop", &source(), &DeploymentDefaults::default(), now).unwrap()
}

fn deployed(bp: &Blueprint) -> Deployment {
    merge(None, &attach_at(bp, t(0)), t(0)).unwrap()
}

/// `d` with every service `Deployment/Done` since t(10).
fn all_done(mut d: Deployment) -> Deployment {
    for c in &mut d.clusters {
        for s in &mut c.services {
            s.status = ServiceStatus::initiated(Intention::Deployment, t(0)).with_phase(Phase::Done, t(10));
        }
    }
    d
}

fn service<'a>(d: &'a Deployment, cluster: &str, breed: &str) -> &'a vamp_core::model::DeploymentService {
    d.cluster(cluster).and_then(|c| c.service(breed)).unwrap()
}

fn service_mut<'a>(
    d: &'a mut Deployment,
    cluster: &str,
    breed: &str,
) -> &'a mut vamp_core::model::DeploymentService {
    d.cluster_mut(cluster)
        .unwrap()
        .services
        .iter_mut()
        .find(|s| s.breed.name == breed)
        .unwrap()
}

fn canary() -> Blueprint {
    let mut web = Cluster::new("frontend", vec![scaled("web:1", 2), scaled("web:2", 1)]);
    web.gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(90)), route("web:2", Some(10))],
    )];
    blueprint("shop", vec![web, Cluster::new("db", vec![svc("db:1")])])
}

fn dsl_code(e: vamp_core::Error) -> ErrorCode {
    e.dsl().map(|d| d.code).unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// attach

#[test]
fn attach_expands_breed_references_through_the_source() {
    let d = attach_at(&canary(), t(0));
    let web = service(&d, "frontend", "web:1");
    assert_eq!(web.breed.deployable.definition, "acme/web:1");
    assert_eq!(web.breed.port("web").and_then(|p| p.number()), Some(8080));
}

#[test]
fn attach_keeps_inline_breeds() {
    let mut inline = breed("custom:1", &[("web", "81")]);
    inline.deployable = Deployable::docker("me/custom");
    let bp = blueprint(
        "shop",
        vec![Cluster::new("c", vec![Service::new(Ref::Inline(inline.clone()))])],
    );
    assert_eq!(service(&attach_at(&bp, t(0)), "c", "custom:1").breed, inline);
}

#[test]
fn unknown_breed_is_not_found() {
    let bp = blueprint("shop", vec![Cluster::new("c", vec![svc("nope:1")])]);
    let err = attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().starts_with("Artifact cannot be found: 'nope:1'."),
        "{}",
        err.message()
    );
}

#[test]
fn unknown_scale_is_not_found() {
    let mut s = svc("web:1");
    s.scale = Some(Ref::Named("huge".into()));
    let bp = blueprint("shop", vec![Cluster::new("c", vec![s])]);
    let err = attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("'huge'"));
}

#[test]
fn service_without_scale_gets_the_default_scale() {
    let defaults = DeploymentDefaults {
        scale: Scale::new(0.2, 256.0, 3),
        arguments: Vec::new(),
    };
    let bp = blueprint("shop", vec![Cluster::new("c", vec![svc("web:1")])]);
    let d = attach(&bp, "shop", &source(), &defaults, t(0)).unwrap();
    assert_eq!(
        service(&d, "c", "web:1").scale.as_ref().map(|s| s.instances),
        Some(3)
    );
}

#[test]
fn scale_reference_is_expanded() {
    let mut s = svc("web:1");
    s.scale = Some(Ref::Named("small".into()));
    let d = attach_at(&blueprint("shop", vec![Cluster::new("c", vec![s])]), t(0));
    let scale = service(&d, "c", "web:1").scale.clone().unwrap();
    assert!(scale.same_resources(&Scale::new(0.2, 256.0, 2)));
    assert_eq!(scale.name, "small");
}

#[test]
fn attached_services_are_deployment_initiated_at_now() {
    let d = attach_at(&canary(), t(42));
    for s in d.clusters.iter().flat_map(|c| &c.services) {
        assert_eq!(s.status, ServiceStatus::initiated(Intention::Deployment, t(42)));
    }
}

#[test]
fn arguments_are_defaults_then_breed_then_service_keeping_the_last_privileged() {
    let mut b = breed("argy:1", &[]);
    b.arguments = vec![arg("privileged", "false"), arg("label", "tier=web")];
    let mut s = Service::new(Ref::Inline(b));
    s.arguments = vec![arg("privileged", "true"), arg("cap-add", "NET_ADMIN")];
    let defaults = DeploymentDefaults {
        scale: Scale::default(),
        arguments: vec![arg("privileged", "false"), arg("log-driver", "json")],
    };
    let d = attach(
        &blueprint("shop", vec![Cluster::new("c", vec![s])]),
        "shop",
        &source(),
        &defaults,
        t(0),
    )
    .unwrap();
    assert_eq!(
        service(&d, "c", "argy:1").arguments,
        vec![
            arg("log-driver", "json"),
            arg("label", "tier=web"),
            arg("privileged", "true"),
            arg("cap-add", "NET_ADMIN")
        ]
    );
}

#[test]
fn blueprint_gateways_are_renamed_and_their_routes_prefixed() {
    let mut bp = canary();
    bp.gateways = vec![external(9050, &["frontend/web", "[10.0.0.1:80]"])];
    let d = attach_at(&bp, t(0));
    let g = &d.gateways[0];
    assert_eq!(g.name, "shop/9050");
    assert_eq!(g.port.number, 9050);
    let paths: Vec<&str> = g.routes.iter().map(|r| r.path.0.as_str()).collect();
    assert_eq!(paths, ["shop/frontend/web", "[10.0.0.1:80]"]);
}

#[test]
fn cluster_gateway_settings_are_kept() {
    let mut bp = canary();
    if let Some(g) = bp.clusters[0].gateways.first_mut() {
        g.sticky = Some(Sticky::Route);
    }
    let d = attach_at(&bp, t(0));
    let g = &d.cluster("frontend").unwrap().gateways[0];
    assert_eq!((g.name.as_str(), g.sticky), ("web", Some(Sticky::Route)));
    assert_eq!(
        g.route("web:1").and_then(|r| r.inline()).and_then(|r| r.weight),
        Some(Percentage(90))
    );
}

#[test]
fn stored_routes_are_expanded_and_must_exist() {
    let mut bp = canary();
    bp.clusters[0].gateways[0].routes[1].route = Ref::Named("canary-10".into());
    let src = source().with_route(
        "canary-10",
        Route {
            weight: Some(Percentage(10)),
            ..Route::default()
        },
    );
    let d = attach(&bp, "shop", &src, &DeploymentDefaults::default(), t(0)).unwrap();
    let r = d.cluster("frontend").unwrap().gateways[0].route("web:2").unwrap();
    assert_eq!(r.inline().and_then(|r| r.weight), Some(Percentage(10)));

    let err = attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn referenced_conditions_must_exist_and_stay_references() {
    let mut bp = canary();
    if let Ref::Inline(r) = &mut bp.clusters[0].gateways[0].routes[1].route {
        r.condition = Some(Ref::Named("firefox".into()));
    }
    assert!(attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).is_err());
    let src = source().with_condition("firefox", Condition::inline("user-agent == Firefox"));
    let d = attach(&bp, "shop", &src, &DeploymentDefaults::default(), t(0)).unwrap();
    let r = d.cluster("frontend").unwrap().gateways[0]
        .route("web:2")
        .and_then(|r| r.inline())
        .unwrap();
    assert_eq!(r.condition, Some(Ref::Named("firefox".into())));
}

#[test]
fn anonymous_cluster_gateway_takes_the_only_port() {
    let mut c = Cluster::new("frontend", vec![svc("web:1")]);
    c.gateways = vec![gateway("", vec![route("web:1", Some(100))])];
    let d = attach_at(&blueprint("shop", vec![c]), t(0));
    assert_eq!(d.cluster("frontend").unwrap().gateways[0].name, "web");

    let mut c = Cluster::new("m", vec![svc("multi:1")]);
    c.gateways = vec![gateway("", vec![])];
    let err = attach(
        &blueprint("shop", vec![c]),
        "shop",
        &source(),
        &DeploymentDefaults::default(),
        t(0),
    )
    .unwrap_err();
    assert_eq!(dsl_code(err), ErrorCode::IllegalAnonymousRoutingPortMappingError);
}

#[test]
fn dependency_alias_maps_to_the_cluster_running_a_matching_breed() {
    let bp = blueprint(
        "shop",
        vec![
            Cluster::new("api", vec![svc("api:1")]),
            Cluster::new("store", vec![svc("db:1")]),
        ],
    );
    let d = attach_at(&bp, t(0));
    assert_eq!(
        service(&d, "api", "api:1")
            .dependencies
            .get("db")
            .map(String::as_str),
        Some("store")
    );
}

#[test]
fn blueprint_variable_must_name_a_cluster_variable() {
    let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    bp.environment_variables = vec![var("cfg.TOKEN", Some("t"))];
    assert!(attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).is_ok());
    for bad in ["nope.TOKEN", "cfg.NOPE", "TOKEN"] {
        bp.environment_variables = vec![var(bad, Some("t"))];
        let err = attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).unwrap_err();
        assert_eq!(
            dsl_code(err),
            ErrorCode::UnresolvedEnvironmentVariableError,
            "{bad}"
        );
    }
}

#[test]
fn references_lists_what_to_fetch_once() {
    use vamp_core::model::Kind;
    let mut bp = canary();
    bp.clusters.push(Cluster::new("again", vec![svc("web:1")]));
    let refs = vamp_core::ops::deployment::references(&bp);
    assert_eq!(
        refs,
        vec![
            (Kind::Breed, "web:1".to_string()),
            (Kind::Breed, "web:2".into()),
            (Kind::Breed, "db:1".into())
        ]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// merge

#[test]
fn merge_into_nothing_creates_the_deployment() {
    let d = deployed(&canary());
    assert_eq!(d.name, "shop");
    let names: Vec<&str> = d.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["frontend", "db"]);
}

#[test]
fn merge_keeps_unmentioned_clusters_untouched() {
    let existing = all_done(deployed(&canary()));
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("cache", vec![svc("cfg:1")])]),
        t(100),
    );
    let mut request = request;
    request.environment_variables = vec![var("cache.TOKEN", Some("x"))];
    let merged = merge(Some(&existing), &request, t(100)).unwrap();
    assert_eq!(merged.cluster("frontend"), existing.cluster("frontend"));
    assert_eq!(merged.cluster("db"), existing.cluster("db"));
    assert!(merged.cluster("cache").is_some());
}

#[test]
fn unchanged_service_keeps_its_identity_status_and_instances() {
    let mut existing = all_done(deployed(&canary()));
    let instance = Instance {
        name: "i1".into(),
        host: "10.0.0.1".into(),
        ports: IndexMap::new(),
        deployed: true,
    };
    service_mut(&mut existing, "frontend", "web:1").instances = vec![instance.clone()];
    let merged = merge(Some(&existing), &attach_at(&canary(), t(100)), t(100)).unwrap();
    let s = service(&merged, "frontend", "web:1");
    assert_eq!(s.status.phase, Phase::Done);
    assert_eq!(s.status.phase_since, t(10));
    assert_eq!(s.instances, vec![instance]);
}

#[test]
fn changed_scale_resets_the_status() {
    let existing = all_done(deployed(&canary()));
    let mut bp = canary();
    bp.clusters[0].services[0] = scaled("web:1", 5);
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    let s = service(&merged, "frontend", "web:1");
    assert_eq!(s.status, ServiceStatus::initiated(Intention::Deployment, t(100)));
    assert_eq!(s.scale.as_ref().map(|s| s.instances), Some(5));
    assert_eq!(service(&merged, "frontend", "web:2").status.phase, Phase::Done);
}

#[test]
fn omitted_scale_keeps_the_scale_but_counts_as_different() {
    let existing = all_done(deployed(&canary()));
    let mut request = attach_at(&canary(), t(100));
    service_mut(&mut request, "frontend", "web:1").scale = None;
    let merged = merge(Some(&existing), &request, t(100)).unwrap();
    let s = service(&merged, "frontend", "web:1");
    assert_eq!(s.scale.as_ref().map(|s| s.instances), Some(2));
    assert_eq!(s.status.phase, Phase::Initiated);
}

#[test]
fn changed_cluster_gateways_reset_status_and_replace_gateways() {
    let existing = all_done(deployed(&canary()));
    let mut bp = canary();
    bp.clusters[0].gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(50)), route("web:2", Some(50))],
    )];
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    let c = merged.cluster("frontend").unwrap();
    assert!(c.services.iter().all(|s| s.status.phase == Phase::Initiated));
    assert_eq!(
        c.gateways[0]
            .route("web:2")
            .and_then(|r| r.inline())
            .and_then(|r| r.weight),
        Some(Percentage(50))
    );
    assert_eq!(service(&merged, "db", "db:1").status.phase, Phase::Done);
}

#[test]
fn cluster_gateways_are_kept_when_the_request_gives_none() {
    let existing = all_done(deployed(&canary()));
    let mut bp = canary();
    bp.clusters[0].gateways.clear();
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    assert_eq!(
        merged.cluster("frontend").unwrap().gateways,
        existing.cluster("frontend").unwrap().gateways
    );
    assert_eq!(service(&merged, "frontend", "web:1").status.phase, Phase::Done);
}

fn check(path: &str, port: &str) -> HealthCheck {
    HealthCheck {
        path: path.into(),
        port: port.into(),
        initial_delay: Seconds(5),
        timeout: Seconds(2),
        interval: Seconds(10),
        failures: 3,
        protocol: "HTTP".into(),
    }
}

#[test]
fn health_checks_are_replaced_by_the_request() {
    let mut bp = canary();
    bp.clusters[0].services[0].health_checks = Some(vec![check("/old", "web")]);
    let existing = all_done(deployed(&bp));
    bp.clusters[0].services[0].health_checks = Some(vec![check("/new", "web")]);
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    assert_eq!(
        service(&merged, "frontend", "web:1").health_checks,
        Some(vec![check("/new", "web")])
    );
}

#[test]
fn service_dialects_are_merged_with_the_request_winning() {
    let mut bp = canary();
    bp.clusters[0].services[0]
        .dialects
        .insert("docker".into(), serde_json::json!({"a": 1}));
    bp.clusters[0].services[0]
        .dialects
        .insert("marathon".into(), serde_json::json!({"m": 1}));
    let existing = deployed(&bp);
    let mut bp2 = canary();
    bp2.clusters[0].services[0]
        .dialects
        .insert("docker".into(), serde_json::json!({"a": 2}));
    let merged = merge(Some(&existing), &attach_at(&bp2, t(100)), t(100)).unwrap();
    let dialects = &service(&merged, "frontend", "web:1").dialects;
    assert_eq!(dialects.get("docker"), Some(&serde_json::json!({"a": 2})));
    assert_eq!(dialects.get("marathon"), Some(&serde_json::json!({"m": 1})));
}

#[test]
fn new_services_are_appended() {
    let existing = all_done(deployed(&blueprint(
        "shop",
        vec![Cluster::new("frontend", vec![svc("web:1")])],
    )));
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("frontend", vec![svc("web:2")])]),
        t(100),
    );
    let merged = merge(Some(&existing), &request, t(100)).unwrap();
    let c = merged.cluster("frontend").unwrap();
    let names: Vec<&str> = c.services.iter().map(|s| s.breed.name.as_str()).collect();
    assert_eq!(names, ["web:1", "web:2"]);
    assert_eq!(c.services[0].status.phase, Phase::Done);
    assert_eq!(
        c.services[1].status,
        ServiceStatus::initiated(Intention::Deployment, t(100))
    );
}

#[test]
fn sla_is_replaced_only_when_given() {
    let mut bp = canary();
    bp.clusters[1].sla = Some(Ref::Named("fast".into()));
    let src = source().with_sla(
        "fast",
        vamp_core::model::Sla {
            name: "fast".into(),
            metadata: Default::default(),
            kind: vamp_core::model::SlaKind::EscalationOnly,
            escalations: vec![],
        },
    );
    let existing = merge(
        None,
        &attach(&bp, "shop", &src, &DeploymentDefaults::default(), t(0)).unwrap(),
        t(0),
    )
    .unwrap();
    let merged = merge(Some(&existing), &attach_at(&canary(), t(100)), t(100)).unwrap();
    assert_eq!(merged.cluster("db").unwrap().sla, Some(Ref::Named("fast".into())));
    assert!(
        attach(&bp, "shop", &source(), &DeploymentDefaults::default(), t(0)).is_err(),
        "the SLA must exist"
    );
}

#[test]
fn deployment_gateways_are_merged_by_port() {
    let mut bp = canary();
    bp.gateways = vec![
        external(9050, &["frontend/web"]),
        external(9051, &["frontend/web"]),
    ];
    let existing = deployed(&bp);
    let mut bp2 = canary();
    let mut g = external(9051, &["frontend/web"]);
    g.virtual_hosts = vec!["admin.shop".into()];
    bp2.gateways = vec![g, external(9052, &["frontend/web"])];
    let merged = merge(Some(&existing), &attach_at(&bp2, t(100)), t(100)).unwrap();
    let ports: Vec<u16> = merged.gateways.iter().map(|g| g.port.number).collect();
    assert_eq!(ports, [9050, 9051, 9052]);
    assert_eq!(merged.gateways[1].virtual_hosts, ["admin.shop"]);
}

#[test]
fn variables_metadata_and_dialects_merge_with_the_request_winning() {
    let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    bp.environment_variables = vec![var("cfg.TOKEN", Some("one")), var("cfg.MODE", Some("dev"))];
    bp.metadata.insert("owner".into(), "a".into());
    bp.metadata.insert("team".into(), "x".into());
    bp.dialects.insert("docker".into(), serde_json::json!(1));
    let existing = deployed(&bp);
    bp.environment_variables = vec![var("cfg.TOKEN", Some("two"))];
    bp.metadata = [("owner".to_string(), serde_json::json!("b"))]
        .into_iter()
        .collect();
    bp.dialects = [("k8s".to_string(), serde_json::json!(2))].into_iter().collect();
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    let vars: Vec<(&str, Option<&str>)> = merged
        .environment_variables
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_deref()))
        .collect();
    assert_eq!(vars, [("cfg.TOKEN", Some("two")), ("cfg.MODE", Some("dev"))]);
    assert_eq!(merged.metadata.get("owner"), Some(&serde_json::json!("b")));
    assert_eq!(merged.metadata.get("team"), Some(&serde_json::json!("x")));
    assert_eq!(merged.dialects.len(), 2);
}

#[test]
fn changed_cluster_variable_redeploys_the_services_it_reaches() {
    let mut bp = blueprint(
        "shop",
        vec![
            Cluster::new("cfg", vec![svc("cfg:1")]),
            Cluster::new("db", vec![svc("db:1")]),
        ],
    );
    bp.environment_variables = vec![var("cfg.TOKEN", Some("one"))];
    let existing = all_done(deployed(&bp));
    bp.environment_variables = vec![var("cfg.TOKEN", Some("two"))];
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    assert_eq!(service(&merged, "cfg", "cfg:1").status.phase, Phase::Initiated);
    assert_eq!(service(&merged, "db", "db:1").status.phase, Phase::Done);
}

#[test]
fn merged_services_lose_interpolated_values() {
    let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    bp.clusters[0].services[0].environment_variables = vec![var("TOKEN", Some("t"))];
    let mut existing = all_done(deployed(&bp));
    service_mut(&mut existing, "cfg", "cfg:1").environment_variables[0].interpolated = Some("t".into());
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    let s = service(&merged, "cfg", "cfg:1");
    assert_eq!(s.environment_variables[0].interpolated, None);
    assert_eq!(s.status.phase, Phase::Done, "same environment: no redeploy");
}

#[test]
fn a_resolved_environment_is_not_a_change() {
    let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    bp.clusters[0].services[0].environment_variables = vec![var("TOKEN", Some("t"))];
    let mut existing = all_done(deployed(&bp));
    let resolved = |name: &str, value: &str| EnvironmentVariable {
        interpolated: Some(value.into()),
        ..var(name, Some(value))
    };
    service_mut(&mut existing, "cfg", "cfg:1").environment_variables =
        vec![resolved("TOKEN", "t"), resolved("MODE", "prod")];
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    assert_eq!(service(&merged, "cfg", "cfg:1").status.phase, Phase::Done);

    bp.clusters[0].services[0].environment_variables =
        vec![var("TOKEN", Some("t")), var("MODE", Some("debug"))];
    let merged = merge(Some(&existing), &attach_at(&bp, t(100)), t(100)).unwrap();
    assert_eq!(service(&merged, "cfg", "cfg:1").status.phase, Phase::Initiated);
}

#[test]
fn merge_brings_back_a_service_being_undeployed_and_retries_a_failed_one() {
    let mut existing = all_done(deployed(&canary()));
    service_mut(&mut existing, "frontend", "web:1").status =
        ServiceStatus::initiated(Intention::Undeployment, t(20));
    service_mut(&mut existing, "db", "db:1").status =
        ServiceStatus::initiated(Intention::Deployment, t(0)).with_phase(Phase::Failed("boom".into()), t(30));
    let merged = merge(Some(&existing), &attach_at(&canary(), t(100)), t(100)).unwrap();
    for (c, b) in [("frontend", "web:1"), ("db", "db:1")] {
        assert_eq!(
            service(&merged, c, b).status,
            ServiceStatus::initiated(Intention::Deployment, t(100)),
            "{b}"
        );
    }
}

#[test]
fn a_breed_runs_in_one_cluster_only() {
    let existing = deployed(&canary());
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("other", vec![svc("db:1")])]),
        t(100),
    );
    let err = merge(Some(&existing), &request, t(100)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NonUniqueBreedReferenceError);
    assert_eq!(err.path, "clusters.other.services[0].breed");
}

#[test]
fn a_breed_being_undeployed_may_run_elsewhere() {
    let mut existing = deployed(&canary());
    service_mut(&mut existing, "db", "db:1").status =
        ServiceStatus::initiated(Intention::Undeployment, t(50));
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("other", vec![svc("db:1")])]),
        t(100),
    );
    assert!(merge(Some(&existing), &request, t(100)).is_ok());
}

#[test]
fn dependencies_must_be_satisfied_by_the_deployment() {
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("api", vec![svc("api:1")])]),
        t(0),
    );
    let err = merge(None, &request, t(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedDependencyError);
    assert!(
        err.message.contains("'db:*'") && err.message.contains("'api:1'"),
        "{}",
        err.message
    );
}

#[test]
fn a_dependency_may_be_satisfied_by_a_cluster_already_deployed() {
    let existing = deployed(&blueprint("shop", vec![Cluster::new("store", vec![svc("db:1")])]));
    let request = attach_at(
        &blueprint("shop", vec![Cluster::new("api", vec![svc("api:1")])]),
        t(100),
    );
    let merged = merge(Some(&existing), &request, t(100)).unwrap();
    assert_eq!(
        service(&merged, "api", "api:1")
            .dependencies
            .get("db")
            .map(String::as_str),
        Some("store")
    );
}

#[test]
fn placeholders_must_be_filled_by_the_service_or_the_cluster_scope() {
    let bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    let err = merge(None, &attach_at(&bp, t(0)), t(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedVariableValueError);
    assert!(err
        .message
        .contains("Unresolved value of variable 'TOKEN' for breed 'cfg:1'."));

    let mut by_service = bp.clone();
    by_service.clusters[0].services[0].environment_variables = vec![var("TOKEN", Some("s"))];
    assert!(merge(None, &attach_at(&by_service, t(0)), t(0)).is_ok());

    let mut by_cluster = bp.clone();
    by_cluster.environment_variables = vec![var("cfg.TOKEN", Some("c"))];
    assert!(merge(None, &attach_at(&by_cluster, t(0)), t(0)).is_ok());

    let mut long_form = attach_at(&bp, t(0));
    long_form.environment_variables = vec![var("cfg.environment_variables.TOKEN", Some("c"))];
    assert!(merge(None, &long_form, t(0)).is_ok());
}

#[test]
fn service_variables_must_be_declared_by_the_breed() {
    let mut bp = canary();
    bp.clusters[1].services[0].environment_variables = vec![var("UNKNOWN", Some("x"))];
    let err = merge(None, &attach_at(&bp, t(0)), t(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedDependencyInTraitValueError);
}

#[test]
fn weights_must_total_100() {
    let mut bp = canary();
    bp.clusters[0].gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(60)), route("web:2", Some(30))],
    )];
    let err = merge(None, &attach_at(&bp, t(0)), t(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnsupportedRouteWeight);
    assert!(err.message.starts_with(
        "Total route weight for deployment 'shop' and cluster 'frontend' must be either 100% or 0%, not 90%"
    ));
    assert_eq!(err.path, "clusters.frontend.gateways.web");
}

#[test]
fn weightless_services_take_the_rest_and_no_weights_pass() {
    let mut bp = canary();
    bp.clusters[0].gateways = vec![gateway("web", vec![route("web:1", Some(60))])];
    assert!(
        merge(None, &attach_at(&bp, t(0)), t(0)).is_ok(),
        "web:2 takes 40%"
    );
    bp.clusters[0].gateways.clear();
    assert!(
        merge(None, &attach_at(&bp, t(0)), t(0)).is_ok(),
        "no weights anywhere"
    );
}

#[test]
fn weights_over_100_fail_even_with_weightless_services() {
    let mut bp = canary();
    bp.clusters[0].services.push(svc("multi:1"));
    bp.clusters[0].gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(80)), route("web:2", Some(30))],
    )];
    let err = merge(None, &attach_at(&bp, t(0)), t(0)).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnsupportedRouteWeight);
    assert!(err.message.contains("not 110%"));
}

#[test]
fn merge_is_deterministic() {
    let existing = deployed(&canary());
    let a = merge(Some(&existing), &attach_at(&canary(), t(5)), t(5)).unwrap();
    let b = merge(Some(&existing), &attach_at(&canary(), t(5)), t(5)).unwrap();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------------------------
// slice

fn request_for(clusters: Vec<Cluster>) -> Deployment {
    attach_at(&blueprint("shop", clusters), t(200))
}

fn reweighted() -> Deployment {
    let mut bp = canary();
    bp.clusters[0].gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(100)), route("web:2", Some(0))],
    )];
    all_done(deployed(&bp))
}

#[test]
fn slice_marks_named_services_for_undeployment() {
    let existing = reweighted();
    let sliced = slice(
        &existing,
        &request_for(vec![Cluster::new("frontend", vec![svc("web:2")])]),
        t(200),
    )
    .unwrap();
    assert_eq!(
        service(&sliced, "frontend", "web:2").status,
        ServiceStatus::initiated(Intention::Undeployment, t(200))
    );
    assert_eq!(service(&sliced, "frontend", "web:1").status.phase, Phase::Done);
    assert_eq!(sliced.cluster("db"), existing.cluster("db"));
}

#[test]
fn slice_removes_the_routes_of_removed_services() {
    let sliced = slice(
        &reweighted(),
        &request_for(vec![Cluster::new("frontend", vec![svc("web:2")])]),
        t(200),
    )
    .unwrap();
    let g = &sliced.cluster("frontend").unwrap().gateways[0];
    assert!(g.route("web:2").is_none());
    assert!(g.route("web:1").is_some());
}

#[test]
fn slice_with_an_empty_request_changes_nothing() {
    let existing = reweighted();
    assert_eq!(
        slice(&existing, &Deployment::new("shop"), t(200)).unwrap(),
        existing
    );
    let unknown = request_for(vec![Cluster::new("nowhere", vec![svc("web:1")])]);
    assert_eq!(slice(&existing, &unknown, t(200)).unwrap(), existing);
}

#[test]
fn removing_a_service_that_carries_traffic_needs_a_reweight_first() {
    let existing = all_done(deployed(&canary()));
    let err = slice(
        &existing,
        &request_for(vec![Cluster::new("frontend", vec![svc("web:2")])]),
        t(200),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRouteWeight);
    assert!(err
        .message
        .contains("weight 90% of port 'web' is invalid; re-weight the remaining routes to 100% first"));
}

#[test]
fn removing_a_weightless_service_leaves_weights_intact() {
    let mut bp = canary();
    bp.clusters[0].services.push(svc("multi:1"));
    bp.clusters[0].gateways = vec![gateway(
        "web",
        vec![route("web:1", Some(100)), route("web:2", Some(0))],
    )];
    let existing = all_done(deployed(&bp));
    assert!(slice(
        &existing,
        &request_for(vec![Cluster::new("frontend", vec![svc("multi:1")])]),
        t(200)
    )
    .is_ok());
}

#[test]
fn slicing_a_whole_cluster_drops_its_gateways() {
    let existing = reweighted();
    let request = request_for(vec![Cluster::new("frontend", vec![svc("web:1"), svc("web:2")])]);
    let sliced = slice(&existing, &request, t(200)).unwrap();
    let c = sliced.cluster("frontend").unwrap();
    assert!(c.gateways.is_empty());
    assert!(c.services.iter().all(|s| s.status.is_undeploying()));
}

#[test]
fn a_dependency_in_use_cannot_be_removed() {
    let bp = blueprint(
        "shop",
        vec![
            Cluster::new("api", vec![svc("api:1")]),
            Cluster::new("store", vec![svc("db:1")]),
        ],
    );
    let existing = all_done(deployed(&bp));
    let err = slice(
        &existing,
        &request_for(vec![Cluster::new("store", vec![svc("db:1")])]),
        t(200),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedDependencyError);
    let everything = request_for(vec![
        Cluster::new("api", vec![svc("api:1")]),
        Cluster::new("store", vec![svc("db:1")]),
    ]);
    assert!(slice(&existing, &everything, t(200)).is_ok());
}

#[test]
fn a_delete_body_needs_no_stored_breeds() {
    use vamp_core::ops::deployment::slice_request;
    let existing = reweighted();
    let body = blueprint(
        "shop",
        vec![Cluster::new("frontend", vec![svc("web:2"), svc("deleted:9")])],
    );
    assert!(attach(&body, "shop", &source(), &DeploymentDefaults::default(), t(0)).is_err());
    let sliced = slice(&existing, &slice_request(&body), t(200)).unwrap();
    assert!(service(&sliced, "frontend", "web:2").status.is_undeploying());
    assert!(!service(&sliced, "frontend", "web:1").status.is_undeploying());
}

#[test]
fn undeployed_services_and_empty_clusters_are_removed() {
    let mut d = reweighted();
    service_mut(&mut d, "frontend", "web:2").status =
        ServiceStatus::initiated(Intention::Undeployment, t(0)).with_phase(Phase::Done, t(5));
    service_mut(&mut d, "db", "db:1").status =
        ServiceStatus::initiated(Intention::Undeployment, t(0)).with_phase(Phase::Done, t(5));
    service_mut(&mut d, "frontend", "web:1").status = ServiceStatus::initiated(Intention::Undeployment, t(0));
    let left = remove_undeployed(d).unwrap();
    assert!(left.cluster("db").is_none());
    let names: Vec<&str> = left
        .cluster("frontend")
        .unwrap()
        .services
        .iter()
        .map(|s| s.breed.name.as_str())
        .collect();
    assert_eq!(names, ["web:1"], "an undeployment in progress stays");
}

#[test]
fn a_deployment_without_clusters_is_gone() {
    let mut d = deployed(&blueprint("shop", vec![Cluster::new("db", vec![svc("db:1")])]));
    service_mut(&mut d, "db", "db:1").status =
        ServiceStatus::initiated(Intention::Undeployment, t(0)).with_phase(Phase::Done, t(5));
    assert_eq!(remove_undeployed(d), None);
}

// ---------------------------------------------------------------------------------------------------------------
// export

#[test]
fn attaching_the_export_gives_back_the_same_clusters_breeds_and_scales() {
    let mut bp = canary();
    bp.clusters.push(Cluster::new("cfg", vec![svc("cfg:1")]));
    bp.environment_variables = vec![var("cfg.TOKEN", Some("t"))];
    bp.clusters[0].services[0].arguments = vec![arg("privileged", "true")];
    let defaults = DeploymentDefaults {
        scale: Scale::default(),
        arguments: vec![arg("log", "json")],
    };
    let original = merge(
        None,
        &attach(&bp, "shop", &source(), &defaults, t(0)).unwrap(),
        t(0),
    )
    .unwrap();
    let exported = as_blueprint(&original);
    let again = merge(
        None,
        &attach(&exported, "shop", &MapSource::new(), &defaults, t(0)).unwrap(),
        t(0),
    )
    .unwrap();
    assert_eq!(again.clusters.len(), original.clusters.len());
    for (a, b) in again.clusters.iter().zip(&original.clusters) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.gateways, b.gateways);
        for (x, y) in a.services.iter().zip(&b.services) {
            assert_eq!(x.breed, y.breed);
            assert!(x
                .scale
                .as_ref()
                .unwrap()
                .same_resources(y.scale.as_ref().unwrap()));
            assert_eq!(x.arguments, y.arguments);
            assert_eq!(x.environment_variables, y.environment_variables);
        }
    }
    assert_eq!(again.environment_variables, original.environment_variables);
}

#[test]
fn export_leaves_out_services_being_undeployed() {
    let mut d = reweighted();
    service_mut(&mut d, "frontend", "web:2").status = ServiceStatus::initiated(Intention::Undeployment, t(0));
    service_mut(&mut d, "db", "db:1").status = ServiceStatus::initiated(Intention::Undeployment, t(0));
    let bp = as_blueprint(&d);
    assert_eq!(bp.clusters.len(), 1);
    assert_eq!(bp.clusters[0].services.len(), 1);
    assert_eq!(bp.clusters[0].services[0].breed_name(), "web:1");
}

#[test]
fn export_writes_only_variables_that_differ_from_what_is_inherited() {
    let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
    bp.environment_variables = vec![var("cfg.TOKEN", Some("t"))];
    let mut d = deployed(&bp);
    service_mut(&mut d, "cfg", "cfg:1").environment_variables = vec![
        var("TOKEN", Some("t")),
        var("MODE", Some("prod")),
        var("EXTRA", Some("x")),
    ];
    let exported = as_blueprint(&d);
    let names: Vec<&str> = exported.clusters[0].services[0]
        .environment_variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["EXTRA"]);
    assert_eq!(exported.environment_variables[0].name, "cfg.TOKEN");
}

#[test]
fn exported_gateways_lose_the_deployment_prefix() {
    let mut bp = canary();
    bp.gateways = vec![external(9050, &["frontend/web"])];
    let exported = as_blueprint(&deployed(&bp));
    assert_eq!(exported.gateways[0].name, "9050");
    assert_eq!(exported.gateways[0].routes[0].path.0, "frontend/web");
}

// ---------------------------------------------------------------------------------------------------------------
// status

fn timeouts(deploy: u64, undeploy: u64) -> Timeouts {
    Timeouts {
        deploy: std::time::Duration::from_secs(deploy),
        undeploy: std::time::Duration::from_secs(undeploy),
    }
}

#[test]
fn a_deploy_times_out_after_its_timeout() {
    let status = ServiceStatus::initiated(Intention::Deployment, t(0)).with_phase(Phase::Updating, t(10));
    assert!(!timed_out(&status, t(70), timeouts(60, 1)));
    assert!(timed_out(&status, t(71), timeouts(60, 1)));
}

#[test]
fn zero_timeout_means_wait_forever() {
    let status = ServiceStatus::initiated(Intention::Deployment, t(0));
    assert!(!timed_out(&status, t(1_000_000), timeouts(0, 0)));
}

#[test]
fn done_and_failed_services_never_time_out() {
    let base = ServiceStatus::initiated(Intention::Deployment, t(0));
    assert!(!timed_out(
        &base.with_phase(Phase::Done, t(0)),
        t(10_000),
        timeouts(1, 1)
    ));
    assert!(!timed_out(
        &base.with_phase(Phase::Failed("x".into()), t(0)),
        t(10_000),
        timeouts(1, 1)
    ));
}

#[test]
fn undeployment_uses_the_undeploy_timeout() {
    let status = ServiceStatus::initiated(Intention::Undeployment, t(0));
    assert!(!timed_out(&status, t(100), timeouts(10, 200)));
    assert!(timed_out(&status, t(201), timeouts(10, 200)));
}

#[test]
fn timing_out_fails_with_the_service_error() {
    let status = ServiceStatus::initiated(Intention::Deployment, t(0));
    assert!(fail_on_timeout(&status, "shop", "web:1", t(30), timeouts(60, 60)).is_none());
    let failed = fail_on_timeout(&status, "shop", "web:1", t(61), timeouts(60, 60)).unwrap();
    assert_eq!(failed.phase_since, t(61));
    assert_eq!(failed.intention, Intention::Deployment);
    let Phase::Failed(message) = failed.phase else {
        panic!("not failed")
    };
    assert!(message.starts_with("Deployment service error for deployment 'shop' and service 'web:1'."));
    assert!(message.contains("after 60 s"));
}

// ---------------------------------------------------------------------------------------------------------------
// health-check precedence

#[test]
fn health_checks_follow_service_cluster_breed_precedence() {
    let mut d = deployed(&blueprint(
        "shop",
        vec![Cluster::new("frontend", vec![svc("web:1")])],
    ));
    service_mut(&mut d, "frontend", "web:1").breed.health_checks = Some(vec![check("/breed", "web")]);
    let effective = |d: &Deployment| {
        effective_health_checks(d.cluster("frontend").unwrap(), service(d, "frontend", "web:1"))
    };
    assert_eq!(effective(&d), vec![check("/breed", "web")]);

    d.cluster_mut("frontend").unwrap().health_checks =
        Some(vec![check("/cluster", "web"), check("/other", "nope")]);
    assert_eq!(
        effective(&d),
        vec![check("/cluster", "web")],
        "cluster wins, ports must exist"
    );

    service_mut(&mut d, "frontend", "web:1").health_checks = Some(vec![check("/svc", "web")]);
    assert_eq!(
        effective(&d),
        vec![check("/svc", "web"), check("/cluster", "web")]
    );

    service_mut(&mut d, "frontend", "web:1").health_checks = Some(vec![check("/cluster", "web")]);
    assert_eq!(effective(&d), vec![check("/cluster", "web")], "same path once");

    service_mut(&mut d, "frontend", "web:1").health_checks = Some(vec![]);
    assert!(effective(&d).is_empty(), "an empty service list disables checks");
}

// ---------------------------------------------------------------------------------------------------------------
// reconcile

mod reconcile {
    use super::*;
    use vamp_core::driver::{ContainerDriver, RunningService, ServiceId};
    use vamp_core::memory::MemoryDriver;
    use vamp_core::ops::reconcile::{
        plan, Action, Mismatch, ReconcileChecks, ReconcileConfig, SyncEvent, SyncEventKind,
    };

    fn key(cluster: &str, breed: &str) -> ServiceId {
        ServiceId::new("default", "shop", cluster, breed)
    }

    fn instance(name: &str, deployed: bool) -> Instance {
        Instance {
            name: name.into(),
            host: "10.0.0.5".into(),
            ports: [("web".to_string(), 31001)].into_iter().collect(),
            deployed,
        }
    }

    /// What a driver lists for `id` when it runs `n` healthy instances of the test breeds' image at the scale
    /// `scaled` gives, with no variables and health checks it cannot tell.
    fn listed(id: ServiceId, n: u32) -> RunningService {
        let breed = id.service.clone();
        RunningService {
            deployable: Deployable::docker(format!("acme/{breed}")),
            scale: Scale::new(0.5, 512.0, n),
            instances: (0..n).map(|i| instance(&format!("{breed}-{i}"), true)).collect(),
            health: Health {
                staged: 0,
                running: n,
                healthy: n,
                unhealthy: 0,
            },
            environment: IndexMap::new(),
            health_checks: None,
            id,
        }
    }

    /// A running `cluster`/`breed` of deployment `shop` in namespace `default` with `n` deployed instances.
    fn running(cluster: &str, breed: &str, n: u32) -> RunningService {
        listed(key(cluster, breed), n)
    }

    /// `d` with the instances and health of `r` already recorded for its service.
    fn recorded(mut d: Deployment, r: &RunningService) -> Deployment {
        let s = service_mut(&mut d, &r.id.cluster, &r.id.service);
        s.instances = r.instances.clone();
        s.health = Some(r.health);
        d
    }

    fn single(breed: &str, instances: u32) -> Deployment {
        deployed(&blueprint(
            "shop",
            vec![Cluster::new("c", vec![scaled(breed, instances)])],
        ))
    }

    fn with_phase(
        mut d: Deployment,
        cluster: &str,
        breed: &str,
        intention: Intention,
        phase: Phase,
    ) -> Deployment {
        service_mut(&mut d, cluster, breed).status =
            ServiceStatus::initiated(intention, t(0)).with_phase(phase, t(0));
        d
    }

    /// Deployment `shop` whose one service `c`/`web:1` (one instance) is `Deployment/Done`.
    fn done_web() -> Deployment {
        with_phase(
            single("web:1", 1),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Done,
        )
    }

    fn cfg() -> ReconcileConfig {
        ReconcileConfig::default()
    }

    fn phases(actions: &[Action]) -> Vec<(ServiceId, Phase)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::SetPhase { service, phase, .. } => Some((service.clone(), phase.clone())),
                _ => None,
            })
            .collect()
    }

    fn events(actions: &[Action]) -> Vec<SyncEvent> {
        actions.iter().filter_map(|a| a.event().cloned()).collect()
    }

    #[test]
    fn a_fresh_service_moves_to_updating_and_is_deployed() {
        let d = single("web:1", 2);
        let actions = plan(&[d], &[], t(1), &cfg());
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert_eq!(phases(&actions), [(key("c", "web:1"), Phase::Updating)]);
        let Action::Deploy { spec } = &actions[1] else {
            panic!("{actions:?}")
        };
        assert_eq!(spec.id, key("c", "web:1"));
        assert_eq!(spec.scale.instances, 2);
        assert_eq!(spec.deployable.definition, "acme/web:1");
        assert_eq!(spec.ports, [Port::parse("web", "8080").unwrap()]);
    }

    #[test]
    fn variables_are_resolved_before_the_deploy() {
        let mut bp = blueprint("shop", vec![Cluster::new("cfg", vec![svc("cfg:1")])]);
        bp.environment_variables = vec![var("cfg.TOKEN", Some("t"))];
        let mut d = with_phase(
            deployed(&bp),
            "cfg",
            "cfg:1",
            Intention::Deployment,
            Phase::Updating,
        );
        let actions = plan(std::slice::from_ref(&d), &[], t(1), &cfg());
        assert_eq!(
            actions,
            [Action::ResolveEnvironment {
                service: key("cfg", "cfg:1")
            }]
        );

        let mut token = var("TOKEN", Some("t"));
        token.interpolated = Some("t".into());
        let mut mode = var("MODE", Some("prod"));
        mode.interpolated = Some("prod".into());
        mode.alias = Some("APP_MODE".into());
        service_mut(&mut d, "cfg", "cfg:1").environment_variables = vec![token, mode];
        let actions = plan(&[d], &[], t(1), &cfg());
        let [Action::Deploy { spec }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let env: Vec<(&str, &str)> = spec
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("TOKEN", "t"), ("APP_MODE", "prod")]);
    }

    fn api_and_db() -> Deployment {
        deployed(&blueprint(
            "shop",
            vec![
                Cluster::new("api", vec![svc("api:1")]),
                Cluster::new("store", vec![svc("db:1")]),
            ],
        ))
    }

    #[test]
    fn a_service_waits_for_its_dependency_then_deploys() {
        let d = api_and_db();
        let actions = plan(std::slice::from_ref(&d), &[], t(1), &cfg());
        let deploys: Vec<&ServiceId> = actions
            .iter()
            .filter(|a| matches!(a, Action::Deploy { .. }))
            .map(Action::service)
            .collect();
        assert_eq!(deploys, [&key("store", "db:1")]);
        assert!(actions.contains(&Action::WaitForDependency {
            service: key("api", "api:1"),
            dependency: "db".into(),
            cluster: Some("store".into()),
        }));

        let d = with_phase(d, "store", "db:1", Intention::Deployment, Phase::Done);
        let d = with_phase(d, "api", "api:1", Intention::Deployment, Phase::Updating);
        let actions = plan(&[d], &[running("store", "db:1", 1)], t(2), &cfg());
        assert!(
            matches!(
                actions.as_slice(),
                [Action::RecordInstances { .. }, Action::RecordHealth { .. }, Action::Deploy { spec }]
                    if spec.id == key("api", "api:1")
            ),
            "{actions:?}"
        );
    }

    #[test]
    fn a_dependency_done_in_this_pass_unblocks_its_dependents() {
        let d = with_phase(
            api_and_db(),
            "store",
            "db:1",
            Intention::Deployment,
            Phase::Updating,
        );
        let actions = plan(&[d], &[running("store", "db:1", 1)], t(1), &cfg());
        let kinds: Vec<String> = actions
            .iter()
            .map(|a| format!("{}:{}", a.service().cluster, action_name(a)))
            .collect();
        assert_eq!(
            kinds,
            [
                "store:RecordInstances",
                "store:RecordHealth",
                "store:SetPhase",
                "api:SetPhase",
                "api:Deploy"
            ]
        );
    }

    fn action_name(a: &Action) -> &'static str {
        match a {
            Action::Deploy { .. } => "Deploy",
            Action::Update { .. } => "Update",
            Action::Undeploy { .. } => "Undeploy",
            Action::ResolveEnvironment { .. } => "ResolveEnvironment",
            Action::WaitForDependency { .. } => "WaitForDependency",
            Action::SetPhase { .. } => "SetPhase",
            Action::RecordInstances { .. } => "RecordInstances",
            Action::RecordHealth { .. } => "RecordHealth",
            Action::Remove { .. } => "Remove",
        }
    }

    #[test]
    fn dependencies_are_planned_first_whatever_the_declaration_order() {
        let d = api_and_db();
        let actions = plan(&[d], &[], t(1), &cfg());
        assert_eq!(actions[0].service(), &key("store", "db:1"));
    }

    #[test]
    fn a_scale_change_updates_the_running_service() {
        let d = with_phase(
            single("web:1", 3),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Initiated,
        );
        let actions = plan(&[d], &[running("c", "web:1", 2)], t(1), &cfg());
        assert_eq!(phases(&actions), [(key("c", "web:1"), Phase::Updating)]);
        assert_eq!(
            events(&actions),
            [SyncEvent {
                kind: SyncEventKind::Redeploy,
                service: key("c", "web:1")
            }]
        );
        let Some(Action::Update { spec, mismatches }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(spec.scale.instances, 3);
        assert_eq!(
            mismatches,
            &[Mismatch::Instances {
                desired: 3,
                running: 2
            }]
        );
    }

    #[test]
    fn a_matching_service_is_recorded_and_done() {
        let d = with_phase(
            single("web:1", 2),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Updating,
        );
        let o = running("c", "web:1", 2);
        let actions = plan(&[d], std::slice::from_ref(&o), t(1), &cfg());
        assert_eq!(
            actions,
            [
                Action::RecordInstances {
                    service: key("c", "web:1"),
                    instances: o.instances.clone()
                },
                Action::RecordHealth {
                    service: key("c", "web:1"),
                    health: Health {
                        staged: 0,
                        running: 2,
                        healthy: 2,
                        unhealthy: 0,
                    }
                },
                Action::SetPhase {
                    service: key("c", "web:1"),
                    phase: Phase::Done,
                    event: Some(SyncEvent {
                        kind: SyncEventKind::Deployed,
                        service: key("c", "web:1")
                    }),
                },
            ]
        );
    }

    #[test]
    fn instances_still_starting_keep_the_service_updating() {
        let d = with_phase(
            single("web:1", 2),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Updating,
        );
        let mut o = running("c", "web:1", 2);
        o.instances[1].deployed = false;
        o.health = Health {
            staged: 1,
            running: 1,
            healthy: 1,
            unhealthy: 0,
        };
        let actions = plan(&[d], &[o], t(1), &cfg());
        assert!(
            matches!(
                actions.as_slice(),
                [Action::RecordInstances { .. }, Action::RecordHealth { .. }]
            ),
            "{actions:?}"
        );
    }

    #[test]
    fn a_converged_deployment_needs_nothing() {
        let o = running("c", "web:1", 2);
        let mut d = recorded(
            with_phase(
                single("web:1", 2),
                "c",
                "web:1",
                Intention::Deployment,
                Phase::Done,
            ),
            &o,
        );
        service_mut(&mut d, "c", "web:1").instances = o.instances.iter().rev().cloned().collect();
        assert_eq!(plan(&[d], &[o], t(1), &cfg()), []);
    }

    #[test]
    fn a_done_service_whose_containers_vanished_is_redeployed() {
        let d = done_web();
        let actions = plan(&[d], &[], t(1), &cfg());
        assert_eq!(
            events(&actions),
            [SyncEvent {
                kind: SyncEventKind::Redeploy,
                service: key("c", "web:1")
            }]
        );
        assert!(matches!(actions.last(), Some(Action::Deploy { .. })));
    }

    #[test]
    fn an_undeploying_service_that_runs_is_undeployed() {
        let d = with_phase(
            single("web:1", 1),
            "c",
            "web:1",
            Intention::Undeployment,
            Phase::Initiated,
        );
        let actions = plan(&[d], &[running("c", "web:1", 1)], t(1), &cfg());
        assert_eq!(
            actions,
            [
                Action::SetPhase {
                    service: key("c", "web:1"),
                    phase: Phase::Updating,
                    event: None
                },
                Action::Undeploy {
                    service: key("c", "web:1"),
                    orphan: false
                },
            ]
        );
    }

    #[test]
    fn an_undeployed_service_is_removed_with_an_event() {
        let d = with_phase(
            single("web:1", 1),
            "c",
            "web:1",
            Intention::Undeployment,
            Phase::Updating,
        );
        let actions = plan(&[d], &[], t(1), &cfg());
        let event = SyncEvent {
            kind: SyncEventKind::Undeployed,
            service: key("c", "web:1"),
        };
        assert_eq!(
            actions,
            [Action::Remove {
                service: key("c", "web:1"),
                event: Some(event.clone())
            }]
        );
        assert_eq!(
            event.tags(),
            [
                "deployments:shop",
                "clusters:c",
                "services:web:1",
                "synchronization:undeployed"
            ]
        );
    }

    #[test]
    fn orphans_of_the_namespace_are_undeployed_in_id_order() {
        let d = recorded(done_web(), &running("c", "web:1", 1));
        let observed = [
            running("c", "web:1", 1),
            listed(ServiceId::new("default", "zzz", "c", "x:1"), 0),
            listed(ServiceId::new("default", "old", "c", "web:0"), 0),
        ];
        let actions = plan(&[d], &observed, t(1), &cfg());
        assert_eq!(
            actions,
            [
                Action::Undeploy {
                    service: ServiceId::new("default", "old", "c", "web:0"),
                    orphan: true
                },
                Action::Undeploy {
                    service: ServiceId::new("default", "zzz", "c", "x:1"),
                    orphan: true
                },
            ]
        );
    }

    #[test]
    fn a_service_that_does_not_converge_in_time_fails() {
        let d = with_phase(
            single("web:1", 1),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Updating,
        );
        let config = ReconcileConfig {
            timeouts: timeouts(60, 60),
            ..cfg()
        };
        let actions = plan(&[d], &[], t(61), &config);
        let [Action::SetPhase {
            phase: Phase::Failed(message),
            event: None,
            ..
        }] = actions.as_slice()
        else {
            panic!("{actions:?}")
        };
        assert!(message.contains("'shop'") && message.contains("'web:1'"));
    }

    #[test]
    fn failed_services_are_left_alone() {
        let d = with_phase(
            single("web:1", 1),
            "c",
            "web:1",
            Intention::Deployment,
            Phase::Failed("x".into()),
        );
        assert_eq!(plan(&[d], &[running("c", "web:1", 3)], t(1), &cfg()), []);
    }

    #[test]
    fn cpu_is_compared_only_when_asked() {
        let mut o = running("c", "web:1", 1);
        let d = recorded(done_web(), &o);
        o.scale = Scale::new(2.0, 512.0, 1);
        assert_eq!(
            plan(std::slice::from_ref(&d), std::slice::from_ref(&o), t(1), &cfg()),
            []
        );
        let config = ReconcileConfig {
            checks: ReconcileChecks {
                cpu: true,
                ..ReconcileChecks::default()
            },
            ..cfg()
        };
        let actions = plan(&[d], &[o], t(1), &config);
        let Some(Action::Update { mismatches, .. }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(
            mismatches,
            &[Mismatch::Cpu {
                desired: 0.5,
                running: 2.0
            }]
        );
    }

    #[test]
    fn a_changed_variable_updates_the_running_service() {
        let mut o = running("c", "web:1", 1);
        let mut d = recorded(done_web(), &o);
        let s = service_mut(&mut d, "c", "web:1");
        s.breed.environment_variables = vec![var("COLOR", Some("blue"))];
        s.environment_variables = vec![EnvironmentVariable {
            interpolated: Some("green".into()),
            ..var("COLOR", Some("green"))
        }];
        o.environment.insert("COLOR".into(), "blue".into());
        o.environment.insert("PATH".into(), "/bin".into());
        let actions = plan(&[d], &[o], t(1), &cfg());
        let Some(Action::Update { mismatches, .. }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(
            mismatches,
            &[Mismatch::Environment {
                names: vec!["COLOR".into()]
            }]
        );
    }

    #[test]
    fn the_spec_carries_network_dialects_and_health_checks() {
        let mut d = single("web:1", 1);
        d.dialects
            .insert("docker".into(), serde_json::json!("deployment"));
        d.dialects.insert("k8s".into(), serde_json::json!("deployment"));
        let c = d.cluster_mut("c").unwrap();
        c.network = Some("overlay".into());
        c.dialects.insert("docker".into(), serde_json::json!("cluster"));
        c.health_checks = Some(vec![check("/health", "web")]);
        let actions = plan(&[d], &[], t(1), &cfg());
        let Some(Action::Deploy { spec }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(spec.network.as_deref(), Some("overlay"));
        assert_eq!(spec.dialects.get("docker"), Some(&serde_json::json!("cluster")));
        assert_eq!(spec.dialects.get("k8s"), Some(&serde_json::json!("deployment")));
        assert_eq!(spec.health_checks, vec![check("/health", "web")]);
    }

    #[test]
    fn planning_is_deterministic() {
        let d = api_and_db();
        let observed = [
            listed(ServiceId::new("default", "b", "c", "x"), 0),
            listed(ServiceId::new("default", "a", "c", "y"), 0),
        ];
        assert_eq!(
            plan(std::slice::from_ref(&d), &observed, t(1), &cfg()),
            plan(&[d], &observed, t(1), &cfg())
        );
    }

    #[test]
    fn running_services_of_other_namespaces_are_ignored() {
        let d = recorded(done_web(), &running("c", "web:1", 1));
        let elsewhere = [
            listed(ServiceId::new("blue", "shop", "c", "web:1"), 1),
            listed(ServiceId::new("blue", "old", "c", "web:0"), 1),
        ];
        let actions = plan(&[d], &elsewhere, t(1), &cfg());
        assert!(
            matches!(
                actions.as_slice(),
                [
                    Action::SetPhase {
                        phase: Phase::Updating,
                        event: Some(SyncEvent {
                            kind: SyncEventKind::Redeploy,
                            ..
                        }),
                        ..
                    },
                    Action::Deploy { spec }
                ] if spec.id == key("c", "web:1")
            ),
            "the same service in another namespace counts as running, or is undeployed: {actions:?}"
        );
    }

    #[test]
    fn the_configured_namespace_names_every_service() {
        let blue = ReconcileConfig {
            namespace: "blue".into(),
            ..cfg()
        };
        let actions = plan(&[single("web:1", 1)], &[], t(1), &blue);
        let Some(Action::Deploy { spec }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(spec.id, ServiceId::new("blue", "shop", "c", "web:1"));

        let web = listed(ServiceId::new("blue", "shop", "c", "web:1"), 1);
        let orphan = listed(ServiceId::new("blue", "old", "c", "web:0"), 1);
        let d = recorded(done_web(), &web);
        assert_eq!(
            plan(&[d], &[web, orphan], t(1), &blue),
            [Action::Undeploy {
                service: ServiceId::new("blue", "old", "c", "web:0"),
                orphan: true
            }]
        );
    }

    #[test]
    fn health_checks_are_compared_only_when_asked_and_reported() {
        let mut d = done_web();
        d.cluster_mut("c").unwrap().health_checks = Some(vec![check("/health", "web")]);
        let mut o = running("c", "web:1", 1);
        let d = recorded(d, &o);
        let checking = ReconcileConfig {
            checks: ReconcileChecks {
                health_checks: true,
                ..ReconcileChecks::default()
            },
            ..cfg()
        };
        o.health_checks = Some(Vec::new());
        assert_eq!(
            plan(std::slice::from_ref(&d), std::slice::from_ref(&o), t(1), &cfg()),
            [],
            "compared although the check is off"
        );
        let actions = plan(
            std::slice::from_ref(&d),
            std::slice::from_ref(&o),
            t(1),
            &checking,
        );
        let Some(Action::Update { mismatches, .. }) = actions.last() else {
            panic!("{actions:?}")
        };
        assert_eq!(mismatches, &[Mismatch::HealthChecks]);

        o.health_checks = None;
        assert_eq!(
            plan(
                std::slice::from_ref(&d),
                std::slice::from_ref(&o),
                t(1),
                &checking
            ),
            [],
            "a driver that cannot tell its health checks must not cause updates"
        );
        o.health_checks = Some(vec![check("/health", "web")]);
        assert_eq!(plan(&[d], &[o], t(1), &checking), []);
    }

    /// Carries `actions` out as the deployment loop does: driver calls for `Deploy`, `Update` and `Undeploy`,
    /// stored state for phases, instances and health; waiting needs nothing.
    async fn carry_out(d: &mut Deployment, actions: &[Action], driver: &MemoryDriver, now: DateTime<Utc>) {
        for action in actions {
            match action {
                Action::Deploy { spec } | Action::Update { spec, .. } => driver.deploy(spec).await.unwrap(),
                Action::Undeploy { service, .. } => driver.undeploy(service).await.unwrap(),
                Action::SetPhase { service, phase, .. } => {
                    let s = service_mut(d, &service.cluster, &service.service);
                    s.status = s.status.clone().with_phase(phase.clone(), now);
                }
                Action::RecordInstances { service, instances } => {
                    service_mut(d, &service.cluster, &service.service).instances = instances.clone();
                }
                Action::RecordHealth { service, health } => {
                    service_mut(d, &service.cluster, &service.service).health = Some(*health);
                }
                Action::WaitForDependency { .. } => {}
                other => panic!("not expected here: {other}"),
            }
        }
    }

    #[tokio::test]
    async fn planning_against_a_driver_converges() {
        let driver = MemoryDriver::new();
        let config = cfg();
        let mut d = api_and_db();
        let mut passes = 0;
        loop {
            let running = driver.list(&config.namespace).await.unwrap();
            let actions = plan(std::slice::from_ref(&d), &running, t(passes), &config);
            if actions.is_empty() {
                break;
            }
            assert!(passes < 5, "no convergence after 5 passes: {actions:?}");
            carry_out(&mut d, &actions, &driver, t(passes)).await;
            passes += 1;
        }
        assert_eq!(passes, 3, "db, then api, then both recorded as done");
        for (cluster, breed) in [("store", "db:1"), ("api", "api:1")] {
            let s = service(&d, cluster, breed);
            assert_eq!(s.status.phase, Phase::Done, "{cluster}/{breed}");
            assert_eq!(s.instances.len(), 1, "{cluster}/{breed}");
        }
        let specs = driver.specs();
        let ids: Vec<&ServiceId> = specs.iter().map(|s| &s.id).collect();
        assert_eq!(ids, [&key("api", "api:1"), &key("store", "db:1")]);
        assert_eq!(specs[0].ports, [Port::parse("http", "8080").unwrap()]);
    }
}
