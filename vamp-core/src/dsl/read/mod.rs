//! Readers of every artifact kind, from [`crate::dsl::Node`] trees. Entry points are in [`crate::dsl`].

pub(crate) mod blueprint;
pub(crate) mod breed;
pub(crate) mod canary;
pub(crate) mod common;
pub(crate) mod compose;
pub(crate) mod deployment;
pub(crate) mod event;
pub(crate) mod gateway;
pub(crate) mod sla;
pub(crate) mod template;
pub(crate) mod workflow;

pub use compose::ComposePort;
pub use template::imports_of;
pub use workflow::iso_period_seconds;
