//! One deployed service: the spec it runs, its instance slots (each with a supervisor task), scaling, rolling
//! restarts and its state file.
//!
//! A slot is an instance index with its ports and a supervisor that owns the process. The service tells a
//! supervisor what to run through a watch channel ([`Command`]); the supervisor publishes what it runs in the
//! slot's [`SlotStatus`]. Changing the command line, the variables or the port names bumps the service's
//! *generation*; a rollout task then hands the new plan to one outdated slot at a time and waits until its new
//! process accepts connections before going on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use vamp_core::driver::ServiceId;
use vamp_core::model::HealthCheck;
use vamp_core::{Error, Result};

use super::command::split_command_line;
use super::report::InstanceStatus;
use super::state::{self, AppliedSpec, ServiceRecord, StoredInstance};
use super::supervisor::{self, Start};
use super::{lock, os, probe, Shared};

/// What a service's instances run, for one generation of its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Counts the deploys that needed a restart.
    pub generation: u64,
    /// The command line split into words; the first names the executable.
    pub words: Vec<String>,
    /// The spec's variables.
    pub environment: IndexMap<String, String>,
    /// The breed's port names, in order (the first is `PORT`).
    pub port_names: Vec<String>,
    /// The health checks the supervisor runs.
    pub health_checks: Vec<HealthCheck>,
}

impl Plan {
    /// The plan of `spec` at `generation`; fails when the command line does not split (checked at deploy).
    pub fn new(generation: u64, id: &ServiceId, spec: &AppliedSpec) -> Result<Plan> {
        let words = split_command_line(&spec.deployable.definition)
            .map_err(|why| Error::invalid(format!("The command line of service {id} {why}")))?;
        Ok(Plan {
            generation,
            words,
            environment: spec.environment.clone(),
            port_names: spec.ports.iter().map(|p| p.name.clone()).collect(),
            health_checks: spec.health_checks.iter().map(HealthCheck::from).collect(),
        })
    }
}

/// What a supervisor is told to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Keep a process of this plan running: start one if none runs, replace one of another generation.
    Run(Arc<Plan>),
    /// Stop the process (SIGTERM, grace period, SIGKILL) and end.
    Stop,
}

/// The result of the last health probes of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Probed {
    /// No checks, or not probed yet.
    #[default]
    Unknown,
    /// Every check passed its last probe.
    Passing,
    /// A check failed its last probe.
    Failing,
}

/// What a supervisor publishes about its slot.
#[derive(Debug, Clone, Default)]
pub struct SlotStatus {
    /// Breed port name → port.
    pub ports: IndexMap<String, u16>,
    /// The current process.
    pub pid: Option<u32>,
    /// Its start time in clock ticks, to tell it from a later process with the same pid.
    pub start_ticks: Option<u64>,
    /// Its start in milliseconds since the epoch.
    pub started_at_ms: Option<u64>,
    /// The generation of the plan the current or last process was started with.
    pub generation: u64,
    /// Restarts after exits and failed health checks.
    pub restarts: u32,
    /// How the last process ended, or why the last start failed.
    pub last_exit: Option<String>,
    /// The health probes' verdict.
    pub probed: Probed,
    /// Whether the slot is being stopped.
    pub stopping: bool,
}

impl SlotStatus {
    /// Whether the current process still runs (and is the one started, not a reused pid).
    pub fn is_alive(&self) -> bool {
        self.pid.is_some_and(|pid| os::is_alive(pid, self.start_ticks))
    }
}

/// An instance slot of a service.
#[derive(Debug)]
pub struct Slot {
    /// Tells the supervisor what to do.
    pub control: watch::Sender<Command>,
    /// What the supervisor publishes.
    pub status: Arc<Mutex<SlotStatus>>,
    /// The generation of the plan last handed to the supervisor.
    pub assigned: u64,
    /// The supervisor task, until someone waits for it.
    pub task: Option<JoinHandle<()>>,
    /// Aborts the supervisor when the driver is dropped.
    pub abort: AbortHandle,
}

/// The mutable part of a service.
#[derive(Debug, Default)]
pub struct ServiceState {
    /// The spec last deployed; `None` until the first deploy is applied.
    pub spec: Option<AppliedSpec>,
    /// Its plan.
    pub plan: Option<Arc<Plan>>,
    /// Counts the deploys that needed a restart.
    pub generation: u64,
    /// Instance slots by index, stopping ones included.
    pub slots: BTreeMap<u32, Slot>,
    /// The rolling restart in progress.
    pub rollout: Option<AbortHandle>,
    /// Set by undeploy: the service is going away and writes no state any more.
    pub removed: bool,
    /// Whether the last write of the state file failed, so the next deploy writes it again.
    pub unsaved: bool,
}

/// A deployed service.
#[derive(Debug)]
pub struct Service {
    /// Which service.
    pub id: ServiceId,
    /// Its state file.
    pub file: PathBuf,
    /// Held by deploy and undeploy of this service, one at a time.
    pub op: tokio::sync::Mutex<()>,
    /// Orders writes of the state file.
    writer: tokio::sync::Mutex<()>,
    /// Everything else.
    pub state: Mutex<ServiceState>,
}

impl Service {
    /// A service with nothing applied yet.
    pub fn new(id: ServiceId, file: PathBuf) -> Service {
        Service {
            id,
            file,
            op: tokio::sync::Mutex::new(()),
            writer: tokio::sync::Mutex::new(()),
            state: Mutex::new(ServiceState::default()),
        }
    }

    /// The name `list` gives instance `index`.
    pub fn instance_name(&self, index: u32) -> String {
        format!(
            "{}-{}-{}-{index}",
            self.id.deployment, self.id.cluster, self.id.service
        )
    }

    /// The state file's content now, `None` before the first deploy.
    fn record(&self) -> Option<ServiceRecord> {
        let st = lock(&self.state);
        let spec = st.spec.clone()?;
        let instances = st
            .slots
            .iter()
            .map(|(index, slot)| {
                let status = lock(&slot.status);
                StoredInstance {
                    index: *index,
                    generation: status.generation,
                    ports: status.ports.clone(),
                    pid: status.pid,
                    start_ticks: status.start_ticks,
                    started_at_ms: status.started_at_ms,
                    restarts: status.restarts,
                    stopping: status.stopping,
                }
            })
            .collect();
        Some(ServiceRecord {
            format: state::FORMAT,
            id: self.id.clone(),
            spec,
            generation: st.generation,
            instances,
        })
    }

    /// Writes the state file, unless the service is being undeployed. Writes are ordered: the content is taken
    /// while holding the writer lock.
    pub async fn persist(&self) -> Result<()> {
        let _writing = self.writer.lock().await;
        if lock(&self.state).removed {
            return Ok(());
        }
        let Some(record) = self.record() else {
            return Ok(());
        };
        let written = state::write(&self.file, &record).await;
        lock(&self.state).unsaved = written.is_err();
        written
    }

    /// Removes the state file (undeploy), after any write in progress.
    pub async fn remove_file(&self) -> Result<()> {
        let _writing = self.writer.lock().await;
        state::remove(&self.file).await
    }

    /// The status of every slot, by index.
    pub fn instances(&self) -> Vec<InstanceStatus> {
        let st = lock(&self.state);
        st.slots
            .iter()
            .map(|(index, slot)| {
                let status = lock(&slot.status);
                InstanceStatus {
                    index: *index,
                    name: self.instance_name(*index),
                    ports: status.ports.clone(),
                    pid: status.pid,
                    generation: status.generation,
                    restarts: status.restarts,
                    last_exit: status.last_exit.clone(),
                    healthy: match status.probed {
                        Probed::Unknown => None,
                        Probed::Passing => Some(true),
                        Probed::Failing => Some(false),
                    },
                    stopping: status.stopping,
                }
            })
            .collect()
    }
}

/// A slot about to be added: what its supervisor starts with.
#[derive(Debug)]
pub struct NewSlot {
    /// Its ports and, for an adopted process, pid and counters.
    pub status: SlotStatus,
    /// What the supervisor is told first.
    pub command: Command,
    /// The generation of that command's plan.
    pub assigned: u64,
    /// Whether the supervisor starts a process or adopts one.
    pub start: Start,
}

/// Starts a supervisor for slot `index` of `service` and adds the slot.
pub fn add_slot(
    shared: &Arc<Shared>,
    service: &Arc<Service>,
    st: &mut ServiceState,
    index: u32,
    new: NewSlot,
) {
    let status = Arc::new(Mutex::new(new.status));
    let (control, receiver) = watch::channel(new.command);
    let task = tokio::spawn(supervisor::supervise(
        supervisor::SlotContext {
            shared: shared.clone(),
            service: service.clone(),
            index,
            status: status.clone(),
        },
        receiver,
        new.start,
    ));
    st.slots.insert(
        index,
        Slot {
            control,
            status,
            assigned: new.assigned,
            abort: task.abort_handle(),
            task: Some(task),
        },
    );
}

/// Brings the slots in line with the spec: stops the slots beyond the requested count (highest indices first),
/// starts new ones on the current plan with fresh ports, hands the current plan to the slots already on its
/// generation (so changed health checks apply without a restart), and starts a rollout when slots are on an
/// older generation. Fails with `Unavailable` when the port range has no free port left.
pub fn reconcile(shared: &Arc<Shared>, service: &Arc<Service>, st: &mut ServiceState) -> Result<()> {
    let (Some(spec), Some(plan)) = (st.spec.clone(), st.plan.clone()) else {
        return Ok(());
    };
    let active: Vec<u32> = st
        .slots
        .iter()
        .filter(|(_, slot)| !lock(&slot.status).stopping)
        .map(|(index, _)| *index)
        .collect();
    let wanted = usize::try_from(spec.scale.instances).unwrap_or(usize::MAX);
    for index in active.iter().skip(wanted) {
        if let Some(slot) = st.slots.get(index) {
            lock(&slot.status).stopping = true;
            slot.control.send_replace(Command::Stop);
        }
    }
    for slot in st.slots.values() {
        if slot.assigned == plan.generation && !lock(&slot.status).stopping {
            slot.control.send_replace(Command::Run(plan.clone()));
        }
    }
    for _ in active.len()..wanted {
        let index = (0..).find(|i| !st.slots.contains_key(i)).unwrap_or(u32::MAX);
        let mut ports = IndexMap::new();
        for name in &plan.port_names {
            match shared.ports.allocate() {
                Some(port) => {
                    ports.insert(name.clone(), port);
                }
                None => {
                    ports.values().for_each(|p| shared.ports.release(*p));
                    return Err(Error::unavailable(format!(
                        "The process driver has no free port left in {:?} for an instance of {}; free \
                         ports or widen the configured port range.",
                        shared.config.port_range, service.id
                    )));
                }
            }
        }
        let status = SlotStatus {
            ports,
            generation: plan.generation,
            ..SlotStatus::default()
        };
        let new = NewSlot {
            status,
            command: Command::Run(plan.clone()),
            assigned: plan.generation,
            start: Start::Fresh,
        };
        add_slot(shared, service, st, index, new);
    }
    let outdated = st
        .slots
        .values()
        .any(|slot| slot.assigned < plan.generation && !lock(&slot.status).stopping);
    if outdated && st.rollout.is_none() {
        let task = tokio::spawn(rollout(shared.clone(), service.clone()));
        st.rollout = Some(task.abort_handle());
    }
    Ok(())
}

/// Restarts the outdated slots one at a time, in index order, each once the previous one's new process accepts
/// connections on its first port (or just runs, without ports). Halts when a restarted slot is not ready
/// within the configured step timeout; the next deploy that changes the plan starts a new rollout.
async fn rollout(shared: Arc<Shared>, service: Arc<Service>) {
    loop {
        let next = {
            let mut st = lock(&service.state);
            let Some(plan) = st.plan.clone() else {
                st.rollout = None;
                return;
            };
            let found = st
                .slots
                .values_mut()
                .find(|slot| slot.assigned < plan.generation && !lock(&slot.status).stopping);
            match found {
                Some(slot) => {
                    slot.assigned = plan.generation;
                    slot.control.send_replace(Command::Run(plan.clone()));
                    Some((slot.status.clone(), plan.generation))
                }
                None => {
                    st.rollout = None;
                    None
                }
            }
        };
        let Some((status, generation)) = next else {
            return;
        };
        let deadline = Instant::now() + shared.config.rollout_step_timeout;
        while !is_ready(&shared, &status, generation).await {
            if Instant::now() >= deadline {
                lock(&service.state).rollout = None;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether the slot runs a live process of `generation` that accepts connections on its first port.
async fn is_ready(shared: &Shared, status: &Mutex<SlotStatus>, generation: u64) -> bool {
    let (alive, first_port) = {
        let status = lock(status);
        (
            status.generation == generation && status.is_alive(),
            status.ports.values().next().copied(),
        )
    };
    match (alive, first_port) {
        (false, _) => false,
        (true, None) => true,
        (true, Some(port)) => probe::accepts(shared.config.host, port, probe::READY_TIMEOUT).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::state::{StoredDeployable, StoredPort, StoredScale};
    use vamp_core::model::Scale;

    fn spec(definition: &str) -> AppliedSpec {
        AppliedSpec {
            deployable: StoredDeployable {
                kind: "process".into(),
                definition: definition.into(),
            },
            scale: StoredScale::from(&Scale::new(0.1, 64.0, 1)),
            environment: IndexMap::new(),
            ports: vec![StoredPort {
                name: "web".into(),
                value: "8080".into(),
                protocol: "http".into(),
            }],
            health_checks: vec![],
        }
    }

    #[test]
    fn a_plan_holds_the_split_command_and_the_port_names() {
        let id = ServiceId::new("ns", "d", "c", "s");
        let plan = Plan::new(4, &id, &spec("./server --name 'a b'")).unwrap();
        assert_eq!(plan.words, ["./server", "--name", "a b"]);
        assert_eq!(plan.port_names, ["web"]);
        assert_eq!(plan.generation, 4);
        let e = Plan::new(1, &id, &spec("./server 'x")).unwrap_err();
        assert!(e.message().contains("ns/d/c/s"), "{e}");
    }

    #[test]
    fn instances_are_named_by_deployment_cluster_service_and_index() {
        let service = Service::new(ServiceId::new("ns", "shop", "web", "sava:1.0"), PathBuf::new());
        assert_eq!(service.instance_name(2), "shop-web-sava:1.0-2");
    }
}
