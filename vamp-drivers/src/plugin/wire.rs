//! The messages that cross the plugin boundary as JSON: one request and one response per operation, the error
//! message, and serde DTOs mirroring [`ServiceSpec`], [`ServiceId`], [`RunningService`] and [`DriverInfo`] with
//! conversions both ways.
//!
//! The DTOs are separate from `vamp-core`'s types on purpose: the core may change how its types serialize (or
//! whether they do) without changing what plugins read. Every message carries `"v": 1` ([`WIRE_VERSION`]); a
//! reader refuses any other value. Compatible additions keep `v` at 1: new fields are optional
//! (`#[serde(default)]`) and readers ignore fields they do not know.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use vamp_core::driver::{DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{
    Argument, Cpu, Deployable, Dialects, Health, HealthCheck, Instance, Memory, Metadata, Port, Protocol,
    Scale, Seconds,
};
use vamp_core::{Error, ErrorKind, Result};

/// The version every message carries in its `v` field.
pub const WIRE_VERSION: u32 = 1;

/// A message of any operation: each type knows its `v` so [`decode`] can check it.
pub trait Message: Serialize + for<'de> Deserialize<'de> {
    /// The message's `v` field.
    fn version(&self) -> u32;
}

macro_rules! messages {
    ($($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// [`WIRE_VERSION`].
            pub v: u32,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl $name {
            /// The message at [`WIRE_VERSION`].
            #[allow(clippy::new_without_default)]
            pub fn new($($field: $ty),*) -> Self {
                $name { v: WIRE_VERSION, $($field),* }
            }
        }

        impl Message for $name {
            fn version(&self) -> u32 {
                self.v
            }
        }
    )*};
}

messages! {
    /// The request of `info`: `{"v":1}`.
    InfoRequest {}
    /// The response of `info`.
    InfoResponse {
        /// What the driver is.
        info: DriverInfoDto,
    }
    /// The request of `list`.
    ListRequest {
        /// The Vamp namespace to list.
        namespace: String,
    }
    /// The response of `list`.
    ListResponse {
        /// The services of the namespace, sorted by id.
        services: Vec<RunningServiceDto>,
    }
    /// The request of `deploy`.
    DeployRequest {
        /// What to run.
        spec: ServiceSpecDto,
    }
    /// The request of `undeploy`.
    UndeployRequest {
        /// What to stop.
        id: ServiceIdDto,
    }
    /// The response of `deploy` and `undeploy`: `{"v":1}`.
    DoneResponse {}
    /// The payload of [`super::abi::STATUS_ERROR`]: a `vamp_core::Error` as kind and message.
    ErrorMessage {
        /// The kind.
        kind: ErrorKindDto,
        /// With `unavailable`: whether the same call may succeed later.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retryable: bool,
        /// The sentence for a person.
        message: String,
    }
}

/// Serializes a message. Serializing these types cannot fail (string keys, finite numbers aside), but a
/// non-finite CPU or memory figure would, so the failure is a `Backend` error rather than a panic.
pub fn encode<M: Message>(message: &M) -> Result<Vec<u8>> {
    serde_json::to_vec(message)
        .map_err(|e| Error::backend(format!("A driver plugin message could not be serialized: {e}.")))
}

/// Parses a message and checks its version; the error says what was wrong, for the caller to wrap.
pub fn decode<M: Message>(bytes: &[u8]) -> std::result::Result<M, String> {
    let message: M = serde_json::from_slice(bytes).map_err(|e| format!("not a valid message: {e}"))?;
    match message.version() {
        WIRE_VERSION => Ok(message),
        other => Err(format!(
            "message version {other} is not understood; this side speaks version {WIRE_VERSION}"
        )),
    }
}

/// [`ErrorKind`] on the wire, without `Unavailable`'s `retryable` (which [`ErrorMessage`] carries beside it). A
/// kind this side does not know reads as `backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKindDto {
    /// [`ErrorKind::Invalid`].
    Invalid,
    /// [`ErrorKind::NotFound`].
    NotFound,
    /// [`ErrorKind::Conflict`].
    Conflict,
    /// [`ErrorKind::Unavailable`].
    Unavailable,
    /// [`ErrorKind::Unsupported`].
    Unsupported,
    /// [`ErrorKind::Backend`], and any kind added after this version.
    #[serde(other)]
    Backend,
}

impl From<&Error> for ErrorMessage {
    fn from(e: &Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::Invalid => ErrorKindDto::Invalid,
            ErrorKind::NotFound => ErrorKindDto::NotFound,
            ErrorKind::Conflict => ErrorKindDto::Conflict,
            ErrorKind::Unavailable { .. } => ErrorKindDto::Unavailable,
            ErrorKind::Unsupported => ErrorKindDto::Unsupported,
            _ => ErrorKindDto::Backend,
        };
        ErrorMessage::new(kind, e.is_retryable(), e.message().to_string())
    }
}

impl From<ErrorMessage> for Error {
    fn from(e: ErrorMessage) -> Self {
        let kind = match e.kind {
            ErrorKindDto::Invalid => ErrorKind::Invalid,
            ErrorKindDto::NotFound => ErrorKind::NotFound,
            ErrorKindDto::Conflict => ErrorKind::Conflict,
            ErrorKindDto::Unavailable => ErrorKind::Unavailable {
                retryable: e.retryable,
            },
            ErrorKindDto::Unsupported => ErrorKind::Unsupported,
            ErrorKindDto::Backend => ErrorKind::Backend,
        };
        Error::new(kind, e.message)
    }
}

/// [`ServiceId`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceIdDto {
    /// The Vamp namespace.
    pub namespace: String,
    /// The deployment name.
    pub deployment: String,
    /// The cluster name.
    pub cluster: String,
    /// The service (breed) name.
    pub service: String,
}

impl From<&ServiceId> for ServiceIdDto {
    fn from(id: &ServiceId) -> Self {
        ServiceIdDto {
            namespace: id.namespace.clone(),
            deployment: id.deployment.clone(),
            cluster: id.cluster.clone(),
            service: id.service.clone(),
        }
    }
}

impl From<ServiceIdDto> for ServiceId {
    fn from(id: ServiceIdDto) -> Self {
        ServiceId::new(id.namespace, id.deployment, id.cluster, id.service)
    }
}

/// [`DriverInfo`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverInfoDto {
    /// The driver's name.
    pub kind: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
    /// The normalized deployable types it accepts.
    #[serde(default)]
    pub deployable_types: Vec<String>,
}

impl From<&DriverInfo> for DriverInfoDto {
    fn from(info: &DriverInfo) -> Self {
        DriverInfoDto {
            kind: info.kind.clone(),
            version: info.version.clone(),
            deployable_types: info.deployable_types.clone(),
        }
    }
}

impl From<DriverInfoDto> for DriverInfo {
    fn from(info: DriverInfoDto) -> Self {
        DriverInfo {
            kind: info.kind,
            version: info.version,
            deployable_types: info.deployable_types,
        }
    }
}

/// [`Deployable`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployableDto {
    /// The deployable type as written (`docker`, `container/docker`, `echo`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The image, command line or script.
    pub definition: String,
}

impl From<&Deployable> for DeployableDto {
    fn from(d: &Deployable) -> Self {
        DeployableDto {
            kind: d.kind.clone(),
            definition: d.definition.clone(),
        }
    }
}

impl From<DeployableDto> for Deployable {
    fn from(d: DeployableDto) -> Self {
        Deployable {
            kind: d.kind,
            definition: d.definition,
        }
    }
}

/// [`Scale`] on the wire: CPU share and memory in megabytes as plain numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleDto {
    /// The scale's name when it is a stored artifact; empty inline.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub metadata: Metadata,
    /// CPU share per instance.
    pub cpu: f64,
    /// Memory per instance in megabytes.
    pub memory: f64,
    /// Number of instances.
    pub instances: u32,
}

impl From<&Scale> for ScaleDto {
    fn from(s: &Scale) -> Self {
        ScaleDto {
            name: s.name.clone(),
            metadata: s.metadata.clone(),
            cpu: s.cpu.0,
            memory: s.memory.0,
            instances: s.instances,
        }
    }
}

impl From<ScaleDto> for Scale {
    fn from(s: ScaleDto) -> Self {
        Scale {
            name: s.name,
            metadata: s.metadata,
            cpu: Cpu(s.cpu),
            memory: Memory(s.memory),
            instances: s.instances,
        }
    }
}

/// [`Port`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDto {
    /// The port's name.
    pub name: String,
    /// The value as written, without the protocol suffix (usually a number).
    pub value: String,
    /// `http` or `tcp`; anything else reads as `http`.
    #[serde(default)]
    pub protocol: String,
}

impl From<&Port> for PortDto {
    fn from(p: &Port) -> Self {
        PortDto {
            name: p.name.clone(),
            value: p.value.clone(),
            protocol: p.protocol.to_string(),
        }
    }
}

impl From<PortDto> for Port {
    fn from(p: PortDto) -> Self {
        Port {
            name: p.name,
            value: p.value,
            protocol: if p.protocol.eq_ignore_ascii_case("tcp") {
                Protocol::Tcp
            } else {
                Protocol::Http
            },
        }
    }
}

/// [`HealthCheck`] on the wire, durations in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckDto {
    /// The HTTP path probed.
    pub path: String,
    /// The name of the port probed.
    pub port: String,
    /// Grace period after start, in seconds.
    pub initial_delay: u64,
    /// Time allowed for one probe, in seconds.
    pub timeout: u64,
    /// Time between probes, in seconds.
    pub interval: u64,
    /// Consecutive failures tolerated.
    pub failures: u32,
    /// `HTTP` or `TCP`.
    pub protocol: String,
}

impl From<&HealthCheck> for HealthCheckDto {
    fn from(h: &HealthCheck) -> Self {
        HealthCheckDto {
            path: h.path.clone(),
            port: h.port.clone(),
            initial_delay: h.initial_delay.0,
            timeout: h.timeout.0,
            interval: h.interval.0,
            failures: h.failures,
            protocol: h.protocol.clone(),
        }
    }
}

impl From<HealthCheckDto> for HealthCheck {
    fn from(h: HealthCheckDto) -> Self {
        HealthCheck {
            path: h.path,
            port: h.port,
            initial_delay: Seconds(h.initial_delay),
            timeout: Seconds(h.timeout),
            interval: Seconds(h.interval),
            failures: h.failures,
            protocol: h.protocol,
        }
    }
}

/// [`Argument`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentDto {
    /// The argument's key.
    pub key: String,
    /// Its value, as text.
    pub value: String,
}

impl From<&Argument> for ArgumentDto {
    fn from(a: &Argument) -> Self {
        ArgumentDto {
            key: a.key.clone(),
            value: a.value.clone(),
        }
    }
}

impl From<ArgumentDto> for Argument {
    fn from(a: ArgumentDto) -> Self {
        Argument {
            key: a.key,
            value: a.value,
        }
    }
}

/// [`Instance`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDto {
    /// The driver's id for the instance.
    pub name: String,
    /// Where it runs.
    pub host: String,
    /// Port name → the port it is reachable on at `host`.
    #[serde(default)]
    pub ports: IndexMap<String, u16>,
    /// Whether it is up.
    #[serde(default)]
    pub deployed: bool,
}

impl From<&Instance> for InstanceDto {
    fn from(i: &Instance) -> Self {
        InstanceDto {
            name: i.name.clone(),
            host: i.host.clone(),
            ports: i.ports.clone(),
            deployed: i.deployed,
        }
    }
}

impl From<InstanceDto> for Instance {
    fn from(i: InstanceDto) -> Self {
        Instance {
            name: i.name,
            host: i.host,
            ports: i.ports,
            deployed: i.deployed,
        }
    }
}

/// [`Health`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthDto {
    /// Instances being started.
    pub staged: u32,
    /// Instances running.
    pub running: u32,
    /// Instances passing health checks.
    pub healthy: u32,
    /// Instances failing them.
    pub unhealthy: u32,
}

impl From<&Health> for HealthDto {
    fn from(h: &Health) -> Self {
        HealthDto {
            staged: h.staged,
            running: h.running,
            healthy: h.healthy,
            unhealthy: h.unhealthy,
        }
    }
}

impl From<HealthDto> for Health {
    fn from(h: HealthDto) -> Self {
        Health {
            staged: h.staged,
            running: h.running,
            healthy: h.healthy,
            unhealthy: h.unhealthy,
        }
    }
}

/// [`ServiceSpec`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpecDto {
    /// Which service.
    pub id: ServiceIdDto,
    /// What to run.
    pub deployable: DeployableDto,
    /// CPU, memory and instances.
    pub scale: ScaleDto,
    /// Variable name → value.
    #[serde(default)]
    pub environment: IndexMap<String, String>,
    /// The ports every instance exposes.
    #[serde(default)]
    pub ports: Vec<PortDto>,
    /// The health checks to run.
    #[serde(default)]
    pub health_checks: Vec<HealthCheckDto>,
    /// Container arguments.
    #[serde(default)]
    pub arguments: Vec<ArgumentDto>,
    /// The network; the driver's default when absent.
    #[serde(default)]
    pub network: Option<String>,
    /// Driver-specific settings.
    #[serde(default)]
    pub dialects: Dialects,
}

impl From<&ServiceSpec> for ServiceSpecDto {
    fn from(s: &ServiceSpec) -> Self {
        ServiceSpecDto {
            id: (&s.id).into(),
            deployable: (&s.deployable).into(),
            scale: (&s.scale).into(),
            environment: s.environment.clone(),
            ports: s.ports.iter().map(Into::into).collect(),
            health_checks: s.health_checks.iter().map(Into::into).collect(),
            arguments: s.arguments.iter().map(Into::into).collect(),
            network: s.network.clone(),
            dialects: s.dialects.clone(),
        }
    }
}

impl From<ServiceSpecDto> for ServiceSpec {
    fn from(s: ServiceSpecDto) -> Self {
        ServiceSpec {
            id: s.id.into(),
            deployable: s.deployable.into(),
            scale: s.scale.into(),
            environment: s.environment,
            ports: s.ports.into_iter().map(Into::into).collect(),
            health_checks: s.health_checks.into_iter().map(Into::into).collect(),
            arguments: s.arguments.into_iter().map(Into::into).collect(),
            network: s.network,
            dialects: s.dialects,
        }
    }
}

/// [`RunningService`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningServiceDto {
    /// Which service.
    pub id: ServiceIdDto,
    /// What runs.
    pub deployable: DeployableDto,
    /// The scale it was deployed with.
    pub scale: ScaleDto,
    /// The instances the driver knows of.
    #[serde(default)]
    pub instances: Vec<InstanceDto>,
    /// Instance counts by state.
    #[serde(default)]
    pub health: HealthDto,
    /// The variables the driver set.
    #[serde(default)]
    pub environment: IndexMap<String, String>,
    /// The health checks the driver runs; absent when it cannot tell.
    #[serde(default)]
    pub health_checks: Option<Vec<HealthCheckDto>>,
}

impl From<&RunningService> for RunningServiceDto {
    fn from(s: &RunningService) -> Self {
        RunningServiceDto {
            id: (&s.id).into(),
            deployable: (&s.deployable).into(),
            scale: (&s.scale).into(),
            instances: s.instances.iter().map(Into::into).collect(),
            health: (&s.health).into(),
            environment: s.environment.clone(),
            health_checks: s
                .health_checks
                .as_ref()
                .map(|checks| checks.iter().map(Into::into).collect()),
        }
    }
}

impl From<RunningServiceDto> for RunningService {
    fn from(s: RunningServiceDto) -> Self {
        RunningService {
            id: s.id.into(),
            deployable: s.deployable.into(),
            scale: s.scale.into(),
            instances: s.instances.into_iter().map(Into::into).collect(),
            health: s.health.into(),
            environment: s.environment,
            health_checks: s
                .health_checks
                .map(|checks| checks.into_iter().map(Into::into).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        let mut spec = vamp_core::testkit::driver::DriverFixture::default().spec("ns", "web", "sava:1.0");
        spec.ports[0].protocol = Protocol::Tcp;
        spec.health_checks.push(HealthCheck {
            path: "/health".into(),
            port: "web".into(),
            initial_delay: Seconds(3),
            timeout: Seconds(1),
            interval: Seconds(5),
            failures: 2,
            protocol: "HTTP".into(),
        });
        spec.arguments.push(Argument {
            key: "privileged".into(),
            value: "true".into(),
        });
        spec.network = Some("bridge".into());
        spec.dialects
            .insert("docker".into(), serde_json::json!({"labels": {"a": "b"}}));
        spec
    }

    #[test]
    fn a_spec_survives_the_wire() {
        let spec = spec();
        let bytes = encode(&DeployRequest::new((&spec).into())).unwrap();
        let back: DeployRequest = decode(&bytes).unwrap();
        assert_eq!(ServiceSpec::from(back.spec), spec);
    }

    #[test]
    fn a_running_service_survives_the_wire() {
        let spec = spec();
        let running = RunningService {
            id: spec.id.clone(),
            deployable: spec.deployable.clone(),
            scale: spec.scale.clone(),
            instances: vec![Instance {
                name: "i-0".into(),
                host: "10.0.0.1".into(),
                ports: [("web".to_string(), 31000)].into_iter().collect(),
                deployed: true,
            }],
            health: Health {
                staged: 1,
                running: 1,
                healthy: 1,
                unhealthy: 0,
            },
            environment: spec.environment.clone(),
            health_checks: None,
        };
        let bytes = encode(&ListResponse::new(vec![(&running).into()])).unwrap();
        let back: ListResponse = decode(&bytes).unwrap();
        let services: Vec<RunningService> = back.services.into_iter().map(Into::into).collect();
        assert_eq!(services, [running]);
    }

    #[test]
    fn every_message_carries_its_version() {
        let bytes = encode(&InfoRequest::new()).unwrap();
        assert_eq!(bytes, br#"{"v":1}"#);
    }

    #[test]
    fn another_message_version_is_refused() {
        let e = decode::<DoneResponse>(br#"{"v":2}"#).unwrap_err();
        assert!(e.contains("version 2"), "{e}");
    }

    #[test]
    fn a_message_without_version_is_refused() {
        assert!(decode::<ListRequest>(br#"{"namespace":"x"}"#).is_err());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let request: ListRequest = decode(br#"{"v":1,"namespace":"x","later":true}"#).unwrap();
        assert_eq!(request.namespace, "x");
    }

    #[test]
    fn errors_keep_kind_and_message() {
        for retryable in [true, false] {
            let e = Error::new(ErrorKind::Unavailable { retryable }, "down");
            let bytes = encode(&ErrorMessage::from(&e)).unwrap();
            let back = Error::from(decode::<ErrorMessage>(&bytes).unwrap());
            assert_eq!(back.kind(), ErrorKind::Unavailable { retryable });
            assert_eq!(back.message(), "down");
        }
        let bytes = encode(&ErrorMessage::from(&Error::unsupported("no"))).unwrap();
        assert_eq!(bytes, br#"{"v":1,"kind":"unsupported","message":"no"}"#);
    }

    #[test]
    fn an_unknown_error_kind_reads_as_backend() {
        let message: ErrorMessage = decode(br#"{"v":1,"kind":"exploded","message":"m"}"#).unwrap();
        assert_eq!(Error::from(message).kind(), ErrorKind::Backend);
    }
}
