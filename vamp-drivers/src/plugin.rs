//! Container drivers loaded at run time from dynamic libraries (`plugin:///path/libmy_driver.so`): the C ABI
//! ([`abi`]), the JSON messages crossing it ([`wire`]), the host that loads a plugin and drives it
//! ([`host::PluginDriver`]), and the SDK that turns any [`ContainerDriver`](vamp_core::driver::ContainerDriver)
//! into a plugin ([`export_driver!`](crate::export_driver), [`sdk`]).
//!
//! Rust has no stable ABI, so the boundary is C with serialized messages; docs/plugins.md is the guide for plugin
//! authors. This is the only module of the workspace allowed `unsafe` code, each block with the reason it holds.
#![allow(unsafe_code)]

pub mod abi;
pub mod host;
pub mod sdk;
pub mod wire;

#[doc(inline)]
pub use crate::export_driver;
pub use host::PluginDriver;
