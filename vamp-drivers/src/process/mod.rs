//! The local process driver (`process://`): runs every instance of a breed whose deployable is
//! `{ type: process, definition: "<command line>" }` as a child process on this machine. The embedded default.
//!
//! - **Command line**: split like a shell would quote it, but no shell runs it; the executable is
//!   looked up in the working directory, the search path and `PATH` ([`ProcessConfig`]).
//! - **Ports**: every breed port gets a free port of the configured range on the configured host, passed as
//!   `PORT` (the first port) and `PORT_<NAME>` (every port). An instance keeps its ports across restarts while
//!   they are free.
//! - **Environment**: the spec's variables, the port variables and the few variables of the driver's own
//!   environment named in [`ProcessConfig::pass_env`]; nothing else.
//! - **Scale**: `instances` processes, one supervisor each. CPU and memory are recorded and reported, not
//!   enforced.
//! - **Restarts**: a process that exits, or fails a health check as often in a row as the check tolerates, is
//!   restarted after a backoff that doubles up to a maximum and starts over after a stable run.
//! - **Stop**: SIGTERM to the instance's process group, the grace period, then SIGKILL.
//! - **Updates**: a changed command line, environment or port set restarts the instances one at a time (a
//!   rolling restart); a changed instance count starts or stops the difference; changed health checks apply
//!   without a restart.
//! - **State**: one JSON file per service in the state directory. A new driver on the same directory adopts the
//!   processes still running (checked by pid and start time, so a reused pid is not mistaken for one) and
//!   restarts the others.
//! - **Reporting**: `list` reports every instance on the configured host with its ports; an instance is
//!   `deployed` when its process runs and, if the breed has ports, accepts connections on the first one.
//!   [`ProcessDriver::events`] reports starts, exits, restarts and stops; [`ProcessDriver::instances`] pids and
//!   restart counts.

mod command;
mod config;
mod os;
mod ports;
mod probe;
mod report;
mod service;
mod state;
mod supervisor;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use indexmap::IndexMap;
use sha1::{Digest, Sha1};
use tokio::sync::broadcast;
use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::model::{Deployable, HealthCheck, Instance};
use vamp_core::{Error, Result};

pub use command::split_command_line;
pub use config::{ProcessConfig, DEFAULT_STATE_DIR};
pub use ports::{port_variable, PORT_VARIABLE};
pub use report::{InstanceStatus, ProcessEvent, ProcessEventKind};

use ports::PortAllocator;
use service::{Command, Plan, Probed, Service, SlotStatus};
use state::{AppliedSpec, StoredDeployable, StoredHealthCheck, StoredPort, StoredScale};
use supervisor::Start;

/// The driver's name in URLs and in `info`.
pub const PROCESS_DRIVER_KIND: &str = "process";
/// The deployable type the driver runs.
pub const PROCESS_DEPLOYABLE_TYPE: &str = "process";
/// The variable that marks every instance process with its state directory, service and index, so a new driver
/// finds the instances a previous one started even when it stopped before recording their pids.
pub const INSTANCE_VARIABLE: &str = "VAMP_PROCESS_INSTANCE";
/// How many events a slow [`ProcessDriver::events`] subscriber may fall behind before it misses some.
const EVENT_CAPACITY: usize = 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the driver and its supervisors share.
#[derive(Debug)]
pub(crate) struct Shared {
    config: ProcessConfig,
    services: Mutex<BTreeMap<ServiceId, Arc<Service>>>,
    ports: PortAllocator,
    events: broadcast::Sender<ProcessEvent>,
    /// Starts every [`INSTANCE_VARIABLE`] value of this state directory.
    marker_prefix: String,
}

impl Shared {
    /// The [`INSTANCE_VARIABLE`] value of instance `index` of the service whose state file is `state_file`:
    /// `<state dir hash>:<state file stem>:<index>`.
    fn marker(&self, state_file: &Path, index: u32) -> String {
        let stem = state_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{}{stem}:{index}", self.marker_prefix)
    }

    fn emit(&self, id: &ServiceId, instance: u32, kind: ProcessEventKind) {
        let _ = self.events.send(ProcessEvent {
            id: id.clone(),
            instance,
            at: Instant::now(),
            kind,
        });
    }

    /// The log file of instance `index` of the service whose state file is `state_file`.
    fn log_file(&self, state_file: &Path, index: u32) -> PathBuf {
        let stem = state_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.config.state_dir.join(format!("{stem}.{index}.log"))
    }
}

/// Runs services as local processes; see the module documentation for what it does and does not do.
///
/// Dropping the driver stops supervising (no restarts any more) but leaves the processes running, to be
/// re-adopted by the next driver on the same state directory, unless [`ProcessConfig::stop_on_drop`] is set.
#[derive(Debug)]
pub struct ProcessDriver {
    shared: Arc<Shared>,
}

impl ProcessDriver {
    /// A driver on `config.state_dir` (created if missing) that adopts the instances a previous driver on the
    /// directory left running and restarts the ones that died. Must be called within a tokio runtime with I/O and
    /// time enabled (`enable_all`), which runs the supervisors for as long as the driver lives.
    ///
    /// Fails with `Invalid` for a bad configuration and with `Backend` when the state directory cannot be
    /// created or a state file in it cannot be read.
    pub async fn new(config: ProcessConfig) -> Result<ProcessDriver> {
        let config = config.checked()?;
        tokio::fs::create_dir_all(&config.state_dir).await.map_err(|e| {
            Error::backend(format!(
                "The process driver cannot create its state directory {}: {e}",
                config.state_dir.display()
            ))
        })?;
        let records = state::read_all(&config.state_dir).await?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let digest = Sha1::digest(config.state_dir.as_os_str().as_encoded_bytes());
        let marker_prefix: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let shared = Arc::new(Shared {
            ports: PortAllocator::new(config.host, config.port_range.clone()),
            config,
            services: Mutex::new(BTreeMap::new()),
            events,
            marker_prefix: format!("{marker_prefix}:"),
        });
        let mut marked: HashMap<String, Vec<os::MarkedProcess>> = HashMap::new();
        for process in os::marked_leaders(INSTANCE_VARIABLE, &shared.marker_prefix) {
            marked.entry(process.value.clone()).or_default().push(process);
        }
        marked
            .values_mut()
            .for_each(|found| found.sort_by_key(|p| std::cmp::Reverse(p.start_ticks)));
        let driver = ProcessDriver { shared };
        let mut adopted = Vec::new();
        let mut strays = Vec::new();
        for (path, record) in records {
            adopted.push(driver.adopt(path, record, &mut marked, &mut strays)?);
        }
        strays.extend(marked.into_values().flatten().map(|p| p.pid));
        for pid in strays {
            let _ = os::signal_group(pid, true);
        }
        for service in adopted {
            service.persist().await?;
        }
        Ok(driver)
    }

    /// The configuration in force, paths made absolute.
    pub fn config(&self) -> &ProcessConfig {
        &self.shared.config
    }

    /// Events about instance processes from now on: starts, adoptions, exits with the backoff before the
    /// restart, failed starts, failed health checks, stops.
    pub fn events(&self) -> broadcast::Receiver<ProcessEvent> {
        self.shared.events.subscribe()
    }

    /// The instances of service `id` with pids and restart counts, by index; empty when it is not deployed.
    pub fn instances(&self, id: &ServiceId) -> Vec<InstanceStatus> {
        let service = lock(&self.shared.services).get(id).cloned();
        service.map(|s| s.instances()).unwrap_or_default()
    }

    /// Takes over the service of a state file: adopts its live instances, restarts its dead ones, stops the
    /// ones that were being stopped, and resumes an interrupted rolling restart.
    ///
    /// An instance whose recorded pid is gone but whose marked process runs (the previous driver stopped
    /// between starting it and recording it) is adopted by its mark, taken out of `marked`; other processes
    /// with the same mark are added to `strays`, to be killed.
    fn adopt(
        &self,
        path: PathBuf,
        record: state::ServiceRecord,
        marked: &mut HashMap<String, Vec<os::MarkedProcess>>,
        strays: &mut Vec<u32>,
    ) -> Result<Arc<Service>> {
        let shared = &self.shared;
        let service = Arc::new(Service::new(record.id.clone(), path));
        let plan = Arc::new(Plan::new(record.generation, &record.id, &record.spec)?);
        {
            let mut st = lock(&service.state);
            st.spec = Some(record.spec.clone());
            st.plan = Some(plan.clone());
            st.generation = record.generation;
            for instance in &record.instances {
                let recorded = instance
                    .pid
                    .filter(|pid| os::is_alive(*pid, instance.start_ticks))
                    .map(|pid| (pid, instance.start_ticks, instance.generation));
                let mut found = marked
                    .remove(&shared.marker(&service.file, instance.index))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| recorded.is_none_or(|(pid, _, _)| pid != p.pid));
                let running = recorded.or_else(|| {
                    found
                        .next()
                        .map(|p| (p.pid, Some(p.start_ticks), plan.generation))
                });
                strays.extend(found.map(|p| p.pid));
                let alive = running.is_some();
                if instance.stopping && !alive {
                    continue;
                }
                instance.ports.values().for_each(|p| shared.ports.hold(*p));
                let start = match running {
                    Some((pid, start_ticks, _)) => Start::Adopt { pid, start_ticks },
                    None => Start::Fresh,
                };
                let generation = running.map_or(plan.generation, |(_, _, g)| g);
                let command = if instance.stopping {
                    Command::Stop
                } else if generation == plan.generation {
                    Command::Run(plan.clone())
                } else {
                    Command::Run(Arc::new(Plan {
                        generation,
                        ..(*plan).clone()
                    }))
                };
                let status = SlotStatus {
                    ports: instance.ports.clone(),
                    pid: running.map(|(pid, _, _)| pid),
                    start_ticks: running.and_then(|(_, ticks, _)| ticks),
                    started_at_ms: instance.started_at_ms.filter(|_| alive),
                    generation,
                    restarts: instance.restarts,
                    stopping: instance.stopping,
                    ..SlotStatus::default()
                };
                service::add_slot(
                    shared,
                    &service,
                    &mut st,
                    instance.index,
                    service::NewSlot {
                        status,
                        command,
                        assigned: generation,
                        start,
                    },
                );
            }
            service::reconcile(shared, &service, &mut st)?;
        }
        lock(&shared.services).insert(record.id, service.clone());
        Ok(service)
    }

    /// Applies `spec` to `service`: records it, bumps the generation when the instances need a restart, and
    /// reconciles the slots.
    async fn apply(&self, service: &Arc<Service>, spec: AppliedSpec) -> Result<()> {
        {
            let mut st = lock(&service.state);
            if st.spec.as_ref() == Some(&spec) && !st.unsaved {
                return Ok(());
            }
            if st.spec.as_ref() != Some(&spec) {
                let restart = st
                    .spec
                    .as_ref()
                    .is_none_or(|current| current.needs_restart_for(&spec));
                if restart {
                    st.generation += 1;
                }
                let plan = Plan::new(st.generation, &service.id, &spec)?;
                st.spec = Some(spec);
                st.plan = Some(Arc::new(plan));
                service::reconcile(&self.shared, service, &mut st)?;
            }
        }
        service.persist().await
    }
}

impl Drop for ProcessDriver {
    /// Stops every supervisor; kills the instances too when the configuration says so.
    fn drop(&mut self) {
        let services: Vec<Arc<Service>> = lock(&self.shared.services).values().cloned().collect();
        for service in services {
            let mut st = lock(&service.state);
            if let Some(rollout) = st.rollout.take() {
                rollout.abort();
            }
            for slot in st.slots.values() {
                slot.abort.abort();
                if self.shared.config.stop_on_drop {
                    if let Some(pid) = lock(&slot.status).pid {
                        let _ = os::signal_group(pid, true);
                    }
                }
            }
        }
    }
}

/// The part of `spec` the driver acts on, after checking that it can run it.
fn validate(config: &ProcessConfig, spec: &ServiceSpec) -> Result<AppliedSpec> {
    let id = &spec.id;
    if spec.deployable.normalized_kind() != PROCESS_DEPLOYABLE_TYPE {
        return Err(Error::unsupported(format!(
            "The process driver cannot run deployables of type '{}' (service {id}); it runs '{}' \
             deployables, whose definition is a command line.",
            spec.deployable.kind, PROCESS_DEPLOYABLE_TYPE
        )));
    }
    let invalid = |why: String| Error::invalid(format!("Service {id}: {why}"));
    let words = split_command_line(&spec.deployable.definition)
        .map_err(|why| invalid(format!("the command line '{}' {why}", spec.deployable.definition)))?;
    if let Some(program) = words.first() {
        command::resolve_program(
            program,
            &config.working_dir,
            &config.search_path,
            std::env::var_os("PATH").as_deref(),
        )
        .map_err(|why| invalid(format!("the command line {why}")))?;
    }
    if let Some(argument) = spec.arguments.first() {
        return Err(invalid(format!(
            "the process driver takes no container arguments, and '{}: {}' is one; remove it from the breed \
             or run the service with a container driver.",
            argument.key, argument.value
        )));
    }
    let mut names = HashSet::new();
    let mut variables = HashSet::new();
    for port in &spec.ports {
        if port.name.is_empty() || !names.insert(port.name.as_str()) {
            return Err(invalid(format!(
                "the port name '{}' is empty or given twice; give every port a name of its own.",
                port.name
            )));
        }
        if !variables.insert(port_variable(&port.name)) {
            return Err(invalid(format!(
                "the port '{}' would be passed as {}, like another port; rename one of them.",
                port.name,
                port_variable(&port.name)
            )));
        }
    }
    for (name, value) in &spec.environment {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(invalid(format!(
                "the variable '{name}' has an empty name, or a '=' or NUL character in its name or value, \
                 which no process environment can hold."
            )));
        }
    }
    for check in &spec.health_checks {
        if !names.contains(check.port.as_str()) {
            return Err(invalid(format!(
                "a health check probes the port '{}', which the breed does not have; name one of its ports.",
                check.port
            )));
        }
        if !check.protocol.eq_ignore_ascii_case("http") && !check.protocol.eq_ignore_ascii_case("tcp") {
            return Err(invalid(format!(
                "a health check uses the protocol '{}'; the process driver probes HTTP and TCP.",
                check.protocol
            )));
        }
    }
    Ok(AppliedSpec {
        deployable: StoredDeployable::from(&spec.deployable),
        scale: StoredScale::from(&spec.scale),
        environment: spec.environment.clone(),
        ports: spec.ports.iter().map(StoredPort::from).collect(),
        health_checks: spec.health_checks.iter().map(StoredHealthCheck::from).collect(),
    })
}

/// An instance as `list` sees it before probing its port.
struct Seen {
    name: String,
    ports: IndexMap<String, u16>,
    alive: bool,
    probed: Probed,
}

#[async_trait]
impl ContainerDriver for ProcessDriver {
    async fn info(&self) -> Result<DriverInfo> {
        Ok(DriverInfo {
            kind: PROCESS_DRIVER_KIND.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            deployable_types: vec![PROCESS_DEPLOYABLE_TYPE.to_string()],
        })
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        let services: Vec<Arc<Service>> = lock(&self.shared.services)
            .iter()
            .filter(|(id, _)| id.namespace == namespace)
            .map(|(_, service)| service.clone())
            .collect();
        let mut listed = Vec::new();
        for service in services {
            let (spec, seen) = {
                let st = lock(&service.state);
                let Some(spec) = st.spec.clone() else {
                    continue;
                };
                let seen: Vec<Seen> = st
                    .slots
                    .iter()
                    .filter_map(|(index, slot)| {
                        let status = lock(&slot.status);
                        (!status.stopping).then(|| Seen {
                            name: service.instance_name(*index),
                            ports: status.ports.clone(),
                            alive: status.is_alive(),
                            probed: status.probed,
                        })
                    })
                    .collect();
                (spec, seen)
            };
            let host = self.shared.config.host;
            let probes = seen.iter().map(|s| async move {
                match (s.alive, s.ports.values().next()) {
                    (false, _) => false,
                    (true, None) => true,
                    (true, Some(port)) => probe::accepts(host, *port, probe::READY_TIMEOUT).await,
                }
            });
            let deployed = futures::future::join_all(probes).await;
            let checked = !spec.health_checks.is_empty();
            let mut health = vamp_core::model::Health::default();
            let mut instances = Vec::new();
            for (s, deployed) in seen.into_iter().zip(deployed) {
                if deployed {
                    health.running += 1;
                    match (checked, s.probed) {
                        (false, _) | (true, Probed::Passing) => health.healthy += 1,
                        (true, Probed::Failing) => health.unhealthy += 1,
                        (true, Probed::Unknown) => {}
                    }
                } else {
                    health.staged += 1;
                }
                instances.push(Instance {
                    name: s.name,
                    host: host.to_string(),
                    ports: s.ports,
                    deployed,
                });
            }
            listed.push(RunningService {
                id: service.id.clone(),
                deployable: Deployable::from(&spec.deployable),
                scale: (&spec.scale).into(),
                instances,
                health,
                environment: spec.environment.clone(),
                health_checks: Some(spec.health_checks.iter().map(HealthCheck::from).collect()),
            });
        }
        Ok(listed)
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        let applied = validate(&self.shared.config, spec)?;
        loop {
            let service = {
                let mut services = lock(&self.shared.services);
                services
                    .entry(spec.id.clone())
                    .or_insert_with(|| {
                        Arc::new(Service::new(
                            spec.id.clone(),
                            state::file_of(&self.shared.config.state_dir, &spec.id),
                        ))
                    })
                    .clone()
            };
            let _op = service.op.lock().await;
            if lock(&service.state).removed {
                continue;
            }
            return self.apply(&service, applied).await;
        }
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        let Some(service) = lock(&self.shared.services).get(id).cloned() else {
            return Ok(());
        };
        let _op = service.op.lock().await;
        let (tasks, slots, logs) = {
            let mut st = lock(&service.state);
            if st.removed {
                return Ok(());
            }
            st.removed = true;
            if let Some(rollout) = st.rollout.take() {
                rollout.abort();
            }
            let mut tasks = Vec::new();
            for slot in st.slots.values_mut() {
                lock(&slot.status).stopping = true;
                slot.control.send_replace(Command::Stop);
                tasks.extend(slot.task.take());
            }
            let slots: Vec<_> = st.slots.values().map(|slot| slot.status.clone()).collect();
            let logs: Vec<PathBuf> = st
                .slots
                .keys()
                .map(|index| self.shared.log_file(&service.file, *index))
                .collect();
            (tasks, slots, logs)
        };
        futures::future::join_all(tasks).await;
        for status in slots {
            let status = lock(&status);
            if status.is_alive() {
                if let Some(pid) = status.pid {
                    let _ = os::signal_group(pid, true);
                }
            }
            status.ports.values().for_each(|p| self.shared.ports.release(*p));
        }
        for log in logs {
            let _ = tokio::fs::remove_file(log).await;
        }
        service.remove_file().await?;
        let mut services = lock(&self.shared.services);
        if services.get(id).is_some_and(|s| Arc::ptr_eq(s, &service)) {
            services.remove(id);
        }
        Ok(())
    }
}
