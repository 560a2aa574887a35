//! Scale: CPU, memory and the number of instances of a service.

use std::fmt;

use serde::Serialize;

use super::units::{Cpu, Memory};
use super::{is_empty_map, Metadata};

/// A scale. `cpu` and `memory` are required in the DSL; `instances` defaults to 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// The name when stored as an artifact; empty inline.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// CPU share per instance.
    pub cpu: Cpu,
    /// Memory per instance.
    pub memory: Memory,
    /// Number of instances.
    pub instances: u32,
}

impl Scale {
    /// An anonymous scale.
    pub fn new(cpu: f64, memory_mb: f64, instances: u32) -> Self {
        Scale {
            name: String::new(),
            metadata: Metadata::new(),
            cpu: Cpu(cpu),
            memory: Memory(memory_mb),
            instances,
        }
    }

    /// Whether two scales ask for the same resources, ignoring name and metadata.
    pub fn same_resources(&self, other: &Scale) -> bool {
        (self.cpu.0 - other.cpu.0).abs() < 1e-9
            && (self.memory.0 - other.memory.0).abs() < 1e-9
            && self.instances == other.instances
    }
}

impl Default for Scale {
    /// The original's default deployment scale: 1 instance, 1 CPU, 1 GB.
    fn default() -> Self {
        Scale::new(1.0, 1024.0, 1)
    }
}

impl fmt::Display for Scale {
    /// `instances x cpu C, mem MMB`, e.g. `1 x cpu 1.0, mem 1024MB`; name and metadata are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} x cpu {}, mem {}", self.instances, self.cpu, self.memory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_gives_instances_cpu_and_memory() {
        assert_eq!(Scale::new(0.5, 512.0, 3).to_string(), "3 x cpu 0.5, mem 512MB");
        assert_eq!(Scale::default().to_string(), "1 x cpu 1.0, mem 1024MB");
    }
}
