//! Gateway planning: internal and deployment gateways, route targets, internal-gateway protections and the
//! plan of a gateway-loop tick.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use vamp_core::dsl::ErrorCode;
use vamp_core::model::{
    Breed, Condition, Deployable, Deployment, DeploymentCluster, DeploymentService, Gateway, GatewayPort,
    GatewayRoute, Instance, Intention, Metadata, Percentage, Port, Protocol, Ref, Route, RouteTarget,
    ServiceStatus, Sticky,
};
use vamp_core::ops::gateways::*;

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

fn breed(name: &str, ports: &[(&str, &str)]) -> Breed {
    let mut b = Breed::new(name, Deployable::docker(format!("acme/{name}")));
    b.ports = ports.iter().map(|(n, v)| Port::parse(n, v).unwrap()).collect();
    b
}

fn instance(name: &str, host: &str, ports: &[(&str, u16)]) -> Instance {
    Instance {
        name: name.into(),
        host: host.into(),
        ports: ports.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        deployed: true,
    }
}

fn service(breed: Breed, instances: Vec<Instance>) -> DeploymentService {
    DeploymentService {
        status: ServiceStatus::initiated(Intention::Deployment, epoch()),
        breed,
        environment_variables: Vec::new(),
        scale: None,
        instances,
        arguments: Vec::new(),
        health_checks: None,
        network: None,
        dependencies: IndexMap::new(),
        dialects: Metadata::new(),
        health: None,
    }
}

fn cluster(name: &str, services: Vec<DeploymentService>) -> DeploymentCluster {
    DeploymentCluster {
        name: name.into(),
        metadata: Metadata::new(),
        services,
        gateways: Vec::new(),
        health_checks: None,
        network: None,
        sla: None,
        dialects: Metadata::new(),
    }
}

fn deployment(name: &str, clusters: Vec<DeploymentCluster>) -> Deployment {
    let mut d = Deployment::new(name);
    d.clusters = clusters;
    d
}

/// `shop`: cluster `frontend` with v1 (ports web, admin) and v2 (port web), each with one running instance.
fn shop() -> Deployment {
    deployment(
        "shop",
        vec![cluster(
            "frontend",
            vec![
                service(
                    breed("front:1", &[("web", "8080/http"), ("admin", "9000/tcp")]),
                    vec![instance("f1-a", "10.0.0.5", &[("web", 31001), ("admin", 31002)])],
                ),
                service(
                    breed("front:2", &[("web", "8080/http")]),
                    vec![instance("f2-a", "10.0.0.6", &[("web", 31003)])],
                ),
            ],
        )],
    )
}

fn gw(name: &str, port: u16, routes: &[&str]) -> Gateway {
    let mut g = Gateway::new(
        name,
        GatewayPort {
            number: port,
            protocol: Protocol::Http,
        },
    );
    g.routes = routes.iter().map(|r| GatewayRoute::new(*r)).collect();
    g
}

fn weighted(path: &str, weight: u8) -> GatewayRoute {
    let mut r = GatewayRoute::new(path);
    r.route = Ref::Inline(Route {
        weight: Some(Percentage(weight)),
        ..Route::default()
    });
    r
}

fn weight_of(g: &Gateway, path: &str) -> Option<u8> {
    g.route(path)
        .and_then(|r| r.inline())
        .and_then(|r| r.weight)
        .map(|w| w.0)
}

fn plan(deployments: &[Deployment], gateways: &[Gateway], previous: &[PlannedGateway]) -> GatewayPlan {
    plan_with(deployments, gateways, previous, &GatewayPlanConfig::default())
}

fn plan_with(
    deployments: &[Deployment],
    gateways: &[Gateway],
    previous: &[PlannedGateway],
    config: &GatewayPlanConfig,
) -> GatewayPlan {
    plan_gateways(&GatewayPlanInput {
        deployments,
        gateways,
        previous,
        config,
    })
    .unwrap()
}

fn names(plan: &GatewayPlan) -> Vec<&str> {
    plan.gateways.iter().map(|p| p.gateway.name.as_str()).collect()
}

fn port_of(plan: &GatewayPlan, name: &str) -> u16 {
    plan.gateway(name).unwrap().gateway.port.number
}

// ---- internal gateways ----

#[test]
fn each_cluster_port_gets_an_internal_gateway_routing_to_its_services() {
    let gateways = internal_gateways(&shop(), |_| None);
    let summary: Vec<(&str, Protocol, Vec<&str>)> = gateways
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                g.port.protocol,
                g.routes.iter().map(|r| r.path.0.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "shop/frontend/web",
                Protocol::Http,
                vec!["shop/frontend/front:1/web", "shop/frontend/front:2/web"]
            ),
            (
                "shop/frontend/admin",
                Protocol::Tcp,
                vec!["shop/frontend/front:1/admin"]
            ),
        ]
    );
    assert!(gateways.iter().all(|g| g.port.number == 0 && g.is_internal()));
}

#[test]
fn undeploying_services_get_no_route_and_a_cluster_without_services_no_gateway() {
    let mut d = shop();
    d.clusters[0].services[0].status = ServiceStatus::initiated(Intention::Undeployment, epoch());
    let gateways = internal_gateways(&d, |_| None);
    assert_eq!(gateways.len(), 1);
    assert_eq!(gateways[0].routes.len(), 1);
    assert_eq!(gateways[0].routes[0].path.0, "shop/frontend/front:2/web");

    d.clusters[0].services[1].status = ServiceStatus::initiated(Intention::Undeployment, epoch());
    assert!(internal_gateways(&d, |_| None).is_empty());
}

#[test]
fn cluster_gateway_settings_map_onto_full_route_paths() {
    let mut d = shop();
    let mut settings = Gateway::new("web", GatewayPort::default());
    settings.sticky = Some(Sticky::Route);
    settings.virtual_hosts = vec!["shop.example.com".into()];
    let mut v2 = weighted("front:2", 10);
    v2.route.inline_mut().unwrap().condition = Some(Ref::Inline(Condition::inline("has cookie beta")));
    v2.route.inline_mut().unwrap().balance = Some("first".into());
    settings.routes = vec![weighted("front:1", 90), v2, weighted("gone:1", 5)];
    d.clusters[0].gateways = vec![settings];

    let web = internal_gateways(&d, |_| None)
        .into_iter()
        .find(|g| g.name == "shop/frontend/web")
        .unwrap();
    assert_eq!(web.sticky, Some(Sticky::Route));
    assert_eq!(web.virtual_hosts, vec!["shop.example.com"]);
    assert_eq!(web.routes.len(), 2);
    assert_eq!(weight_of(&web, "shop/frontend/front:1/web"), Some(90));
    let v2 = web.route("shop/frontend/front:2/web").unwrap().inline().unwrap();
    assert_eq!(v2.weight, Some(Percentage(10)));
    assert_eq!(v2.balance.as_deref(), Some("first"));
    assert!(v2.condition.is_some());
}

#[test]
fn previously_assigned_internal_ports_are_kept() {
    let gateways = internal_gateways(&shop(), |name| (name == "shop/frontend/web").then_some(40007));
    assert_eq!(gateways[0].port.number, 40007);
    assert_eq!(gateways[1].port.number, 0);
}

// ---- deployment gateways ----

#[test]
fn a_blueprint_gateway_is_named_after_deployment_and_port_with_prefixed_routes() {
    let bp = gw("9050", 9050, &["frontend/web", "[10.0.0.1:80]"]);
    let g = deployment_gateway("shop", &bp);
    assert_eq!(g.name, "shop/9050");
    assert_eq!(deployment_gateway_name("shop", &bp), "shop/9050");
    let paths: Vec<&str> = g.routes.iter().map(|r| r.path.0.as_str()).collect();
    assert_eq!(paths, vec!["shop/frontend/web", "[10.0.0.1:80]"]);
    assert_eq!(g.port.number, 9050);
}

#[test]
fn naming_a_deployment_gateway_twice_changes_nothing() {
    let once = deployment_gateway("shop", &gw("9050", 9050, &["frontend/web"]));
    assert_eq!(deployment_gateway("shop", &once), once);
}

// ---- targets ----

fn resolver_fixture() -> (Vec<Gateway>, Vec<Deployment>) {
    let gateways = vec![
        gw("public", 8080, &[]),
        gw("shop/9050", 9050, &[]),
        gw("shop/frontend/web", 40001, &[]),
        gw("shop/frontend/admin", 0, &[]),
    ];
    (gateways, vec![shop()])
}

fn path(p: &str) -> vamp_core::model::RoutePath {
    vamp_core::model::RoutePath(p.into())
}

#[test]
fn gateway_routes_chain_to_the_gateway_port_on_the_agent_host() {
    let (gateways, deployments) = resolver_fixture();
    let r = TargetResolver::new(&gateways, &deployments, Some("10.0.0.2"));
    let expect = |name: &str, port| {
        vec![RouteTarget::Internal {
            name: name.into(),
            host: Some("10.0.0.2".into()),
            port,
        }]
    };
    assert_eq!(r.targets(&path("public")), expect("public", 8080));
    assert_eq!(r.targets(&path("shop/9050")), expect("shop/9050", 9050));
    assert_eq!(
        r.targets(&path("shop/frontend/web")),
        expect("shop/frontend/web", 40001)
    );
}

#[test]
fn without_an_agent_host_gateway_targets_have_no_host() {
    let (gateways, deployments) = resolver_fixture();
    let r = TargetResolver::new(&gateways, &deployments, None);
    assert_eq!(
        r.targets(&path("public")),
        vec![RouteTarget::Internal {
            name: "public".into(),
            host: None,
            port: 8080
        }]
    );
}

#[test]
fn service_routes_target_every_deployed_instance_on_the_port() {
    let mut d = shop();
    let instances = &mut d.clusters[0].services[0].instances;
    instances.insert(0, instance("f1-z", "10.0.0.9", &[("web", 31010)]));
    instances.push(instance("f1-b", "10.0.0.7", &[("admin", 31020)]));
    let mut down = instance("f1-c", "10.0.0.8", &[("web", 31030)]);
    down.deployed = false;
    instances.push(down);
    let deployments = vec![d];
    let r = TargetResolver::new(&[], &deployments, None);
    assert_eq!(
        r.targets(&path("shop/frontend/front:1/web")),
        vec![
            RouteTarget::Internal {
                name: "f1-a".into(),
                host: Some("10.0.0.5".into()),
                port: 31001
            },
            RouteTarget::Internal {
                name: "f1-z".into(),
                host: Some("10.0.0.9".into()),
                port: 31010
            },
        ]
    );
}

#[test]
fn external_routes_target_the_address() {
    let r = TargetResolver::new(&[], &[], None);
    assert_eq!(
        r.targets(&path("[10.0.0.10:5050]")),
        vec![RouteTarget::External {
            url: "10.0.0.10:5050".into()
        }]
    );
}

#[test]
fn unresolvable_routes_have_no_targets() {
    let (gateways, mut deployments) = resolver_fixture();
    deployments[0].clusters[0].services[1].status =
        ServiceStatus::initiated(Intention::Undeployment, epoch());
    let r = TargetResolver::new(&gateways, &deployments, None);
    for p in [
        "nope",
        "shop/1234",
        "shop/frontend/admin",
        "shop/backend/front:1/web",
        "shop/frontend/front:9/web",
        "shop/frontend/front:2/web",
        "other/frontend/front:1/web",
        "a/b/c/d/e",
    ] {
        assert!(r.targets(&path(p)).is_empty(), "{p}");
    }
}

#[test]
fn internal_gateways_are_deployable_only_when_every_route_has_targets() {
    let (gateways, deployments) = resolver_fixture();
    let r = TargetResolver::new(&gateways, &deployments, None);
    let mut internal = gw(
        "shop/frontend/web",
        40001,
        &["shop/frontend/front:1/web", "shop/frontend/front:9/web"],
    );
    r.resolve(&mut internal);
    assert!(!deployable(&internal));
    internal.routes.pop();
    r.resolve(&mut internal);
    assert!(deployable(&internal));
    assert!(!deployable(&gw("shop/frontend/none", 40002, &[])));

    let mut external = gw("public", 8080, &["nope"]);
    r.resolve(&mut external);
    assert!(external.routes[0].targets.is_empty());
    assert!(deployable(&external));
}

// ---- protections ----

#[test]
fn internal_gateways_cannot_be_created_through_the_api() {
    let err = check_gateway_create(&gw("shop/frontend/web", 0, &[])).unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalGatewayCreateError);
    assert!(check_gateway_create(&gw("shop/9050", 9050, &[])).is_ok());
    assert!(check_gateway_create(&gw("public", 0, &[])).is_ok());
}

#[test]
fn internal_gateway_weights_may_change_but_not_its_routes() {
    let existing = gw(
        "shop/frontend/web",
        40001,
        &["shop/frontend/front:1/web", "shop/frontend/front:2/web"],
    );
    let mut reweighted = existing.clone();
    reweighted.routes = vec![
        weighted("shop/frontend/front:2/web", 20),
        weighted("shop/frontend/front:1/web", 80),
    ];
    assert!(check_gateway_update(Some(&existing), &reweighted, |_| true).is_ok());

    let mut fewer = existing.clone();
    fewer.routes.pop();
    let err = check_gateway_update(Some(&existing), &fewer, |_| true).unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalGatewayUpdateError);
    assert!(err.message.contains("removed: [shop/frontend/front:2/web]"));
}

#[test]
fn updating_an_internal_gateway_that_does_not_exist_would_create_it() {
    let requested = gw("shop/frontend/web", 0, &[]);
    let err = check_gateway_update(None, &requested, |_| true).unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalGatewayCreateError);
    let err = check_gateway_update(Some(&requested), &requested, |d| d != "shop").unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalGatewayCreateError);
    assert!(check_gateway_update(None, &gw("public", 0, &["a"]), |_| false).is_ok());
}

#[test]
fn internal_gateways_are_removed_only_with_their_deployment() {
    let err = check_gateway_remove("shop/frontend/web", |d| d == "shop").unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalGatewayRemoveError);
    assert!(check_gateway_remove("shop/frontend/web", |_| false).is_ok());
    assert!(check_gateway_remove("shop/9050", |_| true).is_ok());
}

// ---- the plan ----

#[test]
fn plan_sorts_by_segment_count_then_name() {
    let mut d = shop();
    d.gateways = vec![gw("9050", 9050, &["frontend/web"])];
    let user = [
        gw("zeta", 0, &["shop/9050"]),
        gw("alpha", 0, &["shop/frontend/web"]),
    ];
    let p = plan(&[d], &user, &[]);
    assert_eq!(
        names(&p),
        vec![
            "alpha",
            "zeta",
            "shop/9050",
            "shop/frontend/admin",
            "shop/frontend/web"
        ]
    );
    assert!(p.held_back.is_empty(), "{:?}", p.held_back);
}

#[test]
fn plan_assigns_ports_in_plan_order_and_resolves_chains() {
    let mut d = shop();
    d.gateways = vec![gw("9050", 9050, &["frontend/web"])];
    let p = plan(&[d], &[gw("alpha", 0, &["shop/frontend/web"])], &[]);
    assert_eq!(port_of(&p, "alpha"), 40000);
    assert_eq!(port_of(&p, "shop/frontend/admin"), 40001);
    assert_eq!(port_of(&p, "shop/frontend/web"), 40002);
    assert_eq!(port_of(&p, "shop/9050"), 9050);
    let chain = &p.gateway("shop/9050").unwrap().gateway.routes[0];
    assert_eq!(
        chain.targets,
        vec![RouteTarget::Internal {
            name: "shop/frontend/web".into(),
            host: None,
            port: 40002
        }]
    );
}

#[test]
fn plan_is_deterministic_whatever_the_input_order() {
    let deployments: Vec<Deployment> = (0..5)
        .map(|i| {
            let mut d = shop();
            d.name = format!("shop{i}");
            d
        })
        .collect();
    let users = [
        gw("b", 0, &["shop1/frontend/web"]),
        gw("a", 0, &["shop3/frontend/web"]),
    ];
    let forward = plan(&deployments, &users, &[]);
    let mut reversed_deployments = deployments.clone();
    reversed_deployments.reverse();
    let mut reversed_users = users.to_vec();
    reversed_users.reverse();
    let backward = plan(&reversed_deployments, &reversed_users, &[]);
    assert_eq!(forward, backward);
    assert_eq!(forward, plan(&deployments, &users, &[]));
}

#[test]
fn internal_gateways_get_shared_weights_default_strengths_and_virtual_hosts() {
    let p = plan(&[shop()], &[], &[]);
    let web = &p.gateway("shop/frontend/web").unwrap().gateway;
    assert_eq!(weight_of(web, "shop/frontend/front:1/web"), Some(50));
    assert_eq!(weight_of(web, "shop/frontend/front:2/web"), Some(50));
    assert!(web
        .routes
        .iter()
        .all(|r| r.inline().unwrap().condition_strength == Some(Percentage(0))));
    assert_eq!(web.virtual_hosts, vec!["web.frontend.shop.vamp"]);
    let admin = &p.gateway("shop/frontend/admin").unwrap().gateway;
    assert_eq!(weight_of(admin, "shop/frontend/front:1/admin"), Some(100));
}

#[test]
fn plan_keeps_ports_of_the_previous_plan() {
    let first = plan(&[shop()], &[gw("alpha", 0, &[])], &[]);
    let mut d2 = shop();
    d2.name = "another".into();
    let second = plan(&[d2, shop()], &[gw("alpha", 0, &[])], &first.gateways);
    for name in ["alpha", "shop/frontend/web", "shop/frontend/admin"] {
        assert_eq!(port_of(&second, name), port_of(&first, name), "{name}");
    }
    assert_eq!(port_of(&second, "another/frontend/admin"), 40003);
}

#[test]
fn plan_reuses_the_ports_of_removed_deployments() {
    let mut old = shop();
    old.name = "aaa".into();
    let first = plan(&[old, shop()], &[], &[]);
    assert_eq!(port_of(&first, "aaa/frontend/admin"), 40000);
    let second = plan(&[shop()], &[gw("new", 0, &[])], &first.gateways);
    assert_eq!(port_of(&second, "new"), 40000);
    assert_eq!(
        port_of(&second, "shop/frontend/web"),
        port_of(&first, "shop/frontend/web")
    );
}

#[test]
fn plan_holds_back_a_gateway_whose_weights_are_wrong_and_plans_the_rest() {
    let mut bad = gw("bad", 0, &[]);
    bad.routes = vec![weighted("shop/frontend/web", 60), weighted("shop/9050", 30)];
    let p = plan(&[shop()], &[bad], &[]);
    assert!(p.gateway("bad").is_none());
    assert_eq!(p.held_back.len(), 1);
    assert_eq!(p.held_back[0].code, ErrorCode::GatewayRouteWeightError);
    assert_eq!(p.held_back[0].artifact.name, "bad");
    assert_eq!(p.gateways.len(), 2);
}

#[test]
fn plan_holds_back_stored_gateways_named_like_internal_ones_or_taken_names() {
    let mut d = shop();
    d.gateways = vec![gw("9050", 9050, &["frontend/web"])];
    let stored = [gw("shop/frontend/web", 0, &[]), gw("shop/9050", 9060, &[])];
    let p = plan(&[d], &stored, &[]);
    let codes: Vec<(ErrorCode, &str)> = p
        .held_back
        .iter()
        .map(|e| (e.code, e.artifact.name.as_str()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (ErrorCode::UnsupportedGatewayNameError, "shop/9050"),
            (ErrorCode::InternalGatewayCreateError, "shop/frontend/web")
        ]
    );
    assert_eq!(port_of(&p, "shop/9050"), 9050);
}

#[test]
fn plan_holds_back_sticky_tcp_internal_gateways() {
    let mut d = shop();
    let mut settings = Gateway::new("admin", GatewayPort::default());
    settings.sticky = Some(Sticky::Instance);
    d.clusters[0].gateways = vec![settings];
    let p = plan(&[d], &[], &[]);
    assert_eq!(p.held_back.len(), 1);
    assert_eq!(p.held_back[0].code, ErrorCode::StickyPortTypeError);
    assert_eq!(names(&p), vec!["shop/frontend/web"]);
}

#[test]
fn plan_holds_back_a_new_gateway_on_a_port_in_use() {
    let first = plan(&[], &[gw("old", 8080, &[])], &[]);
    let p = plan(
        &[],
        &[gw("old", 8080, &[]), gw("a-new", 8080, &[])],
        &first.gateways,
    );
    assert_eq!(names(&p), vec!["old"]);
    assert_eq!(p.held_back[0].code, ErrorCode::UnavailableGatewayPortError);
    assert_eq!(p.held_back[0].artifact.name, "a-new");
}

#[test]
fn plan_holds_back_gateways_when_the_range_is_full() {
    let config = GatewayPlanConfig {
        port_range: PortRange::new(40000, 40001).unwrap(),
        ..Default::default()
    };
    let users = [gw("a", 0, &[]), gw("b", 0, &[]), gw("c", 0, &[])];
    let p = plan_with(&[], &users, &[], &config);
    assert_eq!(names(&p), vec!["a", "b"]);
    assert_eq!(p.held_back[0].code, ErrorCode::NoAvailablePortError);
    assert!(p.held_back[0]
        .message
        .contains("No port available in the range [40000-40001] for gateway 'c'"));
}

#[test]
fn an_invalid_port_range_fails_the_plan() {
    let config = GatewayPlanConfig {
        port_range: PortRange {
            lower: 45000,
            upper: 40000,
        },
        ..Default::default()
    };
    let err = plan_gateways(&GatewayPlanInput {
        deployments: &[],
        gateways: &[],
        previous: &[],
        config: &config,
    })
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::NoAvailablePortError);
}

#[test]
fn an_internal_gateway_is_added_once_all_its_services_run() {
    let mut d = shop();
    d.clusters[0].services[1].instances.clear();
    let first = plan(&[d], &[], &[]);
    assert!(!first.gateway("shop/frontend/web").unwrap().deployable);
    assert_eq!(first.diff.added, vec!["shop/frontend/admin"]);
    let second = plan(&[shop()], &[], &first.gateways);
    assert_eq!(second.diff.added, vec!["shop/frontend/web"]);
    assert!(second.diff.removed.is_empty() && second.diff.changed.is_empty());
}

#[test]
fn diff_reports_added_removed_and_changed_gateways_with_their_events() {
    let first = plan(&[shop()], &[gw("keep", 0, &[]), gw("drop", 0, &[])], &[]);
    assert_eq!(first.diff.added.len(), 4);
    let mut moved = shop();
    moved.clusters[0].services[0].instances[0].host = "10.0.0.50".into();
    let second = plan(
        &[moved],
        &[gw("keep", 0, &[]), gw("fresh", 0, &[])],
        &first.gateways,
    );
    assert_eq!(second.diff.added, vec!["fresh"]);
    assert_eq!(second.diff.removed, vec!["drop"]);
    assert_eq!(
        second.diff.changed,
        vec!["shop/frontend/admin", "shop/frontend/web"]
    );
    assert_eq!(
        second.diff.event_tags(),
        vec![
            ["gateways:fresh".to_string(), "deployed".to_string()],
            ["gateways:drop".to_string(), "undeployed".to_string()]
        ]
    );
}

#[test]
fn planning_the_same_state_again_changes_nothing() {
    let users = [gw("alpha", 0, &["shop/frontend/web"])];
    let first = plan(&[shop()], &users, &[]);
    let second = plan(&[shop()], &users, &first.gateways);
    assert!(second.diff.is_empty(), "{:?}", second.diff);
    assert_eq!(first.gateways, second.gateways);
}

#[test]
fn deployable_gateways_are_the_marshallers_input() {
    let mut d = shop();
    d.clusters[0].services[1].instances.clear();
    let p = plan(&[d], &[gw("public", 0, &["nowhere"])], &[]);
    let deployable: Vec<&str> = p.deployable().map(|g| g.name.as_str()).collect();
    assert_eq!(deployable, vec!["public", "shop/frontend/admin"]);
    let json = serde_json::to_value(p.gateway("shop/frontend/web").unwrap()).unwrap();
    assert_eq!(json["deployed"], false);
    assert_eq!(json["internal"], true);
    assert_eq!(json["name"], "shop/frontend/web");
}

#[test]
fn plan_gateways_for_1000_deployments_quickly() {
    let deployments: Vec<Deployment> = (0..1000)
        .map(|i| {
            let name = format!("dep{i:04}");
            let clusters = (0..3)
                .map(|c| {
                    let services = (0..2)
                        .map(|v| {
                            let b = breed(
                                &format!("svc{c}:{v}"),
                                &[("web", "8080/http"), ("metrics", "9100/tcp")],
                            );
                            let instances = (0..2)
                                .map(|n| {
                                    instance(
                                        &format!("{name}-{c}-{v}-{n}"),
                                        "10.1.0.1",
                                        &[("web", 31000), ("metrics", 31001)],
                                    )
                                })
                                .collect();
                            service(b, instances)
                        })
                        .collect();
                    cluster(&format!("c{c}"), services)
                })
                .collect();
            let mut d = deployment(&name, clusters);
            d.gateways = vec![gw("80", 10000 + i, &["c0/web"])];
            d
        })
        .collect();
    let config = GatewayPlanConfig {
        port_range: PortRange::new(30000, 60000).unwrap(),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let p = plan_with(&deployments, &[], &[], &config);
    let elapsed = start.elapsed();
    assert!(p.held_back.is_empty(), "{:?}", p.held_back.first());
    assert_eq!(p.gateways.len(), 7000);
    assert!(p.held_back.is_empty());
    assert_eq!(p.deployable().count(), 7000);
    let again = plan_with(&deployments, &[], &p.gateways, &config);
    assert!(again.diff.is_empty());
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "planning took {elapsed:?}"
    );
}

#[test]
fn a_gateway_held_back_for_its_weights_keeps_its_port_reserved() {
    let first = plan(&[], &[gw("api", 0, &[])], &[]);
    assert_eq!(port_of(&first, "api"), 40000);
    let mut broken = gw("api", 0, &[]);
    broken.routes = vec![weighted("x", 70)];
    let second = plan(&[], &[broken, gw("newcomer", 0, &[])], &first.gateways);
    assert_eq!(second.held_back[0].code, ErrorCode::GatewayRouteWeightError);
    assert_eq!(port_of(&second, "newcomer"), 40001);
}
