//! Container drivers for Vamp: backends of [`vamp_core::driver::ContainerDriver`] chosen by URL — local processes
//! (`process://`, the embedded default), Docker (`docker://`), Kubernetes (`kubernetes://`) — and the host and SDK
//! for third-party drivers loaded at run time as plugins (`plugin:///path/libdriver.so`).
//!
//! Each backend sits behind a cargo feature of the same name (all on by default); with
//! `default-features = false` the crate pulls no backend crates, which is what a plugin author depends on.
#![cfg_attr(not(feature = "plugin"), forbid(unsafe_code))]

pub use vamp_core::driver::{ContainerDriver, RunningService, ServiceId, ServiceSpec};

pub mod url;

#[cfg(feature = "docker")]
pub mod docker;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "plugin")]
pub mod plugin;
#[cfg(feature = "process")]
pub mod process;
