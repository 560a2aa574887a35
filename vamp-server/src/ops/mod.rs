//! The facade's operations, one file per concern, each an `impl Vamp` block: artifacts of the static kinds,
//! deployments (create-or-merge, slice, scale, SLA), the multi-document root, events, the gateway
//! configuration and template, information and health, and waiting for convergence.

pub mod options;

pub(crate) mod archive;
pub(crate) mod cache;
pub(crate) mod canary;
pub(crate) mod canary_progress;
pub(crate) mod codec;
pub(crate) mod source;

mod agent_health;
mod artifacts;
mod deployments;
mod documents;
mod events;
mod gateway_output;
mod gateways;
mod info;
mod raw_acls;
mod subresources;
pub mod wait;
mod workflows;

pub use canary::{CanarySettings, CANARY_EVENT_TYPE};
pub use documents::{read_documents, ReadDocument, Verb};
pub use info::{ComponentInfo, Health, Info};
pub use options::{ReadOptions, WriteOptions};
pub use wait::{converged, failures};
