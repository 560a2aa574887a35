//! The Kubernetes driver against a wire-level double of the Kubernetes API (`support/kube_double`): the driver
//! conformance suite, then what the suite cannot see — the objects the driver writes (names, labels, resources,
//! environment, ports, probes, dialect), gateway Services, propagation, and an API server that is down.
//!
//! No real API server ran: none can be installed where these tests were written. The double implements the
//! documented REST subset the driver uses.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use vamp_core::driver::{ContainerDriver, ServiceId, ServiceSpec};
use vamp_core::model::{Argument, Deployable, Gateway, GatewayPort, HealthCheck, Port, Scale, Seconds};
use vamp_core::testkit::unique;
use vamp_core::ErrorKind;
use vamp_drivers::kubernetes::{naming, KubernetesConfig, KubernetesDriver, ServiceType};

#[path = "support/kube_double/mod.rs"]
mod kube_double;

use kube_double::{KubeDouble, Resource};

fn shared_double() -> &'static KubeDouble {
    static DOUBLE: OnceLock<KubeDouble> = OnceLock::new();
    DOUBLE.get_or_init(KubeDouble::start)
}

async fn connect(url: &str) -> KubernetesDriver {
    match KubernetesDriver::connect(url).await {
        Ok(driver) => driver,
        Err(e) => panic!("connect {url}: {e}"),
    }
}

vamp_core::driver_conformance!(
    kubernetes_double,
    || async { Arc::new(connect(&shared_double().url()).await) },
    skip = "kubernetes"
);

/// A plain kube client of the double, for changes made "in the cluster" behind the driver's back.
fn cluster_client(double: &KubeDouble) -> kube::Client {
    let uri = format!("http://{}", double.url().trim_start_matches("kubernetes://"));
    kube::Client::try_from(kube::Config::new(uri.parse().expect("uri"))).expect("client")
}

fn web_port() -> Port {
    Port {
        name: "web".into(),
        value: "8080".into(),
        protocol: Default::default(),
    }
}

fn spec(namespace: &str, cluster: &str, service: &str) -> ServiceSpec {
    let mut spec = ServiceSpec::new(
        ServiceId::new(namespace, "shop", cluster, service),
        Deployable::docker("magneticio/sava:1.0.0"),
        Scale::new(0.1, 64.0, 1),
    );
    spec.ports = vec![web_port()];
    spec.environment.insert("GREETING".into(), "hello".into());
    spec
}

fn check(protocol: &str) -> HealthCheck {
    HealthCheck {
        path: "/health".into(),
        port: "web".into(),
        initial_delay: Seconds(30),
        timeout: Seconds(5),
        interval: Seconds(10),
        failures: 3,
        protocol: protocol.into(),
    }
}

fn stored(double: &KubeDouble, spec: &ServiceSpec) -> Value {
    let name = naming::deployment_name(&spec.id);
    double
        .deployment(&spec.id.namespace, &name)
        .unwrap_or_else(|| panic!("the double holds no Deployment {}/{name}", spec.id.namespace))
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

async fn deployed(spec: &ServiceSpec) -> (KubeDouble, KubernetesDriver, Value) {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    if let Err(e) = driver.deploy(spec).await {
        panic!("deploy {}: {e}", spec.id);
    }
    let deployment = stored(&double, spec);
    (double, driver, deployment)
}

async fn refused(spec: &ServiceSpec) -> vamp_core::Error {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let err = driver.deploy(spec).await.expect_err("deploy should be refused");
    assert!(
        double
            .objects(Resource::Deployments, &spec.id.namespace)
            .is_empty(),
        "a refused deploy left a Deployment"
    );
    err
}

// --- names and labels -----------------------------------------------------------------------------------------

#[tokio::test]
async fn the_deployment_is_named_deployment_cluster_service() {
    let spec = spec("default", "web", "sava");
    let (double, _, deployment) = deployed(&spec).await;
    assert_eq!(deployment["metadata"]["name"], "shop-web-sava");
    assert_eq!(deployment["metadata"]["namespace"], "default");
    assert!(double.deployment("default", "shop-web-sava").is_some());
}

#[tokio::test]
async fn long_and_invalid_name_parts_are_hashed() {
    let mut spec = spec("default", &"a".repeat(40), "sava:1.0");
    spec.id.deployment = "Shop".into();
    let (_double, _, deployment) = deployed(&spec).await;
    assert_eq!(
        deployment["metadata"]["name"],
        "55de88709232ec03a761-a56559418dc7908ce5f0-8259114c98c0e9ee1003"
    );
    assert_eq!(container(&deployment)["name"], "8259114c98c0e9ee1003");
}

#[tokio::test]
async fn a_namespace_that_is_no_dns_label_gets_a_hashed_kubernetes_namespace() {
    let spec = spec("Tenant A", "web", "sava");
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    driver.deploy(&spec).await.expect("deploy");
    let k8s_namespace = naming::namespace_name("Tenant A");
    assert!(k8s_namespace.starts_with("vamp-"));
    assert_eq!(double.objects(Resource::Deployments, &k8s_namespace).len(), 1);
    let listed = driver.list("Tenant A").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, spec.id);
}

#[tokio::test]
async fn labels_are_sanitized_and_the_full_values_annotated() {
    let spec = spec("default", "web", "sava:1.0");
    let (_double, _, deployment) = deployed(&spec).await;
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["io.vamp.namespace"], "default");
    assert_eq!(labels["io.vamp.deployment"], "shop");
    assert_eq!(labels["io.vamp.cluster"], "web");
    assert_eq!(labels["io.vamp.service"], "sava_1.0-8259114c98");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "vamp");
    let annotations = &deployment["metadata"]["annotations"];
    assert_eq!(annotations["io.vamp.service"], "sava:1.0");
    assert_eq!(annotations["io.vamp.deployable-type"], "container/docker");
    assert_eq!(annotations["io.vamp.ports"], r#"{"web":8080}"#);
}

#[tokio::test]
async fn the_selector_is_the_four_id_labels_and_pods_carry_them() {
    let spec = spec("default", "web", "sava");
    let (double, _, deployment) = deployed(&spec).await;
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    assert_eq!(
        selector,
        &json!({"io.vamp.cluster": "web", "io.vamp.deployment": "shop", "io.vamp.namespace": "default",
                "io.vamp.service": "sava"})
    );
    let pods = double.objects(Resource::Pods, "default");
    assert_eq!(pods.len(), 1);
    for (key, value) in selector.as_object().into_iter().flatten() {
        assert_eq!(&pods[0]["metadata"]["labels"][key], value, "pod label {key}");
    }
}

// --- the pod spec ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn replicas_and_resources_come_from_the_scale() {
    let mut spec = spec("default", "web", "sava");
    spec.scale = Scale::new(0.25, 128.0, 3);
    let (double, _, deployment) = deployed(&spec).await;
    assert_eq!(deployment["spec"]["replicas"], 3);
    let resources = &container(&deployment)["resources"];
    assert_eq!(resources["requests"], json!({"cpu": "250m", "memory": "128Mi"}));
    assert_eq!(resources["limits"], json!({"memory": "128Mi"}));
    assert_eq!(double.objects(Resource::Pods, "default").len(), 3);
}

#[tokio::test]
async fn environment_image_and_ports_are_set_on_the_container() {
    let mut spec = spec("default", "web", "sava");
    spec.ports.push(Port {
        name: "admin".into(),
        value: "9090".into(),
        protocol: Default::default(),
    });
    let (_double, _, deployment) = deployed(&spec).await;
    let container = container(&deployment);
    assert_eq!(container["image"], "magneticio/sava:1.0.0");
    assert_eq!(container["env"], json!([{"name": "GREETING", "value": "hello"}]));
    assert_eq!(
        container["ports"],
        json!([{"name": "p8080", "containerPort": 8080, "protocol": "TCP"},
               {"name": "p9090", "containerPort": 9090, "protocol": "TCP"}])
    );
}

#[tokio::test]
async fn a_port_without_a_number_is_invalid() {
    let mut spec = spec("default", "web", "sava");
    spec.ports[0].value = "$port".into();
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn the_privileged_argument_sets_the_security_context() {
    let mut spec = spec("default", "web", "sava");
    spec.arguments.push(Argument {
        key: "privileged".into(),
        value: "true".into(),
    });
    let (_double, _, deployment) = deployed(&spec).await;
    assert_eq!(
        container(&deployment)["securityContext"],
        json!({"privileged": true})
    );

    let unprivileged = self::spec("default", "web", "sava");
    let (_double, _, deployment) = deployed(&unprivileged).await;
    assert!(container(&deployment).get("securityContext").is_none());
}

#[tokio::test]
async fn other_arguments_are_invalid() {
    let mut spec = spec("default", "web", "sava");
    spec.arguments.push(Argument {
        key: "log-driver".into(),
        value: "syslog".into(),
    });
    let err = refused(&spec).await;
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.message().contains("log-driver"), "{}", err.message());
    spec.arguments = vec![Argument {
        key: "privileged".into(),
        value: "sometimes".into(),
    }];
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn the_host_network_is_asked_for_by_network_host() {
    let mut spec = spec("default", "web", "sava");
    spec.network = Some("HOST".into());
    let (_double, _, deployment) = deployed(&spec).await;
    assert_eq!(deployment["spec"]["template"]["spec"]["hostNetwork"], true);
    spec.network = Some("overlay-7".into());
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn an_http_health_check_becomes_liveness_and_readiness_probes() {
    let mut spec = spec("default", "web", "sava");
    spec.health_checks = vec![check("HTTP")];
    let (_double, driver, deployment) = deployed(&spec).await;
    let expected = json!({
        "httpGet": {"path": "/health", "port": "p8080", "scheme": "HTTP"},
        "initialDelaySeconds": 30, "timeoutSeconds": 5, "periodSeconds": 10, "failureThreshold": 3,
    });
    assert_eq!(container(&deployment)["livenessProbe"], expected);
    assert_eq!(container(&deployment)["readinessProbe"], expected);
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed[0].health_checks.as_deref(), Some(&spec.health_checks[..]));
}

#[tokio::test]
async fn a_tcp_health_check_becomes_a_tcp_socket_probe() {
    let mut spec = spec("default", "web", "sava");
    spec.health_checks = vec![check("TCP")];
    let (_double, _, deployment) = deployed(&spec).await;
    assert_eq!(
        container(&deployment)["livenessProbe"]["tcpSocket"],
        json!({"port": "p8080"})
    );
    assert!(container(&deployment)["livenessProbe"].get("httpGet").is_none());
}

#[tokio::test]
async fn health_checks_kubernetes_cannot_run_are_invalid() {
    let mut two = spec("default", "web", "sava");
    two.health_checks = vec![check("HTTP"), check("TCP")];
    assert_eq!(refused(&two).await.kind(), ErrorKind::Invalid);
    let mut unknown_port = spec("default", "web", "sava");
    unknown_port.health_checks = vec![HealthCheck {
        port: "metrics".into(),
        ..check("HTTP")
    }];
    assert_eq!(refused(&unknown_port).await.kind(), ErrorKind::Invalid);
    let mut unknown_protocol = spec("default", "web", "sava");
    unknown_protocol.health_checks = vec![check("GRPC")];
    assert_eq!(refused(&unknown_protocol).await.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn the_kubernetes_dialect_is_merged_under_the_pod_spec() {
    let mut spec = spec("default", "web", "sava");
    spec.dialects.insert(
        "kubernetes".into(),
        json!({
            "nodeSelector": {"disk": "ssd"},
            "containers": [
                {"image": "ignored:latest", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "proxy", "image": "envoyproxy/envoy:v1.30"}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}]
        }),
    );
    let (_double, driver, deployment) = deployed(&spec).await;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(pod["volumes"], json!([{"name": "data", "emptyDir": {}}]));
    assert_eq!(
        pod["containers"][0]["image"], "magneticio/sava:1.0.0",
        "Vamp's image wins"
    );
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/data");
    assert_eq!(pod["containers"][1]["name"], "proxy");
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed[0].deployable.definition, "magneticio/sava:1.0.0");
}

#[tokio::test]
async fn a_dialect_that_is_no_pod_spec_is_invalid() {
    let mut spec = spec("default", "web", "sava");
    spec.dialects
        .insert("kubernetes".into(), json!(["not", "a", "map"]));
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Invalid);
    spec.dialects
        .insert("kubernetes".into(), json!({"nodeSelector": 5}));
    let err = refused(&spec).await;
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.message().contains("dialect"), "{}", err.message());
}

#[tokio::test]
async fn rkt_deployables_run_and_commands_do_not() {
    let mut spec = spec("default", "web", "sava");
    spec.deployable = Deployable {
        kind: "rkt".into(),
        definition: "magneticio/sava:1.0.0".into(),
    };
    let (_double, driver, _) = deployed(&spec).await;
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed[0].deployable.normalized_kind(), "container/rkt");
    spec.deployable = Deployable {
        kind: "command".into(),
        definition: "sleep 100".into(),
    };
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Unsupported);
    spec.deployable = Deployable::docker(" ");
    assert_eq!(refused(&spec).await.kind(), ErrorKind::Invalid);
}

// --- the API calls ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn deploy_creates_the_namespace_and_applies_server_side() {
    let spec = spec("shop-prod", "web", "sava");
    let (double, _, _) = deployed(&spec).await;
    assert!(double.namespace("shop-prod").is_some());
    let requests = double.requests();
    assert!(
        requests.iter().any(|r| {
            r.starts_with(
            "PATCH /apis/apps/v1/namespaces/shop-prod/deployments/shop-web-sava?fieldManager=vamp&force=true \
             application/apply-patch+yaml"
        )
        }),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn a_namespace_deleted_behind_vamps_back_is_created_again() {
    let spec = spec("shop-prod", "web", "sava");
    let (double, driver, _) = deployed(&spec).await;
    let namespaces: Api<Namespace> = Api::all(cluster_client(&double));
    namespaces
        .delete("shop-prod", &DeleteParams::default())
        .await
        .expect("delete namespace");
    assert!(double.namespace("shop-prod").is_none());
    driver
        .deploy(&spec)
        .await
        .expect("deploy after the namespace went");
    assert!(double.namespace("shop-prod").is_some());
    assert_eq!(driver.list("shop-prod").await.expect("list").len(), 1);
}

#[tokio::test]
async fn no_namespace_is_created_when_that_is_turned_off() {
    let double = KubeDouble::start();
    let driver = connect(&format!("{}?create-namespaces=false", double.url())).await;
    let err = driver
        .deploy(&spec("absent", "web", "sava"))
        .await
        .expect_err("no namespace");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("absent"), "{}", err.message());
    assert!(double.namespace("absent").is_none());
}

#[tokio::test]
async fn deploying_the_same_spec_again_writes_nothing() {
    let spec = spec("default", "web", "sava");
    let (double, driver, first) = deployed(&spec).await;
    driver.deploy(&spec).await.expect("second deploy");
    let second = stored(&double, &spec);
    assert_eq!(
        second["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert_eq!(second["metadata"]["generation"], 1);
}

#[tokio::test]
async fn an_update_changes_the_deployment_and_replaces_the_pods() {
    let mut spec = spec("default", "web", "sava");
    let (double, driver, _) = deployed(&spec).await;
    let before: Vec<Value> = double.objects(Resource::Pods, "default");
    spec.environment.insert("GREETING".into(), "bye".into());
    spec.scale.instances = 2;
    driver.deploy(&spec).await.expect("update");
    let deployment = stored(&double, &spec);
    assert_eq!(deployment["metadata"]["generation"], 2);
    let after = double.objects(Resource::Pods, "default");
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "pods of the old template remain"
    );
    let listed = driver.list("default").await.expect("list");
    assert_eq!(
        listed[0].environment.get("GREETING").map(String::as_str),
        Some("bye")
    );
    assert_eq!(listed[0].instances.len(), 2);
}

#[tokio::test]
async fn list_reports_instances_with_pod_ips_and_breed_port_names() {
    let mut spec = spec("default", "web", "sava");
    spec.scale.instances = 2;
    let (_double, driver, _) = deployed(&spec).await;
    let listed = driver.list("default").await.expect("list");
    let service = &listed[0];
    assert_eq!((service.health.running, service.health.healthy), (2, 2));
    for instance in &service.instances {
        assert!(instance.host.starts_with("10.0."), "{instance:?}");
        assert_eq!(instance.ports.get("web"), Some(&8080));
        assert!(instance.deployed);
        assert!(instance.name.starts_with("shop-web-sava-"), "{instance:?}");
    }
    let mut names: Vec<&str> = service.instances.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        service
            .instances
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn pending_pods_are_staged_until_they_run() {
    let double = KubeDouble::start();
    double.set_pods_pending(true);
    let driver = connect(&double.url()).await;
    let mut spec = spec("default", "web", "sava");
    spec.scale.instances = 2;
    driver.deploy(&spec).await.expect("deploy");
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed[0].health.staged, 2);
    assert_eq!(listed[0].health.running, 0);
    assert!(listed[0]
        .instances
        .iter()
        .all(|i| !i.deployed && i.host.is_empty()));
    double.set_pods_pending(false);
    let listed = driver.list("default").await.expect("list");
    assert_eq!((listed[0].health.staged, listed[0].health.running), (0, 2));
}

#[tokio::test]
async fn list_reports_what_runs_after_a_change_in_the_cluster() {
    let spec = spec("default", "web", "sava");
    let (double, driver, _) = deployed(&spec).await;
    let client = cluster_client(&double);
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.patch(
        "shop-web-sava",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .expect("merge patch");
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed[0].scale.instances, 3);
    assert_eq!(listed[0].instances.len(), 3);
}

#[tokio::test]
async fn deployments_without_vamp_annotations_are_not_listed() {
    let spec = spec("default", "web", "sava");
    let (double, driver, deployment) = deployed(&spec).await;
    let client = cluster_client(&double);
    let mut foreign = deployment.clone();
    foreign["metadata"] = json!({"name": "foreign", "labels": deployment["metadata"]["labels"]});
    let foreign: Deployment = serde_json::from_value(foreign).expect("deployment");
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &foreign)
        .await
        .expect("create foreign");
    let listed = driver.list("default").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, spec.id);
}

#[tokio::test]
async fn undeploy_deletes_the_deployment_and_its_pods_and_is_idempotent() {
    let spec = spec("default", "web", "sava");
    let (double, driver, _) = deployed(&spec).await;
    driver.undeploy(&spec.id).await.expect("undeploy");
    assert!(double.objects(Resource::Deployments, "default").is_empty());
    assert!(double.objects(Resource::Pods, "default").is_empty());
    driver.undeploy(&spec.id).await.expect("undeploy again");
    let deletes = double
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("DELETE "))
        .count();
    assert_eq!(deletes, 2);
}

#[tokio::test]
async fn a_foreground_undeploy_hides_the_deployment_while_it_is_deleted() {
    let double = KubeDouble::start();
    let driver = connect(&format!("{}?propagation=foreground", double.url())).await;
    let spec = spec("default", "web", "sava");
    driver.deploy(&spec).await.expect("deploy");
    driver.undeploy(&spec.id).await.expect("undeploy");
    let marked = stored(&double, &spec);
    assert!(marked["metadata"]["deletionTimestamp"].is_string(), "{marked}");
    assert!(driver.list("default").await.expect("list").is_empty());
    assert!(
        !double.objects(Resource::Pods, "default").is_empty(),
        "foreground deletion keeps the pods at first"
    );
    let deadline = tokio::time::Instant::now() + kube_double::FOREGROUND_DELAY * 10;
    while double.deployment("default", "shop-web-sava").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Deployment was never removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(double.objects(Resource::Pods, "default").is_empty());
}

#[tokio::test]
async fn info_reports_the_api_server_version() {
    let double = KubeDouble::start();
    let info = connect(&double.url()).await.info().await.expect("info");
    assert_eq!(info.kind, "kubernetes");
    assert_eq!(info.version, "v1.37.0-vamp-double");
    assert_eq!(info.deployable_types, ["container/docker", "container/rkt"]);
}

#[tokio::test]
async fn a_bearer_token_is_sent_to_an_explicit_api_server() {
    let double = KubeDouble::start();
    let config = KubernetesConfig {
        bearer: Some("t0ken".into()),
        ..KubernetesConfig::default()
    };
    let driver = KubernetesDriver::connect_with(&double.url(), config)
        .await
        .expect("connect");
    driver.info().await.expect("info");
    assert_eq!(double.authorizations(), ["Bearer t0ken"]);
    assert!(
        !format!("{driver:?}").contains("t0ken"),
        "the token shows in Debug"
    );
}

#[tokio::test]
async fn an_api_server_that_is_down_is_retryable_unavailable() {
    let mut double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let spec = spec("default", "web", "sava");
    driver.deploy(&spec).await.expect("deploy while up");
    double.stop();
    let failures = [
        driver.info().await.err(),
        driver.list("default").await.err(),
        driver.deploy(&spec).await.err(),
        driver.undeploy(&spec.id).await.err(),
    ];
    for failure in failures {
        let err = failure.expect("a call to a stopped API server failed");
        assert_eq!(err.kind(), ErrorKind::Unavailable { retryable: true }, "{err}");
        assert!(err.is_retryable());
        assert!(err.message().contains("127.0.0.1"), "{}", err.message());
    }
}

// --- the double's own answers ------------------------------------------------------------------------------------

#[tokio::test]
async fn the_double_answers_failures_with_status_objects() {
    let double = KubeDouble::start();
    let client = cluster_client(&double);
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let status = |e: kube::Error| match e {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("not a Status: {other}"),
    };
    let missing = api.get("absent").await.expect_err("absent");
    assert_eq!(status(missing), (404, "NotFound".to_string()));

    let spec = spec("default", "web", "sava");
    let manifest = vamp_drivers::kubernetes::manifest::deployment(&spec, "default").expect("manifest");
    let deployment: Deployment = serde_json::from_value(manifest).expect("typed");
    let no_namespace = api
        .create(&PostParams::default(), &deployment)
        .await
        .expect_err("no namespace");
    assert_eq!(status(no_namespace), (404, "NotFound".to_string()));

    connect(&double.url()).await.deploy(&spec).await.expect("deploy");
    let twice = api
        .create(&PostParams::default(), &deployment)
        .await
        .expect_err("exists");
    assert_eq!(status(twice), (409, "AlreadyExists".to_string()));

    let mut bad = deployment.clone();
    bad.metadata.name = Some("Bad_Name".into());
    let invalid = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("invalid");
    assert_eq!(status(invalid), (422, "Invalid".to_string()));

    let mut relabelled = deployment.clone();
    relabelled.metadata.resource_version = None;
    if let Some(labels) = relabelled.spec.selector.match_labels.as_mut() {
        labels.insert("io.vamp.cluster".into(), "other".into());
    }
    let immutable = api
        .patch(
            "shop-web-sava",
            &PatchParams::apply("vamp").force(),
            &Patch::Apply(&relabelled),
        )
        .await
        .expect_err("selector is immutable");
    assert_eq!(status(immutable), (422, "Invalid".to_string()));
}

// --- gateway Services ------------------------------------------------------------------------------------------

fn gateway(name: &str, port: u16) -> Gateway {
    Gateway::new(
        name,
        GatewayPort {
            number: port,
            protocol: Default::default(),
        },
    )
}

#[tokio::test]
async fn a_gateway_service_selects_the_gateway_agent_pods() {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let gateway = gateway("shop/8080", 9050);
    let deployed = driver
        .deploy_gateway_service("default", &gateway)
        .await
        .expect("deploy gateway service")
        .expect("services are on by default");
    let name = "hexbdc65b12e97b34edbb79";
    assert_eq!(deployed.name, name);
    let service = double.service("default", name).expect("stored Service");
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(
        service["spec"]["selector"],
        json!({"io.vamp": "vamp-gateway-agent"})
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 9050);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 9050);
    assert_eq!(service["spec"]["ports"][0]["name"], "port");
    let labels = &service["metadata"]["labels"];
    assert_eq!(labels["io.vamp"], "gateway");
    assert_eq!(labels["io.vamp.lookup_name"], gateway.lookup_name());
    assert!(labels["io.vamp.gateway"]
        .as_str()
        .is_some_and(|v| v.starts_with("shop_8080-")));
    assert_eq!(service["metadata"]["annotations"]["io.vamp.gateway"], "shop/8080");
    assert_eq!(deployed.gateway, "shop/8080");
    assert_eq!(deployed.lookup_name, gateway.lookup_name());
    let address = deployed.service.expect("a cluster IP");
    assert_eq!(Some(address.host.as_str()), service["spec"]["clusterIP"].as_str());
    assert_eq!(address.port, 9050);
    assert_eq!(
        deployed.node_port.map(i64::from),
        service["spec"]["ports"][0]["nodePort"].as_i64()
    );
}

#[tokio::test]
async fn redeploying_a_gateway_service_keeps_its_addresses() {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let first = driver
        .deploy_gateway_service("default", &gateway("shop", 9050))
        .await
        .expect("first");
    let second = driver
        .deploy_gateway_service("default", &gateway("shop", 9050))
        .await
        .expect("second");
    assert_eq!(first, second);
}

#[tokio::test]
async fn the_service_type_and_agent_selector_come_from_the_url() {
    let double = KubeDouble::start();
    let driver = connect(&format!(
        "{}?service-type=LoadBalancer&gateway-agent-label=app&gateway-agent-id=vga",
        double.url()
    ))
    .await;
    assert_eq!(driver.config().service_type, ServiceType::LoadBalancer);
    driver
        .deploy_gateway_service("default", &gateway("shop", 9050))
        .await
        .expect("deploy");
    let service = double.service("default", "shop").expect("stored");
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(service["spec"]["selector"], json!({"app": "vga"}));
}

#[tokio::test]
async fn no_gateway_services_are_made_when_create_services_is_off() {
    let double = KubeDouble::start();
    let driver = connect(&format!("{}?create-services=false", double.url())).await;
    let deployed = driver
        .deploy_gateway_service("default", &gateway("shop", 9050))
        .await
        .expect("deploy");
    assert_eq!(deployed, None);
    assert!(driver
        .sync_gateway_services("default", &[gateway("shop", 9050)])
        .await
        .expect("sync")
        .is_empty());
    assert!(double.requests().is_empty(), "{:?}", double.requests());
}

#[tokio::test]
async fn a_gateway_without_a_port_number_is_invalid() {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let err = driver
        .deploy_gateway_service("default", &gateway("shop", 0))
        .await
        .expect_err("no port");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn undeploying_a_gateway_service_is_idempotent() {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    driver
        .deploy_gateway_service("default", &gateway("shop", 9050))
        .await
        .expect("deploy");
    driver
        .undeploy_gateway_service("default", "shop")
        .await
        .expect("undeploy");
    assert!(double.service("default", "shop").is_none());
    driver
        .undeploy_gateway_service("default", "shop")
        .await
        .expect("undeploy again");
}

#[tokio::test]
async fn sync_keeps_one_service_per_given_gateway() {
    let double = KubeDouble::start();
    let driver = connect(&double.url()).await;
    let namespace = unique("gw");
    driver
        .sync_gateway_services(&namespace, &[gateway("a", 9001), gateway("b", 9002)])
        .await
        .expect("first sync");
    let synced = driver
        .sync_gateway_services(&namespace, &[gateway("b", 9002), gateway("c", 9003)])
        .await
        .expect("second sync");
    let names: Vec<&str> = synced.iter().map(|s| s.gateway.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
    let listed: Vec<String> = driver
        .gateway_services(&namespace)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.gateway)
        .collect();
    assert_eq!(listed, ["b", "c"]);
    assert!(double.service(&namespace, "a").is_none());
}
