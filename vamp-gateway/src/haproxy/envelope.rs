//! The value written to the key-value store: a complete HAProxy configuration followed by a trailer of comment
//! lines that HAProxy ignores and the gateway agent reads — the map files the configuration loads and the names
//! behind the generated identifiers.
//!
//! ```text
//! # vamp-gateway-agent data: map files and names (HAProxy ignores comment lines)
//! #@vamp 1
//! #@map <file name>
//! #@= <map line>
//! #@gateway <frontend> <gateway name>
//! #@route <backend> <gateway name> <route path>
//! ```
//!
//! A text without a trailer is a plain HAProxy configuration: it parses with no maps and no names.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use vamp_core::{Error, Result};

const HEADER: &str = "# vamp-gateway-agent data: map files and names (HAProxy ignores comment lines)";
const MARKER: &str = "#@vamp 1";

/// A gateway configuration as published: the HAProxy text plus what the agent needs besides it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The HAProxy configuration, ending with a newline.
    pub config: String,
    /// Map files by file name (`[A-Za-z0-9_.-]+`), each the full content of the file.
    pub maps: BTreeMap<String, String>,
    /// Gateway names by the frontend that serves them.
    pub gateways: BTreeMap<String, String>,
    /// `(gateway name, route path)` by the backend that serves the route.
    pub routes: BTreeMap<String, (String, String)>,
}

/// Whether `name` may be a map file name: non-empty, `[A-Za-z0-9_.-]` only, not `.` or `..`.
pub fn is_map_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn single_line(what: &str, text: &str) -> Result<()> {
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "The gateway configuration cannot carry {what} '{}': it contains a control character.",
            text.escape_debug()
        )));
    }
    Ok(())
}

fn token(what: &str, text: &str) -> Result<()> {
    single_line(what, text)?;
    if text.is_empty() || text.contains(' ') {
        return Err(Error::invalid(format!(
            "The gateway configuration cannot carry {what} '{text}': it must be non-empty and without spaces."
        )));
    }
    Ok(())
}

impl Envelope {
    /// The text to publish: the configuration, then the trailer. Fails with `Invalid` when a map file name is
    /// not [`is_map_file_name`], a map line, frontend, backend or gateway name contains a control character,
    /// or an identifier (frontend, backend, gateway name) is empty or contains a space.
    pub fn to_text(&self) -> Result<String> {
        let mut out = self.config.clone();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if self.maps.is_empty() && self.gateways.is_empty() && self.routes.is_empty() {
            return Ok(out);
        }
        out.push_str(HEADER);
        out.push('\n');
        out.push_str(MARKER);
        out.push('\n');
        for (name, content) in &self.maps {
            if !is_map_file_name(name) {
                return Err(Error::invalid(format!(
                    "The map file name '{}' is not allowed: use letters, digits, '_', '.' and '-'.",
                    name.escape_debug()
                )));
            }
            let _ = writeln!(out, "#@map {name}");
            for line in content.lines() {
                single_line("the map line", line)?;
                let _ = writeln!(out, "#@= {line}");
            }
        }
        for (frontend, gateway) in &self.gateways {
            token("the frontend", frontend)?;
            token("the gateway name", gateway)?;
            let _ = writeln!(out, "#@gateway {frontend} {gateway}");
        }
        for (backend, (gateway, route)) in &self.routes {
            token("the backend", backend)?;
            token("the gateway name", gateway)?;
            single_line("the route path", route)?;
            let _ = writeln!(out, "#@route {backend} {gateway} {route}");
        }
        Ok(out)
    }

    /// Splits a published text back into configuration and trailer; `parse(&e.to_text()?)` equals `e` (map
    /// contents come back with a newline after every line). Fails with `Invalid` on a malformed trailer line.
    pub fn parse(text: &str) -> Result<Envelope> {
        let Some(start) = trailer_start(text) else {
            return Ok(Envelope {
                config: text.to_string(),
                ..Envelope::default()
            });
        };
        let mut envelope = Envelope {
            config: text[..start].to_string(),
            ..Envelope::default()
        };
        let mut current_map: Option<String> = None;
        for (number, line) in text[start..].lines().enumerate().skip(2) {
            let bad = || {
                Error::invalid(format!(
                    "Line {} of the gateway configuration's agent data is malformed: '{}'.",
                    number + 1,
                    line.escape_debug()
                ))
            };
            if let Some(name) = line.strip_prefix("#@map ") {
                if !is_map_file_name(name) {
                    return Err(bad());
                }
                envelope.maps.insert(name.to_string(), String::new());
                current_map = Some(name.to_string());
            } else if let Some(entry) = line.strip_prefix("#@= ") {
                let content = current_map
                    .as_ref()
                    .and_then(|m| envelope.maps.get_mut(m))
                    .ok_or_else(bad)?;
                content.push_str(entry);
                content.push('\n');
            } else if let Some(rest) = line.strip_prefix("#@gateway ") {
                let (frontend, gateway) = rest.split_once(' ').ok_or_else(bad)?;
                envelope
                    .gateways
                    .insert(frontend.to_string(), gateway.to_string());
                current_map = None;
            } else if let Some(rest) = line.strip_prefix("#@route ") {
                let mut parts = rest.splitn(3, ' ');
                let (Some(backend), Some(gateway), Some(route)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                envelope
                    .routes
                    .insert(backend.to_string(), (gateway.to_string(), route.to_string()));
                current_map = None;
            } else if !line.is_empty() {
                return Err(bad());
            }
        }
        Ok(envelope)
    }
}

fn trailer_start(text: &str) -> Option<usize> {
    let needle = format!("{HEADER}\n{MARKER}\n");
    if text.starts_with(&needle) {
        return Some(0);
    }
    text.find(&format!("\n{needle}")).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        let mut e = Envelope {
            config: "global\n  maxconn 10\n".into(),
            ..Envelope::default()
        };
        e.maps
            .insert("abc.weights".into(), "0:89 g_abc_r0\n90:99 g_abc_r1\n".into());
        e.gateways.insert("g_abc".into(), "shop/web".into());
        e.routes
            .insert("g_abc_r0".into(), ("shop/web".into(), "shop/v1/web".into()));
        e
    }

    #[test]
    fn round_trips_config_maps_and_names() {
        let e = sample();
        let text = e.to_text().unwrap();
        assert!(text.starts_with("global\n  maxconn 10\n# vamp-gateway-agent data"));
        assert_eq!(Envelope::parse(&text).unwrap(), e);
    }

    #[test]
    fn a_plain_config_has_no_trailer() {
        let e = Envelope::parse("global\n").unwrap();
        assert_eq!(e.config, "global\n");
        assert!(e.maps.is_empty() && e.routes.is_empty());
    }

    #[test]
    fn refuses_map_names_that_leave_the_maps_directory() {
        let mut e = sample();
        e.maps.insert("../etc/passwd".into(), String::new());
        assert!(e.to_text().is_err());
    }

    #[test]
    fn refuses_newlines_in_names() {
        let mut e = sample();
        e.routes
            .insert("g_x".into(), ("gw".into(), "a\nfrontend evil".into()));
        assert!(e.to_text().is_err());
    }

    #[test]
    fn refuses_unknown_trailer_lines() {
        let text = format!("{}#@bogus\n", sample().to_text().unwrap());
        assert!(Envelope::parse(&text).is_err());
    }
}
