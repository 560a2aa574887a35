//! What a deployment allocates — the original's stock `allocation` job: instances, CPU × instances and memory
//! (MB) × instances summed over its services, rounded to 2 decimals.

use serde::Serialize;
use vamp_core::model::{Deployment, Scale};

/// The resources a deployment asks for, as the original's `allocation` events carry them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Allocation {
    /// CPU shares: Σ cpu × instances.
    pub cpu: f64,
    /// Memory in MB: Σ memory × instances.
    pub memory: f64,
    /// Σ instances.
    pub instances: u64,
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The allocation of `deployment`'s services (each service's scale, `default` for one without). Services
/// whose undeployment is done are left out.
pub fn allocation(deployment: &Deployment, default: &Scale) -> Allocation {
    let mut cpu = 0.0;
    let mut memory = 0.0;
    let mut instances = 0u64;
    let services = deployment
        .clusters
        .iter()
        .flat_map(|c| &c.services)
        .filter(|s| !(s.status.is_undeploying() && s.status.is_done()));
    for service in services {
        let scale = service.scale.as_ref().unwrap_or(default);
        let n = f64::from(scale.instances);
        cpu += scale.cpu.0 * n;
        memory += scale.memory.0 * n;
        instances += u64::from(scale.instances);
    }
    Allocation {
        cpu: two_decimals(cpu),
        memory: two_decimals(memory),
        instances,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::dsl;
    use vamp_core::model::{Artifact, Kind};

    const AT: &str = "2024-01-01T00:00:00Z";

    fn service(breed: &str, scale: &str, intention: &str) -> String {
        format!(
            "      - breed: {{name: {breed}, deployable: x}}\n{scale}        status: {{intention: {intention}, since: '{AT}', phase: {{name: Done, since: '{AT}'}}}}\n"
        )
    }

    fn deployment(clusters: &[(&str, Vec<String>)]) -> Deployment {
        let mut text = "name: shop\nclusters:\n".to_string();
        for (name, services) in clusters {
            text.push_str(&format!("  {name}:\n    services:\n"));
            for s in services {
                text.push_str(s);
            }
        }
        match dsl::read(Kind::Deployment, &text) {
            Ok(Artifact::Deployment(d)) => d,
            other => panic!("{other:?}\n{text}"),
        }
    }

    #[test]
    fn cpu_and_memory_are_multiplied_by_instances_and_summed() {
        let d = deployment(&[
            (
                "frontend",
                vec![
                    service(
                        "a",
                        "        scale: {cpu: 0.1, memory: 128MB, instances: 3}\n",
                        "Deployment",
                    ),
                    service(
                        "b",
                        "        scale: {cpu: 0.25, memory: 1GB, instances: 2}\n",
                        "Deployment",
                    ),
                ],
            ),
            ("backend", vec![service("c", "", "Deployment")]),
        ]);
        let a = allocation(&d, &Scale::new(1.0, 64.0, 1));
        assert_eq!(a.instances, 6);
        assert_eq!(a.cpu, 1.8);
        assert_eq!(a.memory, 3.0 * 128.0 + 2048.0 + 64.0);
    }

    #[test]
    fn figures_are_rounded_to_two_decimals() {
        let d = deployment(&[(
            "frontend",
            vec![service(
                "a",
                "        scale: {cpu: 0.333, memory: 10.004MB, instances: 3}\n",
                "Deployment",
            )],
        )]);
        let a = allocation(&d, &Scale::default());
        assert_eq!(a.cpu, 1.0);
        assert_eq!(a.memory, 30.01);
    }

    #[test]
    fn services_whose_undeployment_is_done_allocate_nothing() {
        let d = deployment(&[(
            "frontend",
            vec![
                service(
                    "a",
                    "        scale: {cpu: 1, memory: 100MB, instances: 1}\n",
                    "Undeployment",
                ),
                service(
                    "b",
                    "        scale: {cpu: 2, memory: 200MB, instances: 2}\n",
                    "Deployment",
                ),
            ],
        )]);
        let a = allocation(&d, &Scale::default());
        assert_eq!((a.cpu, a.memory, a.instances), (4.0, 400.0, 2));
    }
}
