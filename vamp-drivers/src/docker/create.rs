//! The Docker container-create body of a [`ServiceSpec`], and the spec hash that tells whether a running
//! container still matches it.
//!
//! What Vamp generates: `Image` (the deployable's definition), `Env`, `Labels` (the record of
//! [`super::record`]), `ExposedPorts` and `HostConfig.PortBindings` (every breed port published on the
//! configured address with a port Docker picks: `HostPort: ""`), `HostConfig.NanoCpus` (cpu × 10⁹),
//! `HostConfig.Memory` (megabytes × 2²⁰ bytes), `HostConfig.NetworkMode` (the spec's network: `bridge`, `host`,
//! `none` case-insensitively, any other name as a user network), `Healthcheck` ([`super::healthcheck`]), and what
//! the arguments say ([`ARGUMENTS`]). The `docker` dialect is merged under it ([`super::dialect`]).

use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use vamp_core::driver::ServiceSpec;
use vamp_core::{Error, Result};

use super::dialect::{canonical, dropped_keys, merge_under};
use super::endpoint::DockerConfig;
use super::healthcheck::healthcheck;
use super::names::sha1_hex;
use super::record::{Record, LABEL_INSTANCE, LABEL_SCALE, LABEL_SPEC_HASH};
use bollard::models::ContainerCreateBody;

/// The deployable types the Docker driver runs, normalized.
pub const DEPLOYABLE_TYPES: [&str; 1] = ["container/docker"];

/// The arguments the driver understands and what each sets: `privileged` (`HostConfig.Privileged`), `user`
/// (`User`), `workdir` (`WorkingDir`), `hostname` (`Hostname`), `cap-add` / `cap-drop` (`HostConfig.CapAdd` /
/// `CapDrop`, repeatable), `volume` (`HostConfig.Binds`, `host:container[:mode]`, repeatable), `add-host`
/// (`HostConfig.ExtraHosts`, `name:ip`, repeatable), `dns` (`HostConfig.Dns`, repeatable), `label`
/// (`Labels`, `key=value`, repeatable; the `io.vamp.*` labels cannot be set), `restart`
/// (`HostConfig.RestartPolicy`: `no`, `always`, `unless-stopped`, `on-failure[:N]`), `read-only`
/// (`HostConfig.ReadonlyRootfs`) and `init` (`HostConfig.Init`). Any other argument is `Invalid`.
pub const ARGUMENTS: [&str; 13] = [
    "privileged",
    "user",
    "workdir",
    "hostname",
    "cap-add",
    "cap-drop",
    "volume",
    "add-host",
    "dns",
    "label",
    "restart",
    "read-only",
    "init",
];

/// What `deploy` creates for a spec: one body for every instance (labels differing only by instance).
#[derive(Debug, Clone)]
pub(crate) struct ContainerPlan {
    pub record: Record,
    pub image: String,
    body: ContainerCreateBody,
}

impl ContainerPlan {
    /// Validates `spec` and builds its body: `Unsupported` for another deployable type, `Invalid` for an empty
    /// image, a port that is not a number, an unknown argument, a dialect that is not an object or has keys the
    /// Docker API does not know, and health checks of unknown ports or protocols.
    pub fn build(spec: &ServiceSpec, config: &DockerConfig) -> Result<ContainerPlan> {
        let id = &spec.id;
        let kind = spec.deployable.normalized_kind();
        if !DEPLOYABLE_TYPES.contains(&kind) {
            return Err(Error::unsupported(format!(
                "The Docker driver runs deployables of type container/docker (or docker); service {id} is of \
                 type '{}'.",
                spec.deployable.kind
            )));
        }
        let image = spec.deployable.definition.trim().to_string();
        if image.is_empty() {
            return Err(Error::invalid(format!(
                "The deployable of service {id} names no image; give a Docker image such as nginx:1.25."
            )));
        }
        let mut ports = IndexMap::new();
        for port in &spec.ports {
            let number = port.number().filter(|n| *n > 0).ok_or_else(|| {
                Error::invalid(format!(
                    "Port '{}' of service {id} is '{}', not a port number; the Docker driver needs resolved \
                     port numbers.",
                    port.name, port.value
                ))
            })?;
            ports.insert(port.name.clone(), number);
        }
        for name in spec.environment.keys() {
            if name.is_empty() || name.contains('=') {
                return Err(Error::invalid(format!(
                    "Service {id} sets an environment variable named '{name}'; a name must be non-empty and \
                     free of '='."
                )));
            }
        }
        let record = Record {
            id: id.clone(),
            deployable: spec.deployable.clone(),
            scale: spec.scale.clone(),
            environment: spec.environment.clone(),
            health_checks: spec.health_checks.clone(),
            ports,
            spec_hash: String::new(),
        };
        let generated = generated(spec, config, &record, &image)?;
        let dialect = match spec.dialects.get("docker") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(d @ Value::Object(_)) => d.clone(),
            Some(other) => {
                return Err(Error::invalid(format!(
                "The docker dialect of service {id} is {other}, not an object of container settings such as \
                     {{\"Cmd\": [...]}}."
            )))
            }
        };
        let merged = merge_under(&dialect, &generated);
        let body: ContainerCreateBody = serde_json::from_value(merged.clone()).map_err(|e| {
            Error::invalid(format!(
                "The docker dialect of service {id} does not fit Docker's container-create body: {e}."
            ))
        })?;
        let kept = serde_json::to_value(&body).map_err(|e| {
            Error::backend(format!(
                "The container body of service {id} cannot be written: {e}."
            ))
        })?;
        let dropped = dropped_keys(&merged, &kept);
        if !dropped.is_empty() {
            return Err(Error::invalid(format!(
                "The docker dialect of service {id} has settings the Docker API does not know: {}. Keys are \
                 case-sensitive and spelled as in the Engine API (Cmd, WorkingDir, Labels, HostConfig.Binds).",
                dropped.join(", ")
            )));
        }
        let spec_hash = sha1_hex(canonical(&merged).as_bytes());
        Ok(ContainerPlan {
            record: Record { spec_hash, ..record },
            image,
            body,
        })
    }

    /// The body of instance `index`: the plan's body with the scale, spec hash and instance labels.
    pub fn body(&self, index: u32) -> ContainerCreateBody {
        let mut body = self.body.clone();
        let labels = body.labels.get_or_insert_with(Default::default);
        labels.insert(LABEL_SCALE.to_string(), self.record.scale_label());
        labels.insert(LABEL_SPEC_HASH.to_string(), self.record.spec_hash.clone());
        labels.insert(LABEL_INSTANCE.to_string(), index.to_string());
        body
    }
}

/// Whether a network mode lets Docker publish ports (not `host`, `none` or `container:<id>`).
pub(crate) fn publishes(network_mode: Option<&str>) -> bool {
    !matches!(network_mode, Some("host") | Some("none"))
        && !network_mode.is_some_and(|m| m.starts_with("container:"))
}

fn network_mode(network: Option<&str>) -> Option<String> {
    let network = network?.trim();
    if network.is_empty() {
        return None;
    }
    let lower = network.to_ascii_lowercase();
    Some(match lower.as_str() {
        "bridge" | "host" | "none" | "default" => lower,
        _ => network.to_string(),
    })
}

fn generated(spec: &ServiceSpec, config: &DockerConfig, record: &Record, image: &str) -> Result<Value> {
    let id = &spec.id;
    let mut body = Map::new();
    let mut host = Map::new();
    body.insert("Image".into(), json!(image));
    if !spec.environment.is_empty() {
        let env: Vec<String> = spec.environment.iter().map(|(k, v)| format!("{k}={v}")).collect();
        body.insert("Env".into(), json!(env));
    }
    let mode = network_mode(spec.network.as_deref());
    if let Some(mode) = &mode {
        host.insert("NetworkMode".into(), json!(mode));
    }
    if !record.ports.is_empty() && mode.as_deref() != Some("none") {
        let exposed: Map<String, Value> = record
            .ports
            .values()
            .map(|p| (format!("{p}/tcp"), json!({})))
            .collect();
        body.insert("ExposedPorts".into(), Value::Object(exposed));
        if publishes(mode.as_deref()) {
            let bindings: Map<String, Value> = record
                .ports
                .values()
                .map(|p| {
                    (
                        format!("{p}/tcp"),
                        json!([{"HostIp": config.publish_address, "HostPort": ""}]),
                    )
                })
                .collect();
            host.insert("PortBindings".into(), Value::Object(bindings));
        }
    }
    let cpu = spec.scale.cpu.0;
    if cpu.is_finite() && cpu > 0.0 {
        host.insert("NanoCpus".into(), json!((cpu * 1e9).round() as i64));
    }
    let memory = spec.scale.memory.0;
    if memory.is_finite() && memory > 0.0 {
        host.insert("Memory".into(), json!((memory * 1_048_576.0).round() as i64));
    }
    if let Some(check) = healthcheck(&spec.health_checks, &record.ports, &id.to_string())? {
        body.insert("Healthcheck".into(), check);
    }
    let mut labels = Map::new();
    apply_arguments(spec, &mut body, &mut host, &mut labels)?;
    for (k, v) in record.spec_labels() {
        labels.insert(k, json!(v));
    }
    body.insert("Labels".into(), Value::Object(labels));
    if !host.is_empty() {
        body.insert("HostConfig".into(), Value::Object(host));
    }
    Ok(Value::Object(body))
}

fn push(map: &mut Map<String, Value>, key: &str, value: &str) {
    let entry = map.entry(key.to_string()).or_insert_with(|| json!([]));
    if let Value::Array(items) = entry {
        items.push(json!(value));
    }
}

fn apply_arguments(
    spec: &ServiceSpec,
    body: &mut Map<String, Value>,
    host: &mut Map<String, Value>,
    labels: &mut Map<String, Value>,
) -> Result<()> {
    let id = &spec.id;
    for argument in &spec.arguments {
        let key = argument.key.trim().to_ascii_lowercase();
        let value = argument.value.trim();
        let invalid = |what: &str| {
            Error::invalid(format!(
                "Argument '{}' of service {id} is '{value}', which is not {what}.",
                argument.key
            ))
        };
        let flag = || match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(invalid("true or false")),
        };
        match key.as_str() {
            "privileged" => {
                host.insert("Privileged".into(), json!(flag()?));
            }
            "read-only" => {
                host.insert("ReadonlyRootfs".into(), json!(flag()?));
            }
            "init" => {
                host.insert("Init".into(), json!(flag()?));
            }
            "user" => {
                body.insert("User".into(), json!(value));
            }
            "workdir" => {
                body.insert("WorkingDir".into(), json!(value));
            }
            "hostname" => {
                body.insert("Hostname".into(), json!(value));
            }
            "cap-add" => push(host, "CapAdd", value),
            "cap-drop" => push(host, "CapDrop", value),
            "volume" => push(host, "Binds", value),
            "add-host" => push(host, "ExtraHosts", value),
            "dns" => push(host, "Dns", value),
            "label" => {
                let (k, v) = value.split_once('=').ok_or_else(|| invalid("key=value"))?;
                if k.starts_with("io.vamp.") {
                    return Err(invalid("a label outside io.vamp.*, which Vamp sets itself"));
                }
                labels.insert(k.to_string(), json!(v));
            }
            "restart" => {
                let (name, retries) = value.split_once(':').unwrap_or((value, "0"));
                if !matches!(name, "no" | "always" | "unless-stopped" | "on-failure") {
                    return Err(invalid("no, always, unless-stopped or on-failure[:N]"));
                }
                let retries: u32 = retries.parse().map_err(|_| invalid("on-failure:<number>"))?;
                host.insert(
                    "RestartPolicy".into(),
                    json!({"Name": name, "MaximumRetryCount": retries}),
                );
            }
            _ => {
                return Err(Error::invalid(format!(
                "Service {id} has argument '{}', which the Docker driver does not know; it knows {}. Other \
                     container settings go in the docker dialect.",
                argument.key,
                ARGUMENTS.join(", ")
            )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::driver::ServiceId;
    use vamp_core::model::{Argument, Deployable, Port, Protocol, Scale};
    use vamp_core::ErrorKind;

    fn spec() -> ServiceSpec {
        let mut spec = ServiceSpec::new(
            ServiceId::new("ns", "shop", "web", "sava"),
            Deployable::docker("vamp-test/busybox:1"),
            Scale::new(0.5, 64.0, 2),
        );
        spec.ports = vec![Port {
            name: "web".into(),
            value: "8080".into(),
            protocol: Protocol::Http,
        }];
        spec.environment.insert("A".into(), "1".into());
        spec
    }

    fn body(spec: &ServiceSpec) -> Value {
        let plan = ContainerPlan::build(spec, &DockerConfig::default()).unwrap();
        serde_json::to_value(plan.body(1)).unwrap()
    }

    #[test]
    fn scale_becomes_nano_cpus_and_memory_bytes() {
        let b = body(&spec());
        assert_eq!(b["HostConfig"]["NanoCpus"], json!(500_000_000));
        assert_eq!(b["HostConfig"]["Memory"], json!(64 * 1024 * 1024));
    }

    #[test]
    fn ports_are_published_on_loopback_with_a_port_docker_picks() {
        let b = body(&spec());
        assert_eq!(
            b["HostConfig"]["PortBindings"]["8080/tcp"],
            json!([{"HostIp": "127.0.0.1", "HostPort": ""}])
        );
        assert_eq!(b["ExposedPorts"], json!({"8080/tcp": {}}));
    }

    #[test]
    fn host_networking_publishes_nothing() {
        let mut s = spec();
        s.network = Some("HOST".into());
        let b = body(&s);
        assert_eq!(b["HostConfig"]["NetworkMode"], json!("host"));
        assert!(b["HostConfig"].get("PortBindings").is_none());
    }

    #[test]
    fn labels_carry_the_id_instance_and_scale() {
        let b = body(&spec());
        assert_eq!(b["Labels"]["io.vamp.namespace"], json!("ns"));
        assert_eq!(b["Labels"]["io.vamp.service"], json!("sava"));
        assert_eq!(b["Labels"]["io.vamp.instance"], json!("1"));
        assert_eq!(
            b["Labels"]["io.vamp.scale"],
            json!(r#"{"cpu":0.5,"memory":"64MB","instances":2}"#)
        );
        assert_eq!(b["Env"], json!(["A=1"]));
    }

    #[test]
    fn the_dialect_adds_settings_but_vamp_fields_win() {
        let mut s = spec();
        s.dialects.insert(
            "docker".into(),
            json!({"Cmd": ["httpd"], "WorkingDir": "/www", "Image": "evil", "Labels": {"team": "a"},
                   "HostConfig": {"Memory": 1}}),
        );
        let b = body(&s);
        assert_eq!(b["Cmd"], json!(["httpd"]));
        assert_eq!(b["WorkingDir"], json!("/www"));
        assert_eq!(b["Image"], json!("vamp-test/busybox:1"));
        assert_eq!(b["Labels"]["team"], json!("a"));
        assert_eq!(b["HostConfig"]["Memory"], json!(64 * 1024 * 1024));
    }

    #[test]
    fn unknown_dialect_keys_are_invalid_and_named() {
        let mut s = spec();
        s.dialects.insert("docker".into(), json!({"labels": {"a": "b"}}));
        let e = ContainerPlan::build(&s, &DockerConfig::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains("labels"), "{e}");
    }

    #[test]
    fn arguments_set_docker_parameters() {
        let mut s = spec();
        s.arguments = vec![
            Argument {
                key: "privileged".into(),
                value: "true".into(),
            },
            Argument {
                key: "cap-add".into(),
                value: "NET_ADMIN".into(),
            },
            Argument {
                key: "cap-add".into(),
                value: "SYS_TIME".into(),
            },
            Argument {
                key: "restart".into(),
                value: "on-failure:3".into(),
            },
            Argument {
                key: "label".into(),
                value: "team=a".into(),
            },
        ];
        let b = body(&s);
        assert_eq!(b["HostConfig"]["Privileged"], json!(true));
        assert_eq!(b["HostConfig"]["CapAdd"], json!(["NET_ADMIN", "SYS_TIME"]));
        assert_eq!(
            b["HostConfig"]["RestartPolicy"],
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert_eq!(b["Labels"]["team"], json!("a"));
    }

    #[test]
    fn an_unknown_argument_is_invalid() {
        let mut s = spec();
        s.arguments = vec![Argument {
            key: "gpus".into(),
            value: "all".into(),
        }];
        assert_eq!(
            ContainerPlan::build(&s, &DockerConfig::default())
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn other_deployable_types_are_unsupported_and_empty_images_invalid() {
        let mut s = spec();
        s.deployable = Deployable {
            kind: "command".into(),
            definition: "ls".into(),
        };
        assert_eq!(
            ContainerPlan::build(&s, &DockerConfig::default())
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
        s.deployable = Deployable {
            kind: "docker".into(),
            definition: " ".into(),
        };
        assert_eq!(
            ContainerPlan::build(&s, &DockerConfig::default())
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn the_hash_ignores_the_instance_count_but_not_the_environment() {
        let hash = |s: &ServiceSpec| {
            ContainerPlan::build(s, &DockerConfig::default())
                .unwrap()
                .record
                .spec_hash
        };
        let base = spec();
        let mut scaled = spec();
        scaled.scale.instances = 5;
        let mut changed = spec();
        changed.environment.insert("A".into(), "2".into());
        assert_eq!(hash(&base), hash(&scaled));
        assert_ne!(hash(&base), hash(&changed));
    }
}
