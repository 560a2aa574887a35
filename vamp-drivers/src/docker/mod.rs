//! The Docker driver (`docker://`): one container per service instance, through the Docker Engine API (bollard;
//! plain HTTP over a Unix socket or TCP, no TLS). Podman's Docker-compatible API works through the same driver.
//!
//! What a container looks like ([`create`]): named `<prefix>-<namespace>-<deployment>-<cluster>-<service>-<i>`
//! ([`names`]), labelled with the service id, its instance index, the spec hash and the service's record
//! ([`record`]), with the spec's environment, its ports published on the configured address (loopback by
//! default) on ports Docker picks, the scale's cpu and memory as limits, the health checks as a Docker
//! `Healthcheck` ([`healthcheck`]), the arguments as Docker parameters and the `docker` dialect merged under all
//! of that ([`dialect`]).
//!
//! The driver keeps no state: `list` rebuilds every service from labels (see [`record`]), so a fresh driver sees
//! what another created. `deploy` keeps containers whose spec hash matches, replaces the others one at a time
//! (the new container is started before the old one is stopped; it does not wait for health checks), and adds
//! or removes containers to reach the instance count. `undeploy` stops containers (SIGTERM, then SIGKILL after
//! the stop timeout) and removes them. Images are not built; a missing one is pulled when
//! [`DockerConfig::pull_images`] is on, otherwise the deploy fails with `Invalid`.

pub mod create;
pub mod dialect;
pub mod endpoint;
mod errors;
pub mod healthcheck;
mod listing;
pub mod names;
pub mod record;

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures::{StreamExt, TryStreamExt};
use vamp_core::driver::{ContainerDriver, DriverInfo, RunningService, ServiceId, ServiceSpec};
use vamp_core::{Error, Result};

use create::{ContainerPlan, DEPLOYABLE_TYPES};
pub use endpoint::{DockerConfig, Endpoint};
use errors::{map, status};
use listing::{Container, State};
use names::{instance_name, service_name};
use record::{has_id, id_filter, instance_index, namespace_filter, Record, LABEL_HEALTH_CHECKS};

/// A [`ContainerDriver`] running service instances as Docker containers.
///
/// Connecting does no I/O: the client is made, and the API version negotiated, on the first call, so a driver
/// can be built before its daemon runs. Every call to a daemon that cannot be reached fails with a retryable
/// `Unavailable` naming the socket or host.
#[derive(Debug)]
pub struct DockerDriver {
    endpoint: Endpoint,
    config: DockerConfig,
    client: tokio::sync::Mutex<Option<Docker>>,
}

/// What `deploy` does to one instance slot.
enum Step {
    Create(u32),
    Start(Container),
    Replace(u32, Vec<Container>),
    Remove(Container),
}

impl DockerDriver {
    /// A driver for the daemon at `url` (`docker://`, `docker:///path/to.sock`, `docker://host:port`, with the
    /// query parameters of [`endpoint`]) and the default configuration. `Invalid` for a URL it cannot read.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, DockerConfig::default())
    }

    /// A driver for the daemon at `url` with `config`, which the URL's query parameters override.
    pub fn connect_with(url: &str, config: DockerConfig) -> Result<Self> {
        let (endpoint, config) = endpoint::parse(url, config)?;
        Ok(DockerDriver {
            endpoint,
            config,
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// Where the daemon is.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How the driver names, publishes, pulls and stops.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    /// The API client, made and version-negotiated on first use.
    async fn docker(&self) -> Result<Docker> {
        let mut slot = self.client.lock().await;
        if let Some(docker) = slot.as_ref() {
            return Ok(docker.clone());
        }
        let timeout = self.config.request_timeout.as_secs().max(1);
        let client = match &self.endpoint {
            Endpoint::Unix(path) => {
                Docker::connect_with_unix(&path.to_string_lossy(), timeout, API_DEFAULT_VERSION)
            }
            Endpoint::Tcp { .. } => {
                Docker::connect_with_http(&self.endpoint.to_string(), timeout, API_DEFAULT_VERSION)
            }
        }
        .map_err(|e| map(e, &self.endpoint, "connect"))?;
        let client = client
            .negotiate_version()
            .await
            .map_err(|e| map(e, &self.endpoint, "agree on an API version"))?;
        *slot = Some(client.clone());
        Ok(client)
    }

    fn fail<'a>(&'a self, what: &'a str) -> impl Fn(bollard::errors::Error) -> Error + 'a {
        move |e| map(e, &self.endpoint, what)
    }

    /// Where instances are reached when Docker reports no specific address: the publish address, or the
    /// daemon's host when ports are published on every address.
    fn fallback_host(&self) -> String {
        match self.config.publish_address.as_str() {
            "0.0.0.0" | "::" | "" => self.endpoint.host().to_string(),
            specific => specific.to_string(),
        }
    }

    async fn containers(&self, docker: &Docker, labels: Vec<String>, what: &str) -> Result<Vec<Container>> {
        let filters: HashMap<&str, Vec<String>> = [("label", labels)].into_iter().collect();
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let summaries = docker
            .list_containers(Some(options))
            .await
            .map_err(self.fail(what))?;
        Ok(summaries
            .into_iter()
            .filter_map(Container::from_summary)
            .filter(|c| has_id(&c.labels))
            .collect())
    }

    async fn records(
        &self,
        docker: &Docker,
        labels: Vec<String>,
        what: &str,
    ) -> Result<Vec<(String, Record)>> {
        let filters: HashMap<&str, Vec<String>> = [("label", labels)].into_iter().collect();
        let options = ListVolumesOptionsBuilder::default().filters(&filters).build();
        let volumes = docker
            .list_volumes(Some(options))
            .await
            .map_err(self.fail(what))?;
        Ok(volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| Record::from_labels(&v.labels).ok().map(|r| (v.name, r)))
            .collect())
    }

    /// Fills in the health of running containers with health checks whose summary did not tell it (Podman).
    async fn with_health(&self, docker: &Docker, containers: Vec<Container>) -> Vec<Container> {
        futures::stream::iter(containers)
            .map(|mut c| async move {
                let checked = c.labels.get(LABEL_HEALTH_CHECKS).is_some_and(|l| l != "[]");
                if c.state == State::Running && c.health.is_none() && checked {
                    if let Ok(inspected) = docker
                        .inspect_container(&c.id, None::<InspectContainerOptions>)
                        .await
                    {
                        c.health = listing::health_from_inspect(
                            inspected.state.and_then(|s| s.health).and_then(|h| h.status),
                        );
                    }
                }
                c
            })
            .buffered(self.config.parallelism)
            .collect()
            .await
    }

    async fn ensure_image(&self, docker: &Docker, image: &str, id: &ServiceId) -> Result<()> {
        let what = format!("inspect image {image} for service {id}");
        match docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(map(e, &self.endpoint, &what)),
        }
        if !self.config.pull_images {
            return Err(Error::invalid(format!(
                "The image '{image}' of service {id} is not on the Docker daemon at {}, and the driver does not \
                 pull images (pull=false); load or build it there first, or let the driver pull.",
                self.endpoint
            )));
        }
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        docker
            .create_image(Some(options), None, None)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(|e| {
                let mut error = map(e, &self.endpoint, &format!("pull image {image} for service {id}"));
                if error.kind() == vamp_core::ErrorKind::NotFound {
                    error = Error::invalid(error.message().to_string());
                }
                error
            })
    }

    /// Writes the record volume when its labels differ from `record`'s (remove, then create).
    async fn write_record(&self, docker: &Docker, base: &str, record: &Record) -> Result<()> {
        let what = format!("write the record of service {}", record.id);
        let existing = self.records(docker, id_filter(&record.id), &what).await?;
        let wanted = record.labels();
        if existing.len() == 1
            && existing
                .iter()
                .all(|(name, r)| name == base && r.labels() == wanted)
        {
            return Ok(());
        }
        for (name, _) in &existing {
            self.remove_volume(docker, name, &what).await?;
        }
        let request = VolumeCreateRequest {
            name: Some(base.to_string()),
            labels: Some(wanted),
            ..Default::default()
        };
        docker.create_volume(request).await.map_err(self.fail(&what))?;
        Ok(())
    }

    async fn remove_volume(&self, docker: &Docker, name: &str, what: &str) -> Result<()> {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        match docker.remove_volume(name, Some(options)).await {
            Err(e) if status(&e) != Some(404) => Err(map(e, &self.endpoint, what)),
            _ => Ok(()),
        }
    }

    async fn create_instance(
        &self,
        docker: &Docker,
        plan: &ContainerPlan,
        base: &str,
        index: u32,
    ) -> Result<()> {
        let name = instance_name(base, index);
        let what = format!("create container {name} of service {}", plan.record.id);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker
            .create_container(Some(options), plan.body(index))
            .await
            .map_err(self.fail(&what))?;
        docker
            .start_container(&created.id, None)
            .await
            .map_err(self.fail(&format!("start container {name} of service {}", plan.record.id)))
    }

    /// Stops (SIGTERM, SIGKILL after the stop timeout) and removes a container; gone already is fine.
    async fn retire(&self, docker: &Docker, container: &Container) -> Result<()> {
        let what = format!("remove container {}", container.name);
        let seconds = i32::try_from(self.config.stop_timeout.as_secs()).unwrap_or(i32::MAX);
        if matches!(
            container.state,
            State::Running | State::Paused | State::Restarting
        ) {
            let options = StopContainerOptionsBuilder::default().t(seconds).build();
            if let Err(e) = docker.stop_container(&container.id, Some(options)).await {
                if status(&e) != Some(404) {
                    return Err(map(e, &self.endpoint, &what));
                }
            }
        }
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&container.id, Some(options)).await {
            Err(e) if status(&e) != Some(404) => Err(map(e, &self.endpoint, &what)),
            _ => Ok(()),
        }
    }

    /// Rolling replacement of one slot: the old container holding the name is renamed, the new one created and
    /// started, then the old ones removed.
    async fn replace(
        &self,
        docker: &Docker,
        plan: &ContainerPlan,
        base: &str,
        index: u32,
        old: &[Container],
    ) -> Result<()> {
        let name = instance_name(base, index);
        for c in old.iter().filter(|c| c.name == name) {
            let retired: String = format!("{name}-retired-{}", c.id.chars().take(12).collect::<String>());
            let options = RenameContainerOptionsBuilder::default().name(&retired).build();
            docker
                .rename_container(&c.id, options)
                .await
                .map_err(self.fail(&format!("rename container {name} before replacing it")))?;
        }
        self.create_instance(docker, plan, base, index).await?;
        for c in old {
            self.retire(docker, c).await?;
        }
        Ok(())
    }

    async fn run(&self, docker: &Docker, plan: &ContainerPlan, base: &str, step: Step) -> Result<()> {
        match step {
            Step::Create(index) => self.create_instance(docker, plan, base, index).await,
            Step::Start(c) => docker
                .start_container(&c.id, None)
                .await
                .map_err(self.fail(&format!("start container {}", c.name))),
            Step::Replace(index, old) => self.replace(docker, plan, base, index, &old).await,
            Step::Remove(c) => self.retire(docker, &c).await,
        }
    }
}

/// What to do so that `instances` containers of hash `hash` run, given the service's containers now.
fn steps(current: Vec<Container>, instances: u32, hash: &str) -> Vec<Step> {
    let mut slots: HashMap<u32, Vec<Container>> = HashMap::new();
    let mut out = Vec::new();
    for c in current {
        match instance_index(&c.labels).filter(|i| *i < instances) {
            Some(i) => slots.entry(i).or_default().push(c),
            None => out.push(Step::Remove(c)),
        }
    }
    for index in 0..instances {
        let mut members = slots.remove(&index).unwrap_or_default();
        let usable = |c: &Container| {
            c.labels.get(record::LABEL_SPEC_HASH).map(String::as_str) == Some(hash)
                && !matches!(c.state, State::Exited | State::Dead | State::Other)
        };
        members.sort_by_key(|c| (!usable(c), c.state != State::Running, c.name.clone()));
        match members.first().filter(|c| usable(c)).is_some() {
            true => {
                let mut rest = members.into_iter();
                if let Some(keep) = rest.next() {
                    if keep.state == State::Created {
                        out.push(Step::Start(keep));
                    }
                }
                out.extend(rest.map(Step::Remove));
            }
            false if members.is_empty() => out.push(Step::Create(index)),
            false => out.push(Step::Replace(index, members)),
        }
    }
    out
}

fn first_error(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
}

#[async_trait]
impl ContainerDriver for DockerDriver {
    async fn info(&self) -> Result<DriverInfo> {
        let docker = self.docker().await?;
        let version = docker.version().await.map_err(self.fail("read its version"))?;
        let engine = version.version.unwrap_or_else(|| "unknown".to_string());
        let api = version.api_version.unwrap_or_else(|| "unknown".to_string());
        Ok(DriverInfo {
            kind: "docker".to_string(),
            version: format!("{engine} (API {api})"),
            deployable_types: DEPLOYABLE_TYPES.iter().map(|t| t.to_string()).collect(),
        })
    }

    async fn list(&self, namespace: &str) -> Result<Vec<RunningService>> {
        let docker = self.docker().await?;
        let what = format!("list the services of namespace {namespace}");
        let (records, containers) = futures::try_join!(
            self.records(&docker, namespace_filter(namespace), &what),
            self.containers(&docker, namespace_filter(namespace), &what)
        )?;
        let containers = self.with_health(&docker, containers).await;
        let records = records.into_iter().map(|(_, r)| r).collect();
        Ok(listing::services(records, &containers, &self.fallback_host()))
    }

    async fn deploy(&self, spec: &ServiceSpec) -> Result<()> {
        let plan = ContainerPlan::build(spec, &self.config)?;
        let docker = self.docker().await?;
        let base = service_name(&self.config.name_prefix, &spec.id);
        let what = format!("list the containers of service {}", spec.id);
        let current = self.containers(&docker, id_filter(&spec.id), &what).await?;
        let steps = steps(current, spec.scale.instances, &plan.record.spec_hash);
        if steps
            .iter()
            .any(|s| matches!(s, Step::Create(_) | Step::Replace(..)))
        {
            self.ensure_image(&docker, &plan.image, &spec.id).await?;
        }
        self.write_record(&docker, &base, &plan.record).await?;
        let (rolling, parallel): (Vec<Step>, Vec<Step>) =
            steps.into_iter().partition(|s| matches!(s, Step::Replace(..)));
        let results = futures::stream::iter(parallel)
            .map(|step| self.run(&docker, &plan, &base, step))
            .buffer_unordered(self.config.parallelism)
            .collect()
            .await;
        first_error(results)?;
        for step in rolling {
            self.run(&docker, &plan, &base, step).await?;
        }
        Ok(())
    }

    async fn undeploy(&self, id: &ServiceId) -> Result<()> {
        let docker = self.docker().await?;
        let what = format!("undeploy service {id}");
        let containers = self.containers(&docker, id_filter(id), &what).await?;
        let results = futures::stream::iter(containers)
            .map(|c| {
                let docker = &docker;
                async move { self.retire(docker, &c).await }
            })
            .buffer_unordered(self.config.parallelism)
            .collect()
            .await;
        first_error(results)?;
        for (name, _) in self.records(&docker, id_filter(id), &what).await? {
            self.remove_volume(&docker, &name, &what).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use record::{LABEL_INSTANCE, LABEL_SPEC_HASH};

    fn container(index: u32, hash: &str, state: State) -> Container {
        Container {
            id: format!("{index}{hash}{state:?}"),
            name: format!("c-{index}"),
            labels: [
                (LABEL_INSTANCE.to_string(), index.to_string()),
                (LABEL_SPEC_HASH.to_string(), hash.to_string()),
            ]
            .into_iter()
            .collect(),
            state,
            health: None,
            created: 0,
            network_mode: None,
            published: Vec::new(),
        }
    }

    fn describe(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Create(i) => format!("create {i}"),
                Step::Start(c) => format!("start {}", c.id),
                Step::Replace(i, old) => format!("replace {i} ({})", old.len()),
                Step::Remove(c) => format!("remove {}", c.id),
            })
            .collect()
    }

    #[test]
    fn matching_running_containers_are_kept() {
        let current = vec![
            container(0, "h", State::Running),
            container(1, "h", State::Running),
        ];
        assert!(steps(current, 2, "h").is_empty());
    }

    #[test]
    fn scaling_adds_and_removes_slots_only() {
        let current = vec![
            container(0, "h", State::Running),
            container(1, "h", State::Running),
        ];
        assert_eq!(describe(&steps(current.clone(), 3, "h")), ["create 2"]);
        assert_eq!(describe(&steps(current, 1, "h")), ["remove 1hRunning"]);
    }

    #[test]
    fn a_changed_hash_or_an_exited_container_is_replaced() {
        let current = vec![
            container(0, "old", State::Running),
            container(1, "h", State::Exited),
        ];
        assert_eq!(
            describe(&steps(current, 2, "h")),
            ["replace 0 (1)", "replace 1 (1)"]
        );
    }

    #[test]
    fn a_created_container_is_started_and_duplicates_removed() {
        let current = vec![
            container(0, "h", State::Created),
            container(0, "old", State::Running),
        ];
        assert_eq!(
            describe(&steps(current, 1, "h")),
            ["start 0hCreated", "remove 0oldRunning"]
        );
    }
}
