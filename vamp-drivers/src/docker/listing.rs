//! Rebuilding running services from what Docker reports: container summaries and record volumes, read by their
//! labels alone (a fresh driver sees what another created).
//!
//! An instance is a container of the service: its name, the host its ports are published on and, per breed
//! port, the host port Docker picked. It is `deployed` when it runs and is not failing or still starting a
//! health check. The health counts: `staged` = created or restarting, `running` = running, `healthy` = running
//! and healthy (or running without a health check), `unhealthy` = running and unhealthy, or exited, or dead.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerSummary, ContainerSummaryHealthStatusEnum, ContainerSummaryStateEnum, HealthStatusEnum,
    PortSummaryTypeEnum,
};
use vamp_core::driver::{RunningService, ServiceId};
use vamp_core::model::{Health, Instance};

use super::record::{instance_index, Record};

/// The lifecycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Other,
}

/// A container's health-check status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealthState {
    Starting,
    Healthy,
    Unhealthy,
}

/// A port Docker published: host address, container port and host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    pub ip: String,
    pub private: u16,
    pub public: u16,
}

/// What the driver needs of one container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Container {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    pub state: State,
    pub health: Option<HealthState>,
    pub created: i64,
    pub network_mode: Option<String>,
    pub published: Vec<Published>,
}

/// The health status Docker 20.10 writes into the status text, e.g. `Up 3 seconds (health: starting)`.
fn health_from_status(status: &str) -> Option<HealthState> {
    if status.contains("(healthy)") {
        Some(HealthState::Healthy)
    } else if status.contains("(unhealthy)") {
        Some(HealthState::Unhealthy)
    } else if status.contains("(health: starting)") {
        Some(HealthState::Starting)
    } else {
        None
    }
}

/// The health status of an inspected container.
pub(crate) fn health_from_inspect(status: Option<HealthStatusEnum>) -> Option<HealthState> {
    match status? {
        HealthStatusEnum::STARTING => Some(HealthState::Starting),
        HealthStatusEnum::HEALTHY => Some(HealthState::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(HealthState::Unhealthy),
        HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => None,
    }
}

impl Container {
    /// The container a summary describes; `None` without an id.
    pub fn from_summary(summary: ContainerSummary) -> Option<Container> {
        let id = summary.id?;
        let name = summary
            .names
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.chars().take(12).collect());
        let state = match summary.state {
            Some(ContainerSummaryStateEnum::CREATED) => State::Created,
            Some(ContainerSummaryStateEnum::RUNNING) => State::Running,
            Some(ContainerSummaryStateEnum::PAUSED) => State::Paused,
            Some(ContainerSummaryStateEnum::RESTARTING) => State::Restarting,
            Some(ContainerSummaryStateEnum::EXITED) => State::Exited,
            Some(ContainerSummaryStateEnum::DEAD) => State::Dead,
            _ => State::Other,
        };
        let health = match summary.health.and_then(|h| h.status) {
            Some(ContainerSummaryHealthStatusEnum::STARTING) => Some(HealthState::Starting),
            Some(ContainerSummaryHealthStatusEnum::HEALTHY) => Some(HealthState::Healthy),
            Some(ContainerSummaryHealthStatusEnum::UNHEALTHY) => Some(HealthState::Unhealthy),
            _ => summary.status.as_deref().and_then(health_from_status),
        };
        let published = summary
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter(|p| matches!(p.typ, None | Some(PortSummaryTypeEnum::TCP)))
            .filter_map(|p| {
                Some(Published {
                    ip: p.ip.unwrap_or_default(),
                    private: p.private_port,
                    public: p.public_port?,
                })
            })
            .collect();
        Some(Container {
            id,
            name,
            labels: summary.labels.unwrap_or_default(),
            state,
            health,
            created: summary.created.unwrap_or(0),
            network_mode: summary.host_config.and_then(|h| h.network_mode),
            published,
        })
    }

    /// Whether the container runs and no health check says it is not ready.
    pub fn ready(&self) -> bool {
        self.state == State::Running && matches!(self.health, None | Some(HealthState::Healthy))
    }
}

fn unspecified(ip: &str) -> bool {
    matches!(ip, "" | "0.0.0.0" | "::" | "[::]")
}

fn instance(container: &Container, record: &Record, fallback_host: &str) -> Instance {
    let host_network = container.network_mode.as_deref() == Some("host");
    let mut host = None;
    let ports = record
        .ports
        .iter()
        .filter_map(|(name, number)| {
            if host_network {
                return Some((name.clone(), *number));
            }
            let mut candidates: Vec<&Published> = container
                .published
                .iter()
                .filter(|p| p.private == *number)
                .collect();
            candidates.sort_by_key(|p| p.ip.contains(':'));
            let chosen = candidates.first()?;
            if host.is_none() && !unspecified(&chosen.ip) {
                host = Some(chosen.ip.clone());
            }
            Some((name.clone(), chosen.public))
        })
        .collect();
    Instance {
        name: container.name.clone(),
        host: host.unwrap_or_else(|| fallback_host.to_string()),
        ports,
        deployed: container.ready(),
    }
}

fn health(containers: &[&Container]) -> Health {
    let mut health = Health::default();
    for c in containers {
        match c.state {
            State::Created | State::Restarting => health.staged += 1,
            State::Running => {
                health.running += 1;
                match c.health {
                    None | Some(HealthState::Healthy) => health.healthy += 1,
                    Some(HealthState::Unhealthy) => health.unhealthy += 1,
                    Some(HealthState::Starting) => {}
                }
            }
            State::Exited | State::Dead => health.unhealthy += 1,
            State::Paused | State::Other => {}
        }
    }
    health
}

/// The services of `records` (from record volumes) and `containers`, sorted by id. A service with a record but
/// no container is listed without instances; one with containers but no record takes the record of its newest
/// container. Objects whose labels are not Vamp's are left out.
pub(crate) fn services(
    records: Vec<Record>,
    containers: &[Container],
    fallback_host: &str,
) -> Vec<RunningService> {
    let mut by_id: BTreeMap<ServiceId, (Option<Record>, Vec<&Container>)> = BTreeMap::new();
    for record in records {
        let id = record.id.clone();
        by_id.entry(id).or_default().0 = Some(record);
    }
    for container in containers {
        if let Ok(id) = ServiceId::from_labels(&container.labels) {
            by_id.entry(id).or_default().1.push(container);
        }
    }
    by_id
        .into_values()
        .filter_map(|(record, mut members)| {
            members.sort_by(|a, b| {
                (instance_index(&a.labels), &a.name).cmp(&(instance_index(&b.labels), &b.name))
            });
            let record = record.or_else(|| {
                members
                    .iter()
                    .filter_map(|c| {
                        Record::from_labels(&c.labels)
                            .ok()
                            .map(|r| (c.created, &c.name, r))
                    })
                    .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
                    .map(|(_, _, r)| r)
            })?;
            Some(RunningService {
                id: record.id.clone(),
                deployable: record.deployable.clone(),
                scale: record.scale.clone(),
                instances: members
                    .iter()
                    .map(|c| instance(c, &record, fallback_host))
                    .collect(),
                health: health(&members),
                environment: record.environment.clone(),
                health_checks: Some(record.health_checks.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use vamp_core::model::{Deployable, Scale};

    fn record(service: &str, instances: u32) -> Record {
        Record {
            id: ServiceId::new("ns", "shop", "web", service),
            deployable: Deployable::docker("img:1"),
            scale: Scale::new(0.1, 64.0, instances),
            environment: IndexMap::new(),
            health_checks: Vec::new(),
            ports: [("web".to_string(), 8080)].into_iter().collect(),
            spec_hash: "h".into(),
        }
    }

    fn container(record: &Record, index: u32, state: State, health: Option<HealthState>) -> Container {
        let mut labels = record.labels();
        labels.insert(super::super::record::LABEL_INSTANCE.into(), index.to_string());
        Container {
            id: format!("id{index}"),
            name: format!("vamp-ns-shop-web-{}-{index}", record.id.service),
            labels,
            state,
            health,
            created: i64::from(index),
            network_mode: Some("bridge".into()),
            published: vec![
                Published {
                    ip: "::".into(),
                    private: 8080,
                    public: 40000 + index as u16,
                },
                Published {
                    ip: "127.0.0.1".into(),
                    private: 8080,
                    public: 30000 + index as u16,
                },
            ],
        }
    }

    #[test]
    fn instances_report_the_published_loopback_port_and_readiness() {
        let r = record("sava", 2);
        let containers = [
            container(&r, 1, State::Running, Some(HealthState::Starting)),
            container(&r, 0, State::Running, None),
        ];
        let services = services(vec![r.clone()], &containers, "10.0.0.1");
        let s = &services[0];
        assert_eq!(s.instances.len(), 2);
        let first = &s.instances[0];
        assert_eq!(
            (first.host.as_str(), first.ports["web"], first.deployed),
            ("127.0.0.1", 30000, true)
        );
        assert!(
            !s.instances[1].deployed,
            "a container starting its health check is not deployed yet"
        );
        assert_eq!(
            s.health,
            Health {
                staged: 0,
                running: 2,
                healthy: 1,
                unhealthy: 0
            }
        );
    }

    #[test]
    fn a_record_without_containers_is_listed_and_the_volume_record_wins() {
        let stale = record("sava", 3);
        let current = record("sava", 1);
        let containers = [container(&stale, 0, State::Created, None)];
        let listed = services(vec![current], &containers, "127.0.0.1");
        assert_eq!(listed[0].scale.instances, 1);
        assert_eq!(listed[0].health.staged, 1);
        let only_record = services(vec![record("other", 0)], &[], "127.0.0.1");
        assert_eq!(only_record.len(), 1);
        assert!(only_record[0].instances.is_empty());
    }

    #[test]
    fn without_a_record_the_newest_container_describes_the_service() {
        let old = record("sava", 1);
        let new = record("sava", 2);
        let containers = [
            container(&old, 0, State::Exited, None),
            container(&new, 1, State::Running, None),
        ];
        let listed = services(Vec::new(), &containers, "127.0.0.1");
        assert_eq!(listed[0].scale.instances, 2);
        assert_eq!(listed[0].health.unhealthy, 1);
    }

    #[test]
    fn the_status_text_carries_docker_20_health() {
        assert_eq!(
            health_from_status("Up 2 seconds (health: starting)"),
            Some(HealthState::Starting)
        );
        assert_eq!(
            health_from_status("Up 1 minute (unhealthy)"),
            Some(HealthState::Unhealthy)
        );
        assert_eq!(
            health_from_status("Up 1 minute (healthy)"),
            Some(HealthState::Healthy)
        );
        assert_eq!(health_from_status("Up 1 minute"), None);
    }
}
