//! Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated), the subset of the
//! documented selector grammar the driver sends. Set-based selectors (`a in (x,y)`) are refused with 400.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

/// The requirements of `text`, or the reason it is not a selector the double understands.
pub fn parse(text: &str) -> Result<Vec<Requirement>, String> {
    if text.contains('(') {
        return Err(format!(
            "set-based label selectors are not implemented by the double: {text}"
        ));
    }
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            if let Some((key, value)) = part.split_once("!=") {
                Ok(Requirement::NotEquals(key.trim().into(), value.trim().into()))
            } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Ok(Requirement::Equals(key.trim().into(), value.trim().into()))
            } else if let Some(key) = part.strip_prefix('!') {
                Ok(Requirement::NotExists(key.trim().into()))
            } else if part.contains(char::is_whitespace) {
                Err(format!("unable to parse requirement: {part}"))
            } else {
                Ok(Requirement::Exists(part.into()))
            }
        })
        .collect()
}

/// Whether `labels` (an object's `metadata.labels`, possibly absent) satisfy every requirement.
pub fn matches(requirements: &[Requirement], labels: Option<&Map<String, Value>>) -> bool {
    let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
    })
}
