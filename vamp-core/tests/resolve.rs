//! Deployment-time resolution end to end: environment precedence, dependency aliases, placeholders, what the
//! container receives, and the order clusters start in.

use chrono::{TimeZone, Utc};
use indexmap::IndexMap;

use vamp_core::dsl::ErrorCode;
use vamp_core::model::{
    Breed, Constant, Deployable, Deployment, DeploymentCluster, DeploymentService, EnvironmentVariable,
    Gateway, GatewayPort, GatewayService, Intention, Ref, ServiceStatus,
};
use vamp_core::resolve::{
    breed_cycle, check_breed_cycles, cluster_dependencies, cluster_order, container_environment,
    dependency_clusters, deployment_order, effective_environment, resolve_environment, Cycle, Strictness,
    Values,
};

fn var(key: &str, value: Option<&str>) -> EnvironmentVariable {
    let (name, alias) = vamp_core::model::traits::split_alias(key);
    EnvironmentVariable {
        name,
        alias,
        value: value.map(str::to_string),
        interpolated: None,
    }
}

fn breed(name: &str, env: &[(&str, Option<&str>)], deps: &[(&str, &str)]) -> Breed {
    let mut b = Breed::new(name, Deployable::docker(format!("acme/{name}")));
    b.environment_variables = env.iter().map(|(k, v)| var(k, *v)).collect();
    b.dependencies = deps
        .iter()
        .map(|(alias, dep)| (alias.to_string(), Ref::Named(dep.to_string())))
        .collect();
    b
}

fn service(breed: Breed, env: &[(&str, &str)]) -> DeploymentService {
    DeploymentService {
        status: ServiceStatus::initiated(Intention::Deployment, Utc.timestamp_opt(0, 0).unwrap()),
        breed,
        environment_variables: env.iter().map(|(k, v)| var(k, Some(v))).collect(),
        scale: None,
        instances: Vec::new(),
        arguments: Vec::new(),
        health_checks: None,
        network: None,
        dependencies: IndexMap::new(),
        dialects: IndexMap::new(),
        health: None,
    }
}

fn cluster(name: &str, services: Vec<DeploymentService>) -> DeploymentCluster {
    DeploymentCluster {
        name: name.to_string(),
        metadata: IndexMap::new(),
        services,
        gateways: Vec::new(),
        health_checks: None,
        network: None,
        sla: None,
        dialects: IndexMap::new(),
    }
}

fn deployment(clusters: Vec<DeploymentCluster>, env: &[(&str, &str)]) -> Deployment {
    let mut d = Deployment::new("shop");
    d.clusters = clusters;
    d.environment_variables = env.iter().map(|(k, v)| var(k, Some(v))).collect();
    d
}

fn values_of(vars: &[EnvironmentVariable]) -> Vec<(String, Option<String>)> {
    vars.iter().map(|v| (v.name.clone(), v.value.clone())).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect()
}

/// `shop`: cluster `frontend` (breed `web:1` depending on alias `db` → `postgres:9.6`) and cluster `database`.
fn shop(
    frontend_env: &[(&str, Option<&str>)],
    service_env: &[(&str, &str)],
    scope: &[(&str, &str)],
) -> Deployment {
    let web = breed("web:1", frontend_env, &[("db", "postgres:9.6")]);
    deployment(
        vec![
            cluster("frontend", vec![service(web, service_env)]),
            cluster("database", vec![service(breed("postgres:9.6", &[], &[]), &[])]),
        ],
        scope,
    )
}

fn frontend(d: &Deployment) -> (&DeploymentCluster, &DeploymentService) {
    let c = d.cluster("frontend").unwrap();
    (c, c.services.first().unwrap())
}

#[test]
fn breed_values_apply_when_nothing_overrides_them() {
    let d = shop(&[("A", Some("breed")), ("B", Some("breed"))], &[], &[]);
    let (c, s) = frontend(&d);
    assert_eq!(
        values_of(&effective_environment(&d, c, s).unwrap()),
        pairs(&[("A", "breed"), ("B", "breed")])
    );
}

#[test]
fn cluster_scope_overrides_breed_and_service_overrides_both() {
    let d = shop(
        &[("A", Some("breed")), ("B", Some("breed")), ("C", Some("breed"))],
        &[("C", "service")],
        &[("frontend.B", "cluster"), ("frontend.C", "cluster")],
    );
    let (c, s) = frontend(&d);
    assert_eq!(
        values_of(&effective_environment(&d, c, s).unwrap()),
        pairs(&[("A", "breed"), ("B", "cluster"), ("C", "service")])
    );
}

#[test]
fn cluster_scope_accepts_the_stored_three_part_name() {
    let d = shop(
        &[("B", Some("breed"))],
        &[],
        &[("frontend.environment_variables.B", "cluster")],
    );
    let (c, s) = frontend(&d);
    assert_eq!(
        values_of(&effective_environment(&d, c, s).unwrap()),
        pairs(&[("B", "cluster")])
    );
}

#[test]
fn cluster_scope_for_another_cluster_or_an_undeclared_variable_is_ignored() {
    let d = shop(
        &[("B", Some("breed"))],
        &[],
        &[("database.B", "other cluster"), ("frontend.NEW", "undeclared")],
    );
    let (c, s) = frontend(&d);
    assert_eq!(
        values_of(&effective_environment(&d, c, s).unwrap()),
        pairs(&[("B", "breed")])
    );
}

#[test]
fn placeholder_filled_by_cluster_scope_or_service_is_resolved() {
    let by_cluster = shop(&[("API_KEY", None)], &[], &[("frontend.API_KEY", "s3cr3t")]);
    let (c, s) = frontend(&by_cluster);
    assert_eq!(
        values_of(&effective_environment(&by_cluster, c, s).unwrap()),
        pairs(&[("API_KEY", "s3cr3t")])
    );
    let by_service = shop(&[("API_KEY", None)], &[("API_KEY", "other")], &[]);
    let (c, s) = frontend(&by_service);
    assert_eq!(
        values_of(&effective_environment(&by_service, c, s).unwrap()),
        pairs(&[("API_KEY", "other")])
    );
}

#[test]
fn unfilled_placeholder_names_variable_and_breed() {
    let d = shop(
        &[("A", Some("x")), ("API_KEY", None)],
        &[],
        &[("database.API_KEY", "wrong cluster")],
    );
    let (c, s) = frontend(&d);
    let err = effective_environment(&d, c, s).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedVariableValueError);
    assert_eq!(
        err.path,
        "clusters.frontend.services[0].environment_variables.API_KEY"
    );
    assert!(
        err.message.contains("'API_KEY' for breed 'web:1'"),
        "{}",
        err.message
    );
    assert!(err.message.contains("frontend.API_KEY"), "{}", err.message);
}

#[test]
fn alias_goes_to_the_container_and_survives_overrides() {
    let d = shop(
        &[("JAVA_OPTS[JVM_OPTS]", Some("-Xmx1g")), ("PLAIN", Some("p"))],
        &[("JAVA_OPTS", "-Xmx2g")],
        &[],
    );
    let (c, s) = frontend(&d);
    let vars = resolve_environment(&d, c, s, &Values::new(), Strictness::Strict).unwrap();
    let env = container_environment(&vars);
    assert_eq!(env.get("JVM_OPTS").map(String::as_str), Some("-Xmx2g"));
    assert_eq!(env.get("PLAIN").map(String::as_str), Some("p"));
    assert!(!env.contains_key("JAVA_OPTS"));
}

#[test]
fn dependency_alias_maps_to_the_cluster_running_the_breed() {
    let d = shop(&[], &[], &[]);
    let (_, s) = frontend(&d);
    let clusters = dependency_clusters(&d, &s.breed).unwrap();
    assert_eq!(
        clusters,
        IndexMap::from([("db".to_string(), "database".to_string())])
    );
}

#[test]
fn dependency_wildcard_matches_a_breed_name_prefix() {
    let web = breed("web:1", &[], &[("db", "postgres:*")]);
    let d = deployment(
        vec![
            cluster("cache", vec![service(breed("redis:3", &[], &[]), &[])]),
            cluster("pg", vec![service(breed("postgres:10.1", &[], &[]), &[])]),
        ],
        &[],
    );
    assert_eq!(
        dependency_clusters(&d, &web)
            .unwrap()
            .get("db")
            .map(String::as_str),
        Some("pg")
    );
}

#[test]
fn dependency_prefers_a_cluster_that_is_not_being_undeployed() {
    let web = breed("web:1", &[], &[("db", "postgres:*")]);
    let mut leaving = service(breed("postgres:9", &[], &[]), &[]);
    leaving.status = ServiceStatus::initiated(Intention::Undeployment, Utc.timestamp_opt(0, 0).unwrap());
    let d = deployment(
        vec![
            cluster("old", vec![leaving]),
            cluster("new", vec![service(breed("postgres:10", &[], &[]), &[])]),
        ],
        &[],
    );
    assert_eq!(
        dependency_clusters(&d, &web)
            .unwrap()
            .get("db")
            .map(String::as_str),
        Some("new")
    );
}

#[test]
fn missing_dependency_is_an_unresolved_dependency_error() {
    let web = breed("web:1", &[], &[("db", "mysql:5.7")]);
    let d = shop(&[], &[], &[]);
    let err = dependency_clusters(&d, &web).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedDependencyError);
    assert_eq!(err.path, "dependencies.db");
    assert!(
        err.message
            .starts_with("Unresolved dependency 'mysql:5.7' for breed 'web:1'."),
        "{}",
        err.message
    );
}

#[test]
fn wildcard_without_star_does_not_match_a_prefix() {
    let web = breed("web:1", &[], &[("db", "postgres")]);
    let d = shop(&[], &[], &[]);
    assert!(dependency_clusters(&d, &web).is_err());
}

fn gateway(name: &str, port: u16, service: Option<(&str, u16)>) -> Gateway {
    let mut g = Gateway::new(
        name,
        GatewayPort {
            number: port,
            ..GatewayPort::default()
        },
    );
    g.service = service.map(|(host, port)| GatewayService {
        host: host.to_string(),
        port,
    });
    g
}

#[test]
fn db_host_is_the_gateway_agent_and_db_port_the_cluster_gateway_port() {
    let d = shop(
        &[
            ("DB", Some("$db.host $db.ports.pg")),
            ("URL", Some("jdbc://$db.host:$db.ports.pg/shop")),
        ],
        &[],
        &[],
    );
    let (c, s) = frontend(&d);
    let values = Values::for_deployment(&d, "10.0.0.2", &[gateway("shop/database/pg", 40001, None)]);
    let vars = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap();
    let env = container_environment(&vars);
    assert_eq!(env.get("DB").map(String::as_str), Some("10.0.0.2 40001"));
    assert_eq!(
        env.get("URL").map(String::as_str),
        Some("jdbc://10.0.0.2:40001/shop")
    );
}

#[test]
fn host_port_pair_uses_the_deployed_gateway_address() {
    let d = shop(&[("URL", Some("$db.host:$db.ports.pg"))], &[], &[]);
    let (c, s) = frontend(&d);
    let values = Values::for_deployment(
        &d,
        "vga",
        &[gateway("shop/database/pg", 40001, Some(("10.9.9.9", 40001)))],
    );
    let vars = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap();
    assert_eq!(
        vars.first().and_then(|v| v.interpolated.as_deref()),
        Some("10.9.9.9:40001")
    );
}

#[test]
fn unassigned_gateway_port_is_empty_when_lenient_and_an_error_when_strict() {
    let d = shop(&[("URL", Some("http://$db.host:$db.ports.pg/"))], &[], &[]);
    let (c, s) = frontend(&d);
    let values = Values::for_deployment(&d, "vga", &[gateway("shop/database/pg", 0, None)]);
    let lenient = resolve_environment(&d, c, s, &values, Strictness::Lenient).unwrap();
    assert_eq!(
        lenient.first().and_then(|v| v.interpolated.as_deref()),
        Some("http:///")
    );
    let err = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedEnvironmentValueError);
    assert_eq!(
        err.path,
        "clusters.frontend.services[0].environment_variables.URL"
    );
    assert!(
        err.message.contains("${db.host}:${db.ports.pg}"),
        "{}",
        err.message
    );
}

#[test]
fn malformed_value_is_a_value_reference_error_with_its_position() {
    let d = shop(&[("PRICE", Some("5$"))], &[], &[]);
    let (c, s) = frontend(&d);
    let err = resolve_environment(&d, c, s, &Values::new(), Strictness::Lenient).unwrap_err();
    assert_eq!(err.code, ErrorCode::ParserError);
    assert!(err.message.contains("at character 2"), "{}", err.message);
}

#[test]
fn local_references_read_own_variables_and_constants() {
    let mut d = shop(
        &[("HOST", Some("$db.host")), ("URL", Some("http://$HOST/$SCHEMA"))],
        &[],
        &[],
    );
    d.clusters[0].services[0].breed.constants = vec![Constant {
        name: "SCHEMA".into(),
        alias: None,
        value: "shop".into(),
    }];
    let (c, s) = frontend(&d);
    let values = Values::new().with_host("database", "vga");
    let vars = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap();
    assert_eq!(
        container_environment(&vars).get("URL").map(String::as_str),
        Some("http://vga/shop")
    );
}

#[test]
fn local_reference_cycle_is_unresolved() {
    let d = shop(&[("A", Some("$B")), ("B", Some("$A"))], &[], &[]);
    let (c, s) = frontend(&d);
    let err = resolve_environment(&d, c, s, &Values::new(), Strictness::Strict).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnresolvedEnvironmentValueError);
    let lenient = resolve_environment(&d, c, s, &Values::new(), Strictness::Lenient).unwrap();
    assert_eq!(lenient.first().and_then(|v| v.interpolated.as_deref()), Some(""));
}

#[test]
fn cluster_scope_values_use_cluster_names_not_aliases() {
    let d = shop(
        &[("PEER", Some("$db.host"))],
        &[],
        &[("frontend.PEER", "$db.host")],
    );
    let (c, s) = frontend(&d);
    let values = Values::new()
        .with_host("database", "alias db")
        .with_host("db", "cluster db");
    let vars = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap();
    assert_eq!(
        vars.first().and_then(|v| v.interpolated.as_deref()),
        Some("cluster db")
    );
}

#[test]
fn already_interpolated_values_are_kept() {
    let mut d = shop(&[("A", Some("$db.host"))], &[], &[]);
    d.clusters[0].services[0].environment_variables = vec![EnvironmentVariable {
        interpolated: Some("kept".into()),
        ..var("A", Some("$db.host"))
    }];
    let (c, s) = frontend(&d);
    let vars = resolve_environment(&d, c, s, &Values::new(), Strictness::Strict).unwrap();
    assert_eq!(vars.first().and_then(|v| v.interpolated.as_deref()), Some("kept"));
}

#[test]
fn config_reference_reads_the_configuration() {
    let d = shop(&[("VGA", Some("${config://vamp.gateway-driver.host}"))], &[], &[]);
    let (c, s) = frontend(&d);
    let values = Values::new().with_config("vamp.gateway-driver.host", "10.0.0.7");
    let vars = resolve_environment(&d, c, s, &values, Strictness::Strict).unwrap();
    assert_eq!(
        container_environment(&vars).get("VGA").map(String::as_str),
        Some("10.0.0.7")
    );
}

#[test]
fn other_clusters_environment_and_constants_are_referable() {
    let mut pg = breed("postgres:9.6", &[("USER", Some("shop"))], &[]);
    pg.constants = vec![Constant {
        name: "SCHEMA".into(),
        alias: None,
        value: "public".into(),
    }];
    let web = breed(
        "web:1",
        &[("U", Some("$db.environment_variables.USER/$db.constants.SCHEMA"))],
        &[("db", "postgres:9.6")],
    );
    let d = deployment(
        vec![
            cluster("frontend", vec![service(web, &[])]),
            cluster("database", vec![service(pg, &[])]),
        ],
        &[],
    );
    let (c, s) = frontend(&d);
    let vars = resolve_environment(
        &d,
        c,
        s,
        &Values::for_deployment(&d, "vga", &[]),
        Strictness::Strict,
    )
    .unwrap();
    assert_eq!(
        vars.first().and_then(|v| v.interpolated.as_deref()),
        Some("shop/public")
    );
}

fn graph(edges: &[(&str, &[&str])]) -> IndexMap<String, Vec<String>> {
    edges
        .iter()
        .map(|(n, ds)| (n.to_string(), ds.iter().map(|d| d.to_string()).collect()))
        .collect()
}

fn layers(items: &[&[&str]]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn independent_nodes_form_one_sorted_layer() {
    let order = deployment_order(&graph(&[("c", &[]), ("a", &[]), ("b", &[])])).unwrap();
    assert_eq!(order, layers(&[&["a", "b", "c"]]));
}

#[test]
fn dependencies_start_in_earlier_layers() {
    let order = deployment_order(&graph(&[
        ("web", &["api", "cache"]),
        ("api", &["db"]),
        ("cache", &[]),
        ("db", &[]),
        ("worker", &["db"]),
    ]))
    .unwrap();
    assert_eq!(order, layers(&[&["cache", "db"], &["api", "worker"], &["web"]]));
}

#[test]
fn order_does_not_depend_on_insertion_order() {
    let one = graph(&[("web", &["db"]), ("db", &[]), ("api", &["db"])]);
    let other = graph(&[("api", &["db"]), ("db", &[]), ("web", &["db"])]);
    assert_eq!(deployment_order(&one).unwrap(), deployment_order(&other).unwrap());
}

#[test]
fn direct_cycle_is_named() {
    let err = deployment_order(&graph(&[("a", &["a"]), ("b", &[])])).unwrap_err();
    assert_eq!(err.to_string(), "a -> a");
}

#[test]
fn two_node_cycle_is_named() {
    let err = deployment_order(&graph(&[("b", &["a"]), ("a", &["b"])])).unwrap_err();
    assert_eq!(
        err,
        Cycle {
            path: vec!["a".into(), "b".into(), "a".into()]
        }
    );
}

#[test]
fn three_node_cycle_is_named_from_its_smallest_name() {
    let err = deployment_order(&graph(&[
        ("x", &[]),
        ("c", &["a", "x"]),
        ("b", &["c"]),
        ("a", &["b"]),
    ]))
    .unwrap_err();
    assert_eq!(err.to_string(), "a -> b -> c -> a");
}

#[test]
fn cycle_behind_a_dependent_names_only_the_cycle() {
    let err = deployment_order(&graph(&[("top", &["p"]), ("p", &["q"]), ("q", &["p"])])).unwrap_err();
    assert_eq!(err.to_string(), "p -> q -> p");
}

#[test]
fn breed_without_dependencies_has_no_cycle() {
    assert_eq!(breed_cycle(&breed("a", &[], &[])), None);
    assert!(check_breed_cycles(&breed("a", &[], &[("b", "b")])).is_ok());
}

#[test]
fn breed_depending_on_itself_is_a_direct_cycle() {
    let a = breed("a", &[], &[("me", "a")]);
    assert_eq!(breed_cycle(&a), Some(vec!["a".to_string(), "a".to_string()]));
    let err = check_breed_cycles(&a).unwrap_err();
    assert_eq!(err.code, ErrorCode::RecursiveDependenciesError);
    assert!(err.message.contains("a -> a"), "{}", err.message);
}

#[test]
fn inline_dependencies_are_followed_to_an_indirect_cycle() {
    let c = breed("c", &[], &[("back", "a")]);
    let mut b = breed("b", &[], &[]);
    b.dependencies.insert("c".into(), Ref::Inline(c));
    let mut a = breed("a", &[], &[("other", "z")]);
    a.dependencies.insert("b".into(), Ref::Inline(b));
    assert_eq!(
        breed_cycle(&a),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert!(check_breed_cycles(&a)
        .unwrap_err()
        .message
        .contains("a -> b -> c -> a"));
}

#[test]
fn a_wildcard_never_closes_a_breed_cycle() {
    assert_eq!(breed_cycle(&breed("a:1", &[], &[("x", "a*")])), None);
}

#[test]
fn clusters_depend_on_the_clusters_that_satisfy_their_dependencies() {
    let d = deployment(
        vec![
            cluster(
                "frontend",
                vec![service(breed("web:1", &[], &[("api", "api:*")]), &[])],
            ),
            cluster(
                "backend",
                vec![service(breed("api:2", &[], &[("db", "postgres:9.6")]), &[])],
            ),
            cluster("database", vec![service(breed("postgres:9.6", &[], &[]), &[])]),
        ],
        &[],
    );
    assert_eq!(
        cluster_dependencies(&d),
        graph(&[
            ("frontend", &["backend"]),
            ("backend", &["database"]),
            ("database", &[])
        ])
    );
    assert_eq!(
        cluster_order(&d).unwrap(),
        layers(&[&["database"], &["backend"], &["frontend"]])
    );
}

#[test]
fn a_dependency_inside_the_same_cluster_adds_no_edge() {
    let d = deployment(
        vec![cluster(
            "all",
            vec![
                service(breed("web:1", &[], &[("db", "postgres:9.6")]), &[]),
                service(breed("postgres:9.6", &[], &[]), &[]),
            ],
        )],
        &[],
    );
    assert_eq!(cluster_order(&d).unwrap(), layers(&[&["all"]]));
}

#[test]
fn clusters_depending_on_each_other_are_a_cycle() {
    let d = deployment(
        vec![
            cluster("a", vec![service(breed("x:1", &[], &[("y", "y:1")]), &[])]),
            cluster("b", vec![service(breed("y:1", &[], &[("x", "x:1")]), &[])]),
        ],
        &[],
    );
    assert_eq!(cluster_order(&d).unwrap_err().to_string(), "a -> b -> a");
}
