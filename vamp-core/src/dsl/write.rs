//! Writes artifacts in one canonical form: JSON or YAML with `kind`, every shorthand expanded, references as
//! `{reference: name}`, units in their canonical spelling. Reading the output gives back the same artifact.

use serde::Serialize;
use yaml_rust2::yaml::{Hash, Yaml};
use yaml_rust2::YamlEmitter;

use crate::model::Artifact;
use crate::{Error, Result};

fn body<T: Serialize>(kind: &str, value: &T) -> Result<serde_json::Value> {
    let mut v =
        serde_json::to_value(value).map_err(|e| Error::backend(format!("cannot write {kind}: {e}")))?;
    if let Some(obj) = v.as_object_mut() {
        let mut out = serde_json::Map::new();
        if let Some(name) = obj.shift_remove("name") {
            out.insert("name".into(), name);
        }
        out.insert("kind".into(), serde_json::Value::String(kind.to_string()));
        out.extend(std::mem::take(obj));
        return Ok(serde_json::Value::Object(out));
    }
    Ok(v)
}

/// The canonical JSON of an artifact, with `kind`.
pub fn to_json(artifact: &Artifact) -> Result<serde_json::Value> {
    let kind = artifact.kind().singular();
    match artifact {
        Artifact::Breed(a) => body(kind, a),
        Artifact::Blueprint(a) => body(kind, a),
        Artifact::Deployment(a) => body(kind, a),
        Artifact::Gateway(a) => body(kind, a),
        Artifact::Route(a) => body(kind, a),
        Artifact::Condition(a) => body(kind, a),
        Artifact::Rewrite(a) => body(kind, a),
        Artifact::Scale(a) => body(kind, a),
        Artifact::Sla(a) => body(kind, a),
        Artifact::Escalation(a) => body(kind, a),
        Artifact::Workflow(a) => body(kind, a),
        Artifact::Event(a) => {
            serde_json::to_value(a).map_err(|e| Error::backend(format!("cannot write event: {e}")))
        }
        Artifact::Template(a) => body(kind, a),
    }
}

/// The canonical JSON text of an artifact.
pub fn to_json_string(artifact: &Artifact) -> Result<String> {
    serde_json::to_string_pretty(&to_json(artifact)?)
        .map_err(|e| Error::backend(format!("cannot write JSON: {e}")))
}

/// Converts JSON to a YAML value, keeping map order.
pub fn json_to_yaml(v: &serde_json::Value) -> Yaml {
    match v {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        serde_json::Value::String(s) => Yaml::String(s.clone()),
        serde_json::Value::Array(items) => Yaml::Array(items.iter().map(json_to_yaml).collect()),
        serde_json::Value::Object(m) => {
            let mut h = Hash::new();
            for (k, v) in m {
                h.insert(Yaml::String(k.clone()), json_to_yaml(v));
            }
            Yaml::Hash(h)
        }
    }
}

/// YAML text of a JSON value.
pub fn json_to_yaml_string(v: &serde_json::Value) -> Result<String> {
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(&json_to_yaml(v))
        .map_err(|e| Error::backend(format!("cannot write YAML: {e}")))?;
    out.push('\n');
    Ok(out)
}

/// The canonical YAML text of an artifact.
pub fn to_yaml(artifact: &Artifact) -> Result<String> {
    json_to_yaml_string(&to_json(artifact)?)
}
