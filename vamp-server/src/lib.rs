//! The Vamp reference server, as a library: a platform embeds Vamp through [`vamp::Vamp`]'s builder with its own
//! backends, and the `vamp` binary is a thin main over the same builder.

pub mod agent;
pub mod api;
pub mod cli;
pub mod config;
pub mod event_settings;
pub mod ha;
mod kv_signing;
pub mod loops;
pub mod ops;
pub mod pulse;
pub mod settings;
pub mod sla_settings;
pub mod tokens;
pub mod vamp;
pub mod workflows;

pub use ops::{ReadOptions, Verb, WriteOptions};
pub use settings::ServerSettings;
pub use vamp::{Vamp, VampBuilder};
