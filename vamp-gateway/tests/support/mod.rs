//! Shared support for vamp-gateway's integration tests: a real HAProxy under test ([`haproxy`]), small loopback
//! backends that answer with their own name ([`backend`]), a hand-written HTTP/1.1 client ([`client`]), an
//! admin-socket helper ([`admin`]) and golden files ([`golden`]).
//!
//! Each test file includes it with `mod support;` and uses only part of it.
#![allow(dead_code)]

pub mod admin;
pub mod backend;
pub mod client;
pub mod golden;
pub mod haproxy;
