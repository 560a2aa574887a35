//! Breed: the definition of one service — what to run, its ports, environment, constants, arguments, dependencies
//! and health checks.

use indexmap::IndexMap;
use serde::Serialize;

use super::health_check::HealthCheck;
use super::traits::{
    arguments_as_list, constants_as_map, env_as_map, ports_as_map, Argument, Constant, EnvironmentVariable,
    Port,
};
use super::{is_empty_map, Metadata, Ref};

/// The default deployable type when a breed gives only a definition.
pub const DEFAULT_DEPLOYABLE_TYPE: &str = "container/docker";

/// What a driver runs: a `type` (`container/docker`, `process`, `application/javascript`, …) and its definition
/// (an image, a command line, a script).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployable {
    /// The deployable type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The image, command line or script.
    pub definition: String,
}

impl Deployable {
    /// A deployable with the default type.
    pub fn docker(image: impl Into<String>) -> Self {
        Deployable {
            kind: DEFAULT_DEPLOYABLE_TYPE.to_string(),
            definition: image.into(),
        }
    }

    /// The type with the original's short aliases expanded (`docker` → `container/docker`, `cmd` → `command`).
    pub fn normalized_kind(&self) -> &str {
        match self.kind.as_str() {
            "docker" => "container/docker",
            "rkt" => "container/rkt",
            "cmd" => "command",
            "js" | "javascript" => "application/javascript",
            other => other,
        }
    }
}

/// A breed written out in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breed {
    /// The breed's name, e.g. `sava:1.0.0`.
    pub name: String,
    /// Free-form metadata.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub metadata: Metadata,
    /// What runs.
    pub deployable: Deployable,
    /// Container ports.
    #[serde(serialize_with = "ports_as_map", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Environment variables.
    #[serde(serialize_with = "env_as_map", skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Constants.
    #[serde(serialize_with = "constants_as_map", skip_serializing_if = "Vec::is_empty")]
    pub constants: Vec<Constant>,
    /// Container arguments.
    #[serde(serialize_with = "arguments_as_list", skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<Argument>,
    /// Dependencies by alias.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub dependencies: IndexMap<String, Ref<Breed>>,
    /// Health checks; `None` when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<HealthCheck>>,
}

impl Breed {
    /// A breed that runs `deployable` with nothing else declared.
    pub fn new(name: impl Into<String>, deployable: Deployable) -> Self {
        Breed {
            name: name.into(),
            metadata: Metadata::new(),
            deployable,
            ports: Vec::new(),
            environment_variables: Vec::new(),
            constants: Vec::new(),
            arguments: Vec::new(),
            dependencies: IndexMap::new(),
            health_checks: None,
        }
    }

    /// The port called `name`.
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// The environment variable called `name`.
    pub fn environment_variable(&self, name: &str) -> Option<&EnvironmentVariable> {
        self.environment_variables.iter().find(|v| v.name == name)
    }
}
