//! The Kubernetes driver (`kubernetes://`): each Vamp service runs as an `apps/v1` Deployment in the Kubernetes
//! namespace of its Vamp namespace, and each gateway can get a Service in front of the gateway-agent pods, as the
//! original Vamp's Kubernetes driver did.
//!
//! - [`config`]: the URL forms and settings;
//! - [`naming`]: object names and label values from Vamp names;
//! - [`manifest`]: the Deployment built from a service spec; [`merge`]: how the `kubernetes` dialect joins it;
//! - [`observed`]: running services read back from Deployments and pods;
//! - [`gateway_service`]: the Service of a gateway;
//! - [`errors`]: API failures as Vamp errors; [`quantity`]: CPU and memory quantities.
//!
//! Tested against a wire-level double of the Kubernetes REST API (`vamp-drivers/tests/support/kube_double`), not
//! against a real API server: none can be installed where this was built. docs/drivers-kubernetes.md says what
//! the double covers.

pub mod config;
mod driver;
pub mod errors;
pub mod gateway_service;
pub mod manifest;
pub mod merge;
pub mod naming;
pub mod observed;
pub mod quantity;

pub use config::{KubernetesConfig, Propagation, ServiceType};
pub use driver::{KubernetesDriver, FIELD_MANAGER};
pub use gateway_service::DeployedGatewayService;
