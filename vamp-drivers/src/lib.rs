//! Container drivers for Vamp.
//!
//! This crate will hold the `ContainerDriver` backends of `vamp_core::driver`: Docker (bollard), Kubernetes (kube),
//! local processes (`process://`, the embedded default) and the C-ABI plugin host with its SDK macro (libloading).
//! Until those land, use `vamp_core::memory::MemoryDriver`, the in-process reference implementation.

pub use vamp_core::driver::ContainerDriver;
