//! The DSL: reading artifacts from YAML and JSON with all of the original's shorthands, writing them back in one
//! canonical form, and validating them against the error catalogue.

pub mod error;
pub mod import;
mod lenient;
pub mod limits;
pub mod node;
pub mod read;
pub mod reading;
pub mod validate;
pub mod write;

pub(crate) mod cursor;

pub use error::{ArtifactId, DslError, ErrorCode};
pub use node::{parse_documents, Node, ParseError, Value};
pub use reading::{
    field_integer, field_text, read, read_all, read_blueprint, read_breed, read_compose, read_compose_ports,
    read_deployment, read_deployment_request, read_escalation, read_event, read_event_query, read_gateway,
    read_node, read_scale, read_sla, read_template, read_workflow, single_document,
};
pub use write::{to_json, to_json_string, to_yaml};
