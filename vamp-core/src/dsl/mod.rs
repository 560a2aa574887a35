//! The DSL: reading artifacts from YAML and JSON with all of the original's shorthands, writing them back in one
//! canonical form, and validating them against the error catalogue.

pub mod error;
pub mod node;

pub(crate) mod cursor;

pub use error::{ArtifactId, DslError, ErrorCode};
pub use node::{parse_documents, Node, ParseError, Value};
