//! Key-value stores for Vamp: etcd (v3), ZooKeeper, Consul and Redis backends of
//! [`vamp_core::kv::KeyValueStore`], chosen by URL ([`url::connect`]), and [`large::LargeValues`], which makes any
//! of them carry values larger than the backend accepts in one write (compression, then chunking with an atomic
//! switch). [`access`] holds credentials and TLS. [`signed`] signs and verifies values with a shared key (HMAC-SHA256). [`reconnect`] holds what the backends' watches share to survive a lost connection.
//!
//! Each backend sits behind a cargo feature of the same name (all on by default).

pub use vamp_core::kv::{Key, KeyValueStore, Versioned};

pub mod access;
pub mod large;
pub mod reconnect;
pub mod signed;
pub mod url;

#[cfg(feature = "consul")]
pub mod consul;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "zookeeper")]
pub mod zookeeper;
