//! The labels that carry a service: what `list` rebuilds a [`RunningService`](vamp_core::driver::RunningService)
//! from, with no state kept in the driver.
//!
//! Every container carries the four id labels of [`ServiceId::labels`], its instance index, the spec hash and
//! the service's record: deployable, scale, environment, health checks and port numbers, each JSON. Labels of a
//! Docker container cannot change, so the same record is also kept on a small Docker volume per service (never
//! mounted), which `deploy` rewrites when only the scale changes and which keeps a service of zero instances
//! listed. `list` takes the record from the volume, or from the newest container when the volume is missing.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use vamp_core::driver::{ServiceId, LABEL_CLUSTER, LABEL_DEPLOYMENT, LABEL_NAMESPACE, LABEL_SERVICE};
use vamp_core::model::{Cpu, Deployable, HealthCheck, Memory, Scale, Seconds};
use vamp_core::{Error, Result};

/// The index of the instance a container runs, `0`-based.
pub const LABEL_INSTANCE: &str = "io.vamp.instance";
/// The scale, as Vamp writes it: `{"cpu":0.1,"memory":"64MB","instances":2}`.
pub const LABEL_SCALE: &str = "io.vamp.scale";
/// The SHA-1 of the container configuration without scale and instance: containers whose hash matches the
/// spec's are kept by `deploy`, others replaced.
pub const LABEL_SPEC_HASH: &str = "io.vamp.spec-hash";
/// The deployable: `{"type":"container/docker","definition":"<image>"}`.
pub const LABEL_DEPLOYABLE: &str = "io.vamp.deployable";
/// The environment the spec set: a JSON object of names to values.
pub const LABEL_ENVIRONMENT: &str = "io.vamp.environment";
/// The health checks of the spec, a JSON list (durations in seconds).
pub const LABEL_HEALTH_CHECKS: &str = "io.vamp.health-checks";
/// The breed ports: a JSON object of port names to container port numbers.
pub const LABEL_PORTS: &str = "io.vamp.ports";

/// A service as its labels describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub id: ServiceId,
    pub deployable: Deployable,
    pub scale: Scale,
    pub environment: IndexMap<String, String>,
    pub health_checks: Vec<HealthCheck>,
    pub ports: IndexMap<String, u16>,
    pub spec_hash: String,
}

#[derive(Serialize, Deserialize)]
struct ScaleLabel {
    cpu: f64,
    memory: serde_json::Value,
    instances: u32,
}

#[derive(Serialize, Deserialize)]
struct DeployableLabel {
    #[serde(rename = "type")]
    kind: String,
    definition: String,
}

#[derive(Serialize, Deserialize)]
struct HealthCheckLabel {
    path: String,
    port: String,
    initial_delay: u64,
    timeout: u64,
    interval: u64,
    failures: u32,
    protocol: String,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Record {
    /// The labels that describe the service, without the spec hash and without the instance index.
    pub fn spec_labels(&self) -> IndexMap<String, String> {
        let mut labels = self.id.labels();
        let deployable = DeployableLabel {
            kind: self.deployable.kind.clone(),
            definition: self.deployable.definition.clone(),
        };
        let checks: Vec<HealthCheckLabel> = self
            .health_checks
            .iter()
            .map(|c| HealthCheckLabel {
                path: c.path.clone(),
                port: c.port.clone(),
                initial_delay: c.initial_delay.0,
                timeout: c.timeout.0,
                interval: c.interval.0,
                failures: c.failures,
                protocol: c.protocol.clone(),
            })
            .collect();
        labels.insert(LABEL_DEPLOYABLE.into(), json(&deployable));
        labels.insert(LABEL_ENVIRONMENT.into(), json(&self.environment));
        labels.insert(LABEL_HEALTH_CHECKS.into(), json(&checks));
        labels.insert(LABEL_PORTS.into(), json(&self.ports));
        labels
    }

    /// The scale label's value.
    pub fn scale_label(&self) -> String {
        json(&ScaleLabel {
            cpu: self.scale.cpu.0,
            memory: serde_json::Value::String(self.scale.memory.to_string()),
            instances: self.scale.instances,
        })
    }

    /// Every label of the record: the spec labels, the scale and the spec hash.
    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> = self.spec_labels().into_iter().collect();
        labels.insert(LABEL_SCALE.into(), self.scale_label());
        labels.insert(LABEL_SPEC_HASH.into(), self.spec_hash.clone());
        labels
    }

    /// Reads a record back; `Invalid` naming the label when one is missing or not what Vamp writes.
    pub fn from_labels(labels: &HashMap<String, String>) -> Result<Record> {
        let id = ServiceId::from_labels(labels)?;
        let get = |key: &str| {
            labels.get(key).ok_or_else(|| {
                Error::invalid(format!("The label '{key}' of Docker service {id} is missing."))
            })
        };
        let parse_error = |key: &str, e: serde_json::Error| {
            Error::invalid(format!(
                "The label '{key}' of Docker service {id} is not what Vamp writes: {e}."
            ))
        };
        let scale: ScaleLabel =
            serde_json::from_str(get(LABEL_SCALE)?).map_err(|e| parse_error(LABEL_SCALE, e))?;
        let memory = match &scale.memory {
            serde_json::Value::String(s) => Memory::parse(s),
            serde_json::Value::Number(n) => n.as_f64().map(Memory),
            _ => None,
        }
        .ok_or_else(|| {
            Error::invalid(format!(
                "The label '{LABEL_SCALE}' of Docker service {id} has no readable memory size."
            ))
        })?;
        let deployable: DeployableLabel =
            serde_json::from_str(get(LABEL_DEPLOYABLE)?).map_err(|e| parse_error(LABEL_DEPLOYABLE, e))?;
        let environment =
            serde_json::from_str(get(LABEL_ENVIRONMENT)?).map_err(|e| parse_error(LABEL_ENVIRONMENT, e))?;
        let checks: Vec<HealthCheckLabel> = serde_json::from_str(get(LABEL_HEALTH_CHECKS)?)
            .map_err(|e| parse_error(LABEL_HEALTH_CHECKS, e))?;
        let ports = serde_json::from_str(get(LABEL_PORTS)?).map_err(|e| parse_error(LABEL_PORTS, e))?;
        Ok(Record {
            deployable: Deployable {
                kind: deployable.kind,
                definition: deployable.definition,
            },
            scale: Scale {
                cpu: Cpu(scale.cpu),
                memory,
                instances: scale.instances,
                ..Scale::new(0.0, 0.0, 0)
            },
            environment,
            health_checks: checks
                .into_iter()
                .map(|c| HealthCheck {
                    path: c.path,
                    port: c.port,
                    initial_delay: Seconds(c.initial_delay),
                    timeout: Seconds(c.timeout),
                    interval: Seconds(c.interval),
                    failures: c.failures,
                    protocol: c.protocol,
                })
                .collect(),
            ports,
            spec_hash: get(LABEL_SPEC_HASH)?.clone(),
            id,
        })
    }
}

/// The instance index a container's labels carry, if any.
pub(crate) fn instance_index(labels: &HashMap<String, String>) -> Option<u32> {
    labels.get(LABEL_INSTANCE).and_then(|i| i.parse().ok())
}

/// The filter values selecting everything of `id` (all four id labels).
pub(crate) fn id_filter(id: &ServiceId) -> Vec<String> {
    id.labels().into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// The filter value selecting everything of `namespace`.
pub(crate) fn namespace_filter(namespace: &str) -> Vec<String> {
    vec![format!("{LABEL_NAMESPACE}={namespace}")]
}

/// Labels every id label of which is present, for telling Vamp's objects from others.
pub(crate) fn has_id(labels: &HashMap<String, String>) -> bool {
    [LABEL_NAMESPACE, LABEL_DEPLOYMENT, LABEL_CLUSTER, LABEL_SERVICE]
        .iter()
        .all(|k| labels.contains_key(*k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        let mut environment = IndexMap::new();
        environment.insert("B".to_string(), "2".to_string());
        environment.insert("A".to_string(), "x=y".to_string());
        let mut ports = IndexMap::new();
        ports.insert("web".to_string(), 8080);
        Record {
            id: ServiceId::new("ns", "shop", "web", "sava:1.0"),
            deployable: Deployable::docker("vamp-test/busybox:1"),
            scale: Scale::new(0.25, 96.5, 3),
            environment,
            health_checks: vec![HealthCheck {
                path: "/health".into(),
                port: "web".into(),
                initial_delay: Seconds(5),
                timeout: Seconds(2),
                interval: Seconds(3),
                failures: 4,
                protocol: "HTTP".into(),
            }],
            ports,
            spec_hash: "abc".into(),
        }
    }

    #[test]
    fn a_record_reads_back_from_its_labels() {
        let r = record();
        assert_eq!(Record::from_labels(&r.labels()).unwrap(), r);
    }

    #[test]
    fn the_scale_label_is_written_as_vamp_writes_scales() {
        assert_eq!(
            record().scale_label(),
            r#"{"cpu":0.25,"memory":"96.5MB","instances":3}"#
        );
    }

    #[test]
    fn a_missing_record_label_is_invalid_and_named() {
        let mut labels = record().labels();
        labels.remove(LABEL_PORTS);
        let e = Record::from_labels(&labels).unwrap_err();
        assert!(e.message().contains(LABEL_PORTS), "{e}");
    }
}
