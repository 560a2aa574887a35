//! The state file of a service: one JSON document per service in the state directory with the spec it was
//! deployed with and, per instance, its ports, pid, start time and restart count. Written atomically (a temporary
//! file renamed over the old one) after every change, read back when a driver starts on the directory.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use vamp_core::driver::ServiceId;
use vamp_core::model::{Cpu, Deployable, HealthCheck, Memory, Metadata, Port, Protocol, Scale, Seconds};
use vamp_core::{Error, Result};

/// The version of the file layout; a file of another version is refused rather than misread.
pub const FORMAT: u32 = 1;
/// The extension of state files.
const EXTENSION: &str = "json";

/// The part of a spec the process driver acts on; two deploys with equal `AppliedSpec`s change nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedSpec {
    /// What runs.
    pub deployable: StoredDeployable,
    /// CPU and memory (recorded, not enforced) and the instance count.
    pub scale: StoredScale,
    /// The spec's variables by container name.
    pub environment: IndexMap<String, String>,
    /// The breed's ports.
    pub ports: Vec<StoredPort>,
    /// The health checks the driver runs.
    pub health_checks: Vec<StoredHealthCheck>,
}

impl AppliedSpec {
    /// Whether going from `self` to `next` needs the instances restarted: another command line, other
    /// variables or other port names. Scale and health checks change without a restart.
    pub fn needs_restart_for(&self, next: &AppliedSpec) -> bool {
        self.deployable.definition != next.deployable.definition
            || self.environment != next.environment
            || self.port_names().ne(next.port_names())
    }

    /// The breed's port names in order.
    pub fn port_names(&self) -> impl Iterator<Item = &str> {
        self.ports.iter().map(|p| p.name.as_str())
    }
}

/// A [`Deployable`] as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDeployable {
    /// The type as given.
    #[serde(rename = "type")]
    pub kind: String,
    /// The command line.
    pub definition: String,
}

/// A [`Scale`] as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredScale {
    /// The scale's name, empty inline.
    #[serde(default)]
    pub name: String,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// CPU share per instance.
    pub cpu: f64,
    /// Megabytes per instance.
    pub memory: f64,
    /// The requested instance count.
    pub instances: u32,
}

/// A [`Port`] as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPort {
    /// The breed port name.
    pub name: String,
    /// The value as written in the breed (the container port; the driver hands out its own).
    pub value: String,
    /// `http` or `tcp`.
    pub protocol: String,
}

/// A [`HealthCheck`] as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredHealthCheck {
    /// The HTTP path probed.
    pub path: String,
    /// The breed port probed.
    pub port: String,
    /// Seconds after start before the first probe.
    pub initial_delay: u64,
    /// Seconds one probe may take.
    pub timeout: u64,
    /// Seconds between probes.
    pub interval: u64,
    /// Consecutive failures tolerated.
    pub failures: u32,
    /// `HTTP` or `TCP`.
    pub protocol: String,
}

impl From<&Deployable> for StoredDeployable {
    fn from(d: &Deployable) -> Self {
        StoredDeployable {
            kind: d.kind.clone(),
            definition: d.definition.clone(),
        }
    }
}

impl From<&StoredDeployable> for Deployable {
    fn from(d: &StoredDeployable) -> Self {
        Deployable {
            kind: d.kind.clone(),
            definition: d.definition.clone(),
        }
    }
}

impl From<&Scale> for StoredScale {
    fn from(s: &Scale) -> Self {
        StoredScale {
            name: s.name.clone(),
            metadata: s.metadata.clone(),
            cpu: s.cpu.0,
            memory: s.memory.0,
            instances: s.instances,
        }
    }
}

impl From<&StoredScale> for Scale {
    fn from(s: &StoredScale) -> Self {
        Scale {
            name: s.name.clone(),
            metadata: s.metadata.clone(),
            cpu: Cpu(s.cpu),
            memory: Memory(s.memory),
            instances: s.instances,
        }
    }
}

impl From<&Port> for StoredPort {
    fn from(p: &Port) -> Self {
        StoredPort {
            name: p.name.clone(),
            value: p.value.clone(),
            protocol: p.protocol.to_string(),
        }
    }
}

impl From<&StoredPort> for Port {
    fn from(p: &StoredPort) -> Self {
        Port {
            name: p.name.clone(),
            value: p.value.clone(),
            protocol: if p.protocol.eq_ignore_ascii_case("tcp") {
                Protocol::Tcp
            } else {
                Protocol::Http
            },
        }
    }
}

impl From<&HealthCheck> for StoredHealthCheck {
    fn from(h: &HealthCheck) -> Self {
        StoredHealthCheck {
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

impl From<&StoredHealthCheck> for HealthCheck {
    fn from(h: &StoredHealthCheck) -> Self {
        HealthCheck {
            path: h.path.clone(),
            port: h.port.clone(),
            initial_delay: Seconds(h.initial_delay),
            timeout: Seconds(h.timeout),
            interval: Seconds(h.interval),
            failures: h.failures,
            protocol: h.protocol.clone(),
        }
    }
}

/// One instance as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInstance {
    /// Its index within the service, part of its name.
    pub index: u32,
    /// The generation of the spec its process was started with (see [`ServiceRecord::generation`]).
    pub generation: u64,
    /// Breed port name → the port handed out to it.
    pub ports: IndexMap<String, u16>,
    /// The pid of its process (the leader of its process group), while one runs.
    pub pid: Option<u32>,
    /// The start time of that process in clock ticks after boot, to tell it from a later process with the
    /// same pid.
    pub start_ticks: Option<u64>,
    /// When the process started, in milliseconds since the Unix epoch.
    pub started_at_ms: Option<u64>,
    /// How often it was restarted after exiting or failing its health checks.
    pub restarts: u32,
    /// Whether it is being stopped (scaled away); a driver that finds it stops it rather than adopting it.
    pub stopping: bool,
}

/// The state file of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// Which service.
    pub id: ServiceId,
    /// The spec last deployed.
    pub spec: AppliedSpec,
    /// Counts the deploys that needed a restart; instances of an older generation are due for a rolling
    /// restart.
    pub generation: u64,
    /// Its instances, active and stopping, by index.
    pub instances: Vec<StoredInstance>,
}

/// The file of service `id` in `dir`: named by a hash of the id, since ids may hold any character.
pub fn file_of(dir: &Path, id: &ServiceId) -> PathBuf {
    let mut hasher = Sha1::new();
    for part in [&id.namespace, &id.deployment, &id.cluster, &id.service] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("service-{hex}.{EXTENSION}"))
}

/// Writes `record` to `path` atomically.
pub async fn write(path: &Path, record: &ServiceRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| {
        Error::backend(format!(
            "The process driver cannot encode the state of {}: {e}",
            record.id
        ))
    })?;
    let temporary = path.with_extension("json.tmp");
    let failed = |e: std::io::Error| {
        Error::backend(format!(
            "The process driver cannot write the state of {} to {}: {e}",
            record.id,
            path.display()
        ))
    };
    tokio::fs::write(&temporary, bytes).await.map_err(failed)?;
    tokio::fs::rename(&temporary, path).await.map_err(failed)
}

/// Removes the state file at `path`; a missing file is fine.
pub async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::backend(format!(
            "The process driver cannot remove the state file {}: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Every service record in `dir`, by file. Fails naming the file when one cannot be read or is of another
/// format, so nothing is started twice or forgotten silently.
pub async fn read_all(dir: &Path) -> Result<Vec<(PathBuf, ServiceRecord)>> {
    let unreadable = |path: &Path, why: String| {
        Error::backend(format!(
            "The process driver cannot read its state file {}: {why}. Move the file away to start without it \
             (its instances are then neither adopted nor stopped).",
            path.display()
        ))
    };
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| unreadable(dir, e.to_string()))?;
    let mut records = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| unreadable(dir, e.to_string()))?
    {
        let path = entry.path();
        let is_state = path.extension().is_some_and(|e| e == EXTENSION)
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("service-"));
        if !is_state {
            continue;
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| unreadable(&path, e.to_string()))?;
        let record: ServiceRecord =
            serde_json::from_slice(&bytes).map_err(|e| unreadable(&path, e.to_string()))?;
        if record.format != FORMAT {
            return Err(unreadable(
                &path,
                format!(
                    "it has format {}, this driver reads format {FORMAT}",
                    record.format
                ),
            ));
        }
        records.push((path, record));
    }
    records.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ServiceRecord {
        ServiceRecord {
            format: FORMAT,
            id: ServiceId::new("ns", "shop", "web", "sava:1.0"),
            spec: AppliedSpec {
                deployable: StoredDeployable {
                    kind: "process".into(),
                    definition: "./server --name 'a b'".into(),
                },
                scale: StoredScale::from(&Scale::new(0.5, 256.0, 2)),
                environment: [("A".to_string(), "1".to_string())].into_iter().collect(),
                ports: vec![StoredPort::from(&Port::parse("web", "8080/tcp").unwrap())],
                health_checks: vec![],
            },
            generation: 3,
            instances: vec![StoredInstance {
                index: 0,
                generation: 3,
                ports: [("web".to_string(), 20001)].into_iter().collect(),
                pid: Some(4242),
                start_ticks: Some(99),
                started_at_ms: Some(1),
                restarts: 2,
                stopping: false,
            }],
        }
    }

    #[test]
    fn model_values_survive_the_stored_form() {
        let port = Port::parse("db", "5432/tcp").unwrap();
        assert_eq!(Port::from(&StoredPort::from(&port)), port);
        let scale = Scale::new(0.25, 512.0, 3);
        assert_eq!(Scale::from(&StoredScale::from(&scale)), scale);
    }

    #[test]
    fn files_are_named_by_the_whole_id() {
        let dir = Path::new("/state");
        let a = file_of(dir, &ServiceId::new("ns", "d", "c", "s"));
        assert_eq!(a, file_of(dir, &ServiceId::new("ns", "d", "c", "s")));
        assert_ne!(a, file_of(dir, &ServiceId::new("ns", "d", "cs", "")));
        assert!(a.to_string_lossy().ends_with(".json"));
    }

    #[test]
    fn only_command_environment_and_port_names_need_a_restart() {
        let before = record().spec;
        let mut scaled = before.clone();
        scaled.scale.instances = 5;
        scaled.health_checks.push(StoredHealthCheck {
            path: "/".into(),
            port: "web".into(),
            initial_delay: 0,
            timeout: 1,
            interval: 1,
            failures: 1,
            protocol: "HTTP".into(),
        });
        assert!(!before.needs_restart_for(&scaled));
        let mut renumbered = before.clone();
        renumbered.ports[0].value = "9090".into();
        assert!(!before.needs_restart_for(&renumbered));
        let mut env = before.clone();
        env.environment.insert("A".into(), "2".into());
        assert!(before.needs_restart_for(&env));
        let mut renamed = before.clone();
        renamed.ports[0].name = "http".into();
        assert!(before.needs_restart_for(&renamed));
    }

    #[tokio::test]
    async fn records_read_back_as_written_and_other_formats_are_refused() {
        let dir = std::env::temp_dir().join(format!("vamp-state-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let written = record();
        let path = file_of(&dir, &written.id);
        write(&path, &written).await.unwrap();
        tokio::fs::write(dir.join("unrelated.txt"), b"x").await.unwrap();
        let read = read_all(&dir).await.unwrap();
        assert_eq!(read, vec![(path.clone(), written.clone())]);

        let mut future = written;
        future.format = FORMAT + 1;
        write(&path, &future).await.unwrap();
        let e = read_all(&dir).await.unwrap_err();
        assert!(e.message().contains(&path.display().to_string()), "{e}");
        remove(&path).await.unwrap();
        remove(&path).await.unwrap();
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
