//! What runs, read back from Deployments and their pods: the [`RunningService`]s `list` reports.
//!
//! The service id, the deployable type, the breed port names, the names of the variables Vamp set and the health
//! checks come from the annotations Vamp wrote ([`super::manifest`]); image, replicas, resources and variable
//! values from the Deployment's spec, so a change made in the cluster shows; instances and health from the pods.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;
use vamp_core::driver::{RunningService, ServiceId};
use vamp_core::model::{Deployable, Health, HealthCheck, Instance, Scale, Seconds};

use super::manifest::{
    ANNOTATION_DEPLOYABLE_TYPE, ANNOTATION_ENVIRONMENT, ANNOTATION_HEALTH_CHECKS, ANNOTATION_PORTS,
};
use super::{naming, quantity};

fn annotation<'a>(deployment: &'a Deployment, key: &str) -> Option<&'a str> {
    deployment
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn json_annotation(deployment: &Deployment, key: &str) -> Option<Value> {
    annotation(deployment, key).and_then(|text| serde_json::from_str(text).ok())
}

/// The service a Deployment runs, or `None` when it lacks the four id annotations or is being deleted.
pub fn service_id(deployment: &Deployment) -> Option<ServiceId> {
    if deployment.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let annotations = deployment.metadata.annotations.as_ref()?;
    ServiceId::from_labels(annotations).ok()
}

/// The Vamp container: the one named after the service, else the first.
fn vamp_container<'a>(deployment: &'a Deployment, id: &ServiceId) -> Option<&'a Container> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    let name = naming::container_name(id);
    containers
        .iter()
        .find(|c| c.name == name)
        .or_else(|| containers.first())
}

fn ports(deployment: &Deployment) -> IndexMap<String, u16> {
    let Some(Value::Object(ports)) = json_annotation(deployment, ANNOTATION_PORTS) else {
        return IndexMap::new();
    };
    ports
        .into_iter()
        .filter_map(|(name, number)| Some((name, u16::try_from(number.as_u64()?).ok()?)))
        .collect()
}

fn environment(deployment: &Deployment, container: Option<&Container>) -> IndexMap<String, String> {
    let names: Option<Vec<String>> =
        json_annotation(deployment, ANNOTATION_ENVIRONMENT).and_then(|v| serde_json::from_value(v).ok());
    container
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .filter(|var| names.as_ref().is_none_or(|names| names.contains(&var.name)))
        .filter_map(|var| Some((var.name.clone(), var.value.clone()?)))
        .collect()
}

fn scale(deployment: &Deployment, container: Option<&Container>) -> Scale {
    let requests = container
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.requests.as_ref());
    let read = |key: &str, parse: fn(&str) -> Option<f64>| {
        requests
            .and_then(|r| r.get(key))
            .and_then(|q| parse(&q.0))
            .unwrap_or(0.0)
    };
    let replicas = deployment.spec.replicas.unwrap_or(1);
    Scale::new(
        read("cpu", quantity::parse_cpu),
        read("memory", quantity::parse_memory),
        u32::try_from(replicas).unwrap_or(0),
    )
}

fn health_check(value: &Value) -> Option<HealthCheck> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let number = |key: &str| value.get(key).and_then(Value::as_u64);
    Some(HealthCheck {
        path: text("path")?,
        port: text("port")?,
        initial_delay: Seconds(number("initialDelay")?),
        timeout: Seconds(number("timeout")?),
        interval: Seconds(number("interval")?),
        failures: u32::try_from(number("failures")?).ok()?,
        protocol: text("protocol")?,
    })
}

/// The health checks Vamp made the probes from; `None` when the annotation is missing or unreadable.
fn health_checks(deployment: &Deployment) -> Option<Vec<HealthCheck>> {
    match json_annotation(deployment, ANNOTATION_HEALTH_CHECKS)? {
        Value::Array(checks) => checks.iter().map(health_check).collect(),
        _ => None,
    }
}

fn deployable(deployment: &Deployment, container: Option<&Container>) -> Deployable {
    let kind = annotation(deployment, ANNOTATION_DEPLOYABLE_TYPE)
        .unwrap_or(vamp_core::model::breed::DEFAULT_DEPLOYABLE_TYPE)
        .to_string();
    let definition = container.and_then(|c| c.image.clone()).unwrap_or_default();
    Deployable { kind, definition }
}

/// Whether the pod's labels hold every label of `selector`.
pub fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The instances and health counts of the pods a Deployment selects; terminating pods are left out.
fn instances(pods: &[&Pod], ports: &IndexMap<String, u16>) -> (Vec<Instance>, Health) {
    let mut health = Health::default();
    let mut instances: Vec<Instance> = pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .map(|pod| {
            let running = phase(pod) == "Running";
            match (running, is_ready(pod)) {
                (false, _) if phase(pod) == "Pending" => health.staged += 1,
                (false, _) => health.unhealthy += 1,
                (true, ready) => {
                    health.running += 1;
                    if ready {
                        health.healthy += 1;
                    } else {
                        health.unhealthy += 1;
                    }
                }
            }
            Instance {
                name: pod.metadata.name.clone().unwrap_or_default(),
                host: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.clone())
                    .unwrap_or_default(),
                ports: ports.clone(),
                deployed: running,
            }
        })
        .collect();
    instances.sort_by(|a, b| a.name.cmp(&b.name));
    (instances, health)
}

/// The running service of a Deployment, with the pods among `pods` its selector selects; `None` when the
/// Deployment is not a Vamp service ([`service_id`]).
pub fn running_service(deployment: &Deployment, pods: &[Pod]) -> Option<RunningService> {
    let id = service_id(deployment)?;
    let container = vamp_container(deployment, &id);
    let ports = ports(deployment);
    let selector = deployment.spec.selector.match_labels.clone().unwrap_or_default();
    let selected: Vec<&Pod> = if selector.is_empty() {
        Vec::new()
    } else {
        pods.iter().filter(|p| selects(&selector, p)).collect()
    };
    let (instances, health) = instances(&selected, &ports);
    Some(RunningService {
        deployable: deployable(deployment, container),
        scale: scale(deployment, container),
        instances,
        health,
        environment: environment(deployment, container),
        health_checks: health_checks(deployment),
        id,
    })
}
