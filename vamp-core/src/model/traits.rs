//! Traits of a breed: ports, environment variables and constants, each a named scalar value with an optional alias.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// The protocol of a port: HTTP (the default) or TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP: conditions, sticky sessions and rewrites apply.
    #[default]
    Http,
    /// Plain TCP.
    Tcp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
        })
    }
}

/// A breed port: `name: "8080/http"`. The value may reference a dependency (`$db.ports.web`) instead of a number.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// The port's name, which gateways and references use.
    pub name: String,
    /// The literal value as written, without the protocol suffix.
    pub value: String,
    /// The protocol from the `/http` or `/tcp` suffix.
    pub protocol: Protocol,
}

impl Port {
    /// The port number, when the value is a literal number.
    pub fn number(&self) -> Option<u16> {
        self.value.trim().parse().ok()
    }

    /// Parses `"8080"`, `"8080/http"` or `"8080/tcp"`; `None` for an unknown suffix.
    pub fn parse(name: &str, raw: &str) -> Option<Port> {
        let (value, protocol) = match raw.rsplit_once('/') {
            Some((v, p)) => (v.trim(), parse_protocol(p)?),
            None => (raw.trim(), Protocol::Http),
        };
        Some(Port {
            name: name.to_string(),
            value: value.to_string(),
            protocol,
        })
    }

    /// The canonical `"<value>/<protocol>"` form.
    pub fn to_value(&self) -> String {
        format!("{}/{}", self.value, self.protocol)
    }
}

/// Parses a protocol suffix, case-insensitively.
pub fn parse_protocol(p: &str) -> Option<Protocol> {
    match p.trim().to_ascii_lowercase().as_str() {
        "http" => Some(Protocol::Http),
        "tcp" => Some(Protocol::Tcp),
        _ => None,
    }
}

/// An environment variable: `NAME[ALIAS]: value`. The container receives `ALIAS` when one is given.
/// A `None` value (`~` in YAML) is a placeholder a higher scope must fill at deploy time.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentVariable {
    /// The variable's name in the DSL.
    pub name: String,
    /// The name the container sees instead, if any.
    pub alias: Option<String>,
    /// The value as written, possibly with `$` references.
    pub value: Option<String>,
    /// The value after references were resolved (set by deployment resolution).
    pub interpolated: Option<String>,
}

impl EnvironmentVariable {
    /// A variable with a value and no alias.
    pub fn new(name: impl Into<String>, value: Option<String>) -> Self {
        EnvironmentVariable {
            name: name.into(),
            alias: None,
            value,
            interpolated: None,
        }
    }

    /// The name the container receives.
    pub fn container_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// The key as written in the DSL: `NAME` or `NAME[ALIAS]`.
    pub fn key(&self) -> String {
        trait_key(&self.name, self.alias.as_deref())
    }
}

/// A constant: referable by other breeds (`$cluster.constants.NAME`) but not given to the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    /// The constant's name.
    pub name: String,
    /// An alias, if any.
    pub alias: Option<String>,
    /// Its value.
    pub value: String,
}

/// Splits `NAME[ALIAS]` into the name and the alias.
pub fn split_alias(key: &str) -> (String, Option<String>) {
    if let Some(open) = key.find('[') {
        if let Some(inner) = key[open + 1..].strip_suffix(']') {
            if !inner.is_empty() && !inner.contains(['[', ']']) {
                return (key[..open].to_string(), Some(inner.to_string()));
            }
        }
    }
    (key.to_string(), None)
}

fn trait_key(name: &str, alias: Option<&str>) -> String {
    match alias {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_string(),
    }
}

/// Writes ports as the map `name: "value/protocol"`.
pub fn ports_as_map<S: Serializer>(ports: &[Port], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(ports.len()))?;
    for p in ports {
        m.serialize_entry(&p.name, &p.to_value())?;
    }
    m.end()
}

/// Writes environment variables as the map `NAME[ALIAS]: value`.
pub fn env_as_map<S: Serializer>(vars: &[EnvironmentVariable], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(vars.len()))?;
    for v in vars {
        m.serialize_entry(&v.key(), &v.value)?;
    }
    m.end()
}

/// Writes constants as the map `NAME[ALIAS]: value`.
pub fn constants_as_map<S: Serializer>(cs: &[Constant], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(cs.len()))?;
    for c in cs {
        m.serialize_entry(&trait_key(&c.name, c.alias.as_deref()), &c.value)?;
    }
    m.end()
}

/// A container argument `key: value` (e.g. `privileged: true`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Argument {
    /// The argument's key.
    pub key: String,
    /// Its value, as text.
    pub value: String,
}

/// Writes arguments as the list of single-key maps the DSL reads.
pub fn arguments_as_list<S: Serializer>(args: &[Argument], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(args.len()))?;
    for a in args {
        let mut one = serde_json::Map::new();
        one.insert(a.key.clone(), serde_json::Value::String(a.value.clone()));
        seq.serialize_element(&one)?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_suffix_sets_protocol() {
        let p = Port::parse("web", "8080/tcp").unwrap();
        assert_eq!((p.number(), p.protocol), (Some(8080), Protocol::Tcp));
        assert_eq!(Port::parse("web", "8080").unwrap().protocol, Protocol::Http);
        assert!(Port::parse("web", "8080/udp").is_none());
    }

    #[test]
    fn alias_is_split_from_name() {
        assert_eq!(
            split_alias("JAVA_OPTS[JVM]"),
            ("JAVA_OPTS".into(), Some("JVM".into()))
        );
        assert_eq!(split_alias("PLAIN"), ("PLAIN".into(), None));
    }
}
