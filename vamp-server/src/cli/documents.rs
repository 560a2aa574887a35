//! Reading artifacts from `-f FILE` or standard input: YAML or JSON, several documents separated by `---` or
//! given as a list, each becoming one JSON value sent to the server.

use std::io::Read;

use clap::ArgMatches;
use serde_json::Value;
use vamp_core::model::Kind;

use super::exit::{CliError, CliResult};

/// The documents of `-f FILE` / `--stdin`, or `None` when neither was given.
pub fn read_input(args: &ArgMatches) -> CliResult<Option<Vec<Value>>> {
    let file = super::opt(args, "file");
    let stdin = super::flag(args, "stdin") || file.is_some_and(|f| f == "-");
    let (text, origin) = if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("Standard input cannot be read: {e}")))?;
        (text, "standard input".to_string())
    } else if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("The file {path} cannot be read: {e}")))?;
        (text, path.clone())
    } else {
        return Ok(None);
    };
    parse(&text, &origin).map(Some)
}

/// The documents of `text` (from `origin`, for messages). Fails with a usage error naming the line for bad YAML,
/// and when there is no document.
pub fn parse(text: &str, origin: &str) -> CliResult<Vec<Value>> {
    let docs = vamp_core::dsl::parse_documents(text).map_err(|e| {
        CliError::usage(format!(
            "{origin} is not valid YAML or JSON: {}",
            describe_parse_error(&e)
        ))
    })?;
    let mut out = Vec::new();
    for doc in docs {
        match doc.to_json() {
            Value::Array(items) => out.extend(items),
            Value::Null => {}
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return Err(CliError::usage(format!("{origin} holds no artifact")));
    }
    Ok(out)
}

/// The kind of `doc`: its `kind` field, else `default`; a usage error when neither says.
pub fn kind_of(doc: &Value, default: Option<Kind>) -> CliResult<Kind> {
    match doc.get("kind").and_then(Value::as_str) {
        Some(k) => parse_kind(k),
        None => default.ok_or_else(|| {
            CliError::usage(format!(
                "The document '{}' has no 'kind'; add 'kind: breed' (or blueprint, gateway, …) or give the kind as an argument",
                name_of(doc).unwrap_or("(unnamed)")
            ))
        }),
    }
}

/// The `name` of `doc`.
pub fn name_of(doc: &Value) -> Option<&str> {
    doc.get("name").and_then(Value::as_str)
}

/// A kind name (singular or plural), as a usage error when unknown.
pub fn parse_kind(text: &str) -> CliResult<Kind> {
    text.parse::<Kind>()
        .map_err(|e: vamp_core::Error| CliError::usage(e.message().to_string()))
}

/// `doc` without its `kind` field (the kind-specific endpoints take the bare artifact).
pub fn without_kind(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Value::Object(m) = &mut doc {
        m.remove("kind");
    }
    doc
}

/// A YAML parse error as `message at line L, column C`.
pub fn describe_parse_error(e: &vamp_core::dsl::ParseError) -> String {
    match e.position {
        Some((line, column)) => format!("{} at line {line}, column {column}", e.message),
        None => e.message.clone(),
    }
}
