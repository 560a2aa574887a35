//! `ServerSettings`: everything the server core is configured with — namespace, loop periods, timeouts, the
//! gateway plan (port range, virtual hosts, where gateways bind), HAProxy and the embedded agent, and the
//! defaults a deployment gets. Deserialized from the `vamp serve` configuration (kebab-case keys, every field
//! optional) and defaulted to the original Vamp's values where it had one.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vamp_core::model::{Argument, Scale};
use vamp_core::ops::deployment::{DeploymentDefaults, Timeouts};
use vamp_core::ops::gateways::{GatewayPlanConfig, PortRange, VirtualHostConfig};
use vamp_core::ops::reconcile::{ReconcileChecks, ReconcileConfig};

pub use crate::event_settings::EventSettings;
pub use crate::pulse::settings::PulseSettings;
use crate::sla_settings::SlaSettings;

/// The server core's settings. `ServerSettings::default()` is a working embedded configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ServerSettings {
    /// The Vamp namespace: driver labels, KV keys (`/vamp/<ns>/…`) and event store scope. Default `default`.
    pub namespace: String,
    /// How the loops run.
    pub synchronization: SyncSettings,
    /// Gateway planning and where gateways listen.
    pub gateways: GatewaySettings,
    /// The embedded gateway agent and the HAProxy it drives.
    pub agent: AgentSettings,
    /// What a deployment gets when its blueprint does not say.
    pub deployment: DeploymentSettings,
    /// The SLA loop: SLA checks and escalations.
    pub sla: SlaSettings,
    /// Health and metrics: the publishing period and the windows.
    pub pulse: PulseSettings,
    /// How workflows run: default period, time and memory limits, history kept.
    pub workflows: crate::workflows::WorkflowSettings,
    /// The canary loop.
    pub canary: crate::ops::CanarySettings,
    /// Event retention: how long events are kept and how often older ones are deleted.
    pub events: EventSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            namespace: "default".into(),
            synchronization: SyncSettings::default(),
            gateways: GatewaySettings::default(),
            agent: AgentSettings::default(),
            deployment: DeploymentSettings::default(),
            sla: SlaSettings::default(),
            pulse: PulseSettings::default(),
            workflows: crate::workflows::WorkflowSettings::default(),
            canary: crate::ops::CanarySettings::default(),
            events: EventSettings::default(),
        }
    }
}

/// The loops' timing (`vamp.operation.synchronization` in the original).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct SyncSettings {
    /// The resync period in milliseconds: every loop runs at least this often even when nothing wakes it
    /// (the original's `synchronization.period`, 6 s). 0 disables periodic resyncs (only wake-ups run a loop).
    pub period_ms: u64,
    /// While some service is not yet `Done` (or a gateway not yet deployable), the deployment and gateway
    /// loops poll this often in milliseconds, so convergence does not wait for a full period.
    pub busy_period_ms: u64,
    /// How long a deploy may take before the service is `Failed`, in seconds (600; 0 = never).
    pub deploy_timeout_s: u64,
    /// How long an undeploy may take before the service is `Failed`, in seconds (600; 0 = never).
    pub undeploy_timeout_s: u64,
    /// What the deployment loop compares (`synchronization.check.*`).
    pub checks: ReconcileChecks,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            period_ms: 6_000,
            busy_period_ms: 250,
            deploy_timeout_s: 600,
            undeploy_timeout_s: 600,
            checks: ReconcileChecks::default(),
        }
    }
}

impl SyncSettings {
    /// The resync period; `None` when periodic resyncs are off.
    pub fn period(&self) -> Option<Duration> {
        (self.period_ms > 0).then(|| Duration::from_millis(self.period_ms))
    }

    /// The polling period while something converges (at least 10 ms).
    pub fn busy_period(&self) -> Duration {
        Duration::from_millis(self.busy_period_ms.max(10))
    }

    /// The deploy and undeploy timeouts.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            deploy: Duration::from_secs(self.deploy_timeout_s),
            undeploy: Duration::from_secs(self.undeploy_timeout_s),
        }
    }
}

/// Gateway planning (`vamp.operation.gateway`, `vamp.gateway-driver`) and where the gateways listen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct GatewaySettings {
    /// Ports for gateways that give none, `lower-upper` inclusive (default `40000-45000`).
    pub port_range: PortRange,
    /// Default virtual hosts (`enabled`, `formats.*`).
    pub virtual_hosts: VirtualHostConfig,
    /// The host services reach gateways on (`$cluster.host`); default `127.0.0.1`, the embedded agent.
    pub host: String,
    /// The address gateway ports bind to in HAProxy (`VAMP_GATEWAY_BIND`). Default `127.0.0.1`: the embedded
    /// default serves only this machine unless configured otherwise.
    pub bind: String,
    /// The virtual-host listener `address:port` (`VAMP_VHOST_BIND`). Default `127.0.0.1:40080` (port 80 needs
    /// privileges).
    pub vhost_bind: String,
    /// Whether conditions may hold raw HAProxy ACLs (`< … >`) and routes may have rewrites (whose conditions are
    /// raw HAProxy text) (`VAMP_ALLOW_RAW_ACLS`, `--allow-raw-acls`). Default `false`: gateways, blueprints,
    /// deployments, routes, conditions and rewrites holding them are refused when written. Even when `true`,
    /// raw text that could read files or the environment is refused.
    pub allow_raw_acls: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            port_range: PortRange::default(),
            virtual_hosts: VirtualHostConfig::default(),
            host: "127.0.0.1".into(),
            bind: "127.0.0.1".into(),
            vhost_bind: "127.0.0.1:40080".into(),
            allow_raw_acls: false,
        }
    }
}

impl GatewaySettings {
    /// The HAProxy marshaller's options these settings give.
    pub fn haproxy_options(&self) -> vamp_gateway::haproxy::HaproxyOptions {
        vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(self.allow_raw_acls)
    }

    /// The gateway plan's configuration.
    pub fn plan_config(&self) -> GatewayPlanConfig {
        GatewayPlanConfig {
            port_range: self.port_range,
            virtual_hosts: self.virtual_hosts.clone(),
            agent_host: Some(self.host.clone()).filter(|h| !h.is_empty()),
        }
    }
}

/// The embedded gateway agent: which HAProxy it runs, where, and its listeners.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct AgentSettings {
    /// Whether [`crate::vamp::Vamp::embedded`] runs an in-process gateway agent. Default `true`.
    pub enabled: bool,
    /// The `haproxy` binary (a path, or a name looked up in `PATH`). Default `haproxy`.
    pub haproxy: PathBuf,
    /// The agent's work directory (configuration, sockets, maps); default `<data dir>/agent`.
    pub dir: Option<PathBuf>,
    /// HAProxy's stats and `/health` listener. Default `127.0.0.1:1988`.
    pub stats_bind: String,
    /// Where HAProxy sends access logs: a unix datagram socket path, or a UDP `host:port` (port 0 picks a free
    /// one). Default empty: the owner-only socket `<agent dir>/log.sock`.
    pub log_target: String,
    /// The source IP addresses a UDP `log_target` reads access logs from; datagrams from others are dropped and
    /// counted. Default `127.0.0.1`, `::1`. Not used with a unix socket.
    pub log_sources: Vec<String>,
    /// The agent's HTTP endpoint (health, Prometheus, metrics windows). Default `127.0.0.1:1989`.
    pub http_bind: String,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            enabled: true,
            haproxy: PathBuf::from("haproxy"),
            dir: None,
            stats_bind: "127.0.0.1:1988".into(),
            log_target: String::new(),
            log_sources: vec!["127.0.0.1".into(), "::1".into()],
            http_bind: "127.0.0.1:1989".into(),
        }
    }
}

/// What a deployment gets when its blueprint does not say (`vamp.operation.deployment`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct DeploymentSettings {
    /// CPUs of a service without a scale (1).
    pub cpu: f64,
    /// Memory in MB of a service without a scale (1024).
    pub memory_mb: f64,
    /// Instances of a service without a scale (1).
    pub instances: u32,
    /// Arguments every service starts with, as `key: value` maps (e.g. `privileged: "true"`).
    pub arguments: Vec<std::collections::BTreeMap<String, String>>,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        DeploymentSettings {
            cpu: 1.0,
            memory_mb: 1024.0,
            instances: 1,
            arguments: Vec::new(),
        }
    }
}

impl DeploymentSettings {
    /// The scale of a service that gives none.
    pub fn scale(&self) -> Scale {
        Scale::new(self.cpu, self.memory_mb, self.instances)
    }

    /// The defaults `attach` applies.
    pub fn defaults(&self) -> DeploymentDefaults {
        DeploymentDefaults {
            scale: self.scale(),
            arguments: self
                .arguments
                .iter()
                .flat_map(|m| m.iter())
                .map(|(k, v)| Argument {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }
}

impl ServerSettings {
    /// The reconcile planner's configuration.
    pub fn reconcile_config(&self) -> ReconcileConfig {
        ReconcileConfig {
            namespace: self.namespace.clone(),
            checks: self.synchronization.checks,
            timeouts: self.synchronization.timeouts(),
            default_scale: self.deployment.scale(),
        }
    }
}
