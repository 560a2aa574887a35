//! Test support shared by the integration tests and the bench of vamp-persistence. Each test binary uses a part
//! of it, so unused items are expected here.
#![allow(dead_code)]

pub mod es_double;
pub mod held;
