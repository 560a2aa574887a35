//! The `apps/v1` Deployment that runs one Vamp service, built from its [`ServiceSpec`].
//!
//! | Vamp | Deployment |
//! |---|---|
//! | service id | name ([`naming::deployment_name`]), labels `io.vamp.namespace/deployment/cluster/service` (values by [`naming::label_value`]) on the Deployment and its pods, the selector on them, the full values as annotations |
//! | deployable (`container/docker`, `container/rkt`) | the container image; the type in annotation `io.vamp.deployable-type` |
//! | scale | `replicas`; CPU and memory requests, memory also as limit |
//! | environment | container `env` |
//! | ports | container ports `p<port>` (TCP); breed port names in annotation `io.vamp.ports` |
//! | health checks | liveness and readiness probe (one check at most) |
//! | argument `privileged` | `securityContext.privileged` |
//! | network `HOST` | `hostNetwork: true` |
//! | dialect `kubernetes` | merged under the pod spec ([`super::merge`]) |

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SecurityContext, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Value};
use vamp_core::driver::ServiceSpec;
use vamp_core::model::HealthCheck;
use vamp_core::{Error, Result};

use super::{merge, naming, quantity};

/// The deployable types the driver runs, as the original's Kubernetes driver did.
pub const DEPLOYABLE_TYPES: [&str; 2] = ["container/docker", "container/rkt"];
/// The dialect key merged under the pod spec.
pub const DIALECT: &str = "kubernetes";
/// Annotation holding the deployable type as given in the spec.
pub const ANNOTATION_DEPLOYABLE_TYPE: &str = "io.vamp.deployable-type";
/// Annotation holding the breed port names: a JSON object of name → container port.
pub const ANNOTATION_PORTS: &str = "io.vamp.ports";
/// Annotation holding the names of the variables set from the spec: a JSON array.
pub const ANNOTATION_ENVIRONMENT: &str = "io.vamp.environment";
/// Annotation holding the health checks the probes were made from: a JSON array.
pub const ANNOTATION_HEALTH_CHECKS: &str = "io.vamp.health-checks";
/// The label saying who manages an object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`LABEL_MANAGED_BY`] on Vamp's objects.
pub const MANAGER: &str = "vamp";

/// The label name of a container port: `p<port>`, as the original named them.
pub fn port_name(port: u16) -> String {
    format!("p{port}")
}

/// The four id labels of a service, with label-safe values; also the Deployment's selector.
pub fn selector_labels(spec_id: &vamp_core::driver::ServiceId) -> BTreeMap<String, String> {
    spec_id
        .labels()
        .into_iter()
        .map(|(k, v)| (k, naming::label_value(&v)))
        .collect()
}

/// Fails with `Unsupported` unless the deployable is of a type in [`DEPLOYABLE_TYPES`].
pub fn check_deployable_type(spec: &ServiceSpec) -> Result<()> {
    let kind = spec.deployable.normalized_kind();
    if DEPLOYABLE_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(Error::unsupported(format!(
            "The Kubernetes driver cannot run '{}' of service {}: it runs {}.",
            spec.deployable.kind,
            spec.id,
            DEPLOYABLE_TYPES.join(" and ")
        )))
    }
}

fn invalid(spec: &ServiceSpec, what: String) -> Error {
    Error::invalid(format!("Service {} cannot run on Kubernetes: {what}", spec.id))
}

/// Breed port name → port number, every port a literal number.
fn port_numbers(spec: &ServiceSpec) -> Result<IndexMap<String, u16>> {
    spec.ports
        .iter()
        .map(|port| match port.number() {
            Some(number) if number > 0 => Ok((port.name.clone(), number)),
            _ => Err(invalid(
                spec,
                format!(
                    "port '{}' has the value '{}', not a port number; resolve it before deploying.",
                    port.name, port.value
                ),
            )),
        })
        .collect()
}

fn privileged(spec: &ServiceSpec) -> Result<bool> {
    let mut privileged = false;
    for argument in &spec.arguments {
        match (argument.key.as_str(), argument.value.trim()) {
            ("privileged", "true") => privileged = true,
            ("privileged", "false") => privileged = false,
            ("privileged", other) => {
                return Err(invalid(
                    spec,
                    format!("the argument 'privileged' must be true or false, not '{other}'."),
                ))
            }
            (other, _) => {
                return Err(invalid(
                    spec,
                    format!(
                        "the argument '{other}' has no Kubernetes meaning (only 'privileged' has); use the \
                         'kubernetes' dialect for other pod settings."
                    ),
                ))
            }
        }
    }
    Ok(privileged)
}

fn host_network(spec: &ServiceSpec) -> Result<bool> {
    match spec.network.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("BRIDGE") | Some("USER") => Ok(false),
        Some("HOST") => Ok(true),
        Some(_) => Err(invalid(
            spec,
            format!(
                "the network '{}' is not one Kubernetes pods have; use BRIDGE (the pod network) or HOST.",
                spec.network.as_deref().unwrap_or_default()
            ),
        )),
    }
}

fn seconds(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn probe(spec: &ServiceSpec, ports: &IndexMap<String, u16>, check: &HealthCheck) -> Result<Probe> {
    let Some(number) = ports.get(&check.port) else {
        return Err(invalid(
            spec,
            format!(
                "the health check probes port '{}', which the breed does not have.",
                check.port
            ),
        ));
    };
    let port = IntOrString::String(port_name(*number));
    let mut probe = Probe {
        initial_delay_seconds: Some(seconds(check.initial_delay.0)),
        timeout_seconds: Some(seconds(check.timeout.0.max(1))),
        period_seconds: Some(seconds(check.interval.0.max(1))),
        failure_threshold: Some(i32::try_from(check.failures.max(1)).unwrap_or(i32::MAX)),
        ..Probe::default()
    };
    match check.protocol.to_ascii_uppercase().as_str() {
        scheme @ ("HTTP" | "HTTPS") => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(check.path.clone()),
                port,
                scheme: Some(scheme.to_string()),
                ..HTTPGetAction::default()
            })
        }
        "TCP" => {
            probe.tcp_socket = Some(TCPSocketAction {
                port,
                ..TCPSocketAction::default()
            })
        }
        other => {
            return Err(invalid(
                spec,
                format!("the health check protocol '{other}' is not HTTP, HTTPS or TCP."),
            ))
        }
    }
    Ok(probe)
}

/// The JSON written to [`ANNOTATION_HEALTH_CHECKS`].
pub fn health_checks_json(checks: &[HealthCheck]) -> Value {
    checks
        .iter()
        .map(|c| {
            json!({
                "path": c.path, "port": c.port, "initialDelay": c.initial_delay.0, "timeout": c.timeout.0,
                "interval": c.interval.0, "failures": c.failures, "protocol": c.protocol,
            })
        })
        .collect()
}

fn container(spec: &ServiceSpec, ports: &IndexMap<String, u16>) -> Result<Container> {
    if spec.deployable.definition.trim().is_empty() {
        return Err(invalid(spec, "the deployable names no image.".to_string()));
    }
    let [check] = match spec.health_checks.as_slice() {
        [] => [None],
        [one] => [Some(one)],
        _ => {
            return Err(invalid(
                spec,
                format!(
                    "it has {} health checks, and a Kubernetes container runs one liveness probe; keep one.",
                    spec.health_checks.len()
                ),
            ))
        }
    };
    let probe = check.map(|c| probe(spec, ports, c)).transpose()?;
    let mut numbers: Vec<u16> = ports.values().copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    let requests = BTreeMap::from([
        ("cpu".to_string(), Quantity(quantity::cpu(spec.scale.cpu.0))),
        (
            "memory".to_string(),
            Quantity(quantity::memory(spec.scale.memory.0)),
        ),
    ]);
    let limits = BTreeMap::from([(
        "memory".to_string(),
        Quantity(quantity::memory(spec.scale.memory.0)),
    )]);
    let privileged = privileged(spec)?;
    Ok(Container {
        name: naming::container_name(&spec.id),
        image: Some(spec.deployable.definition.clone()),
        env: (!spec.environment.is_empty()).then(|| {
            spec.environment
                .iter()
                .map(|(name, value)| EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    ..EnvVar::default()
                })
                .collect()
        }),
        ports: (!numbers.is_empty()).then(|| {
            numbers
                .iter()
                .map(|n| ContainerPort {
                    name: Some(port_name(*n)),
                    container_port: i32::from(*n),
                    protocol: Some("TCP".to_string()),
                    ..ContainerPort::default()
                })
                .collect()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        security_context: privileged.then(|| SecurityContext {
            privileged: Some(true),
            ..SecurityContext::default()
        }),
        liveness_probe: probe.clone(),
        readiness_probe: probe,
        ..Container::default()
    })
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| Error::backend(format!("A Kubernetes object could not be written as JSON: {e}")))
}

/// The pod spec with the `kubernetes` dialect merged under it; fails with `Invalid` when the dialect is not an
/// object or the merge is not a pod spec.
fn pod_spec(spec: &ServiceSpec, generated: &PodSpec) -> Result<Value> {
    let generated = to_value(generated)?;
    let Some(dialect) = spec.dialects.get(DIALECT) else {
        return Ok(generated);
    };
    if !dialect.is_object() {
        return Err(invalid(
            spec,
            "the 'kubernetes' dialect must be a map of pod spec fields.".to_string(),
        ));
    }
    let merged = merge::merge_under(generated, dialect);
    serde_json::from_value::<PodSpec>(merged.clone()).map_err(|e| {
        invalid(
            spec,
            format!("the 'kubernetes' dialect does not make a valid pod spec: {e}."),
        )
    })?;
    Ok(merged)
}

/// The Deployment for `spec` in Kubernetes namespace `namespace`, as the JSON sent with server-side apply.
///
/// Fails with `Unsupported` for a deployable type other than [`DEPLOYABLE_TYPES`] and with `Invalid` when the
/// spec cannot be expressed: no image, a port that is not a number, a health check on an unknown port or more
/// than one health check, an argument other than `privileged`, a network other than BRIDGE/USER/HOST, a dialect
/// that is not a pod spec.
pub fn deployment(spec: &ServiceSpec, namespace: &str) -> Result<Value> {
    check_deployable_type(spec)?;
    let ports = port_numbers(spec)?;
    let selector = selector_labels(&spec.id);
    let mut labels = selector.clone();
    labels.insert(LABEL_MANAGED_BY.to_string(), MANAGER.to_string());
    let id_annotations: BTreeMap<String, String> = spec.id.labels().into_iter().collect();
    let mut annotations = id_annotations.clone();
    annotations.insert(
        ANNOTATION_DEPLOYABLE_TYPE.to_string(),
        spec.deployable.kind.clone(),
    );
    annotations.insert(ANNOTATION_PORTS.to_string(), to_value(&ports)?.to_string());
    let names: Vec<&String> = spec.environment.keys().collect();
    annotations.insert(ANNOTATION_ENVIRONMENT.to_string(), to_value(&names)?.to_string());
    annotations.insert(
        ANNOTATION_HEALTH_CHECKS.to_string(),
        health_checks_json(&spec.health_checks).to_string(),
    );
    let pod = PodSpec {
        containers: vec![container(spec, &ports)?],
        host_network: host_network(spec)?.then_some(true),
        ..PodSpec::default()
    };
    let pod_spec = pod_spec(spec, &pod)?;
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(naming::deployment_name(&spec.id)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: DeploymentSpec {
            replicas: Some(i32::try_from(spec.scale.instances).unwrap_or(i32::MAX)),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(id_annotations),
                    ..ObjectMeta::default()
                }),
                spec: None,
            },
            ..DeploymentSpec::default()
        },
        status: None,
    };
    let mut value = to_value(&deployment)?;
    match value.pointer_mut("/spec/template").and_then(Value::as_object_mut) {
        Some(template) => {
            template.insert("spec".to_string(), pod_spec);
            Ok(value)
        }
        None => Err(Error::backend(
            "A Deployment was written without a pod template; this is a bug in the Kubernetes driver.",
        )),
    }
}
