//! Every attack of docs/security.md as a test that must fail as an attack, run against the real entry points
//! (a running `vamp serve`, the REST API, HAProxy, the key-value stores).

#[path = "../support/mod.rs"]
mod support;

mod serve;

mod api_open;

mod templates;

mod served;

mod acls;

mod processes;

mod dataplane;

mod kv;

mod bounds;

mod workflows;

mod logs;

mod secrets;
