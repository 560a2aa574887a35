//! One HAProxy access-log line in the gateway contract's JSON log format (HTTP and TCP variants), parsed
//! leniently: HAProxy writes the request line with its own escaping (`%{+Q,+E}r` escapes `]` as `\]`, which is
//! not JSON), so invalid escapes and raw control characters are repaired before the JSON parser sees them.

use std::borrow::Cow;

use serde_json::{Map, Value};
use vamp_core::{Error, Result};

/// Whether the line came from an HTTP or a TCP frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The HTTP log format (it has `ST`, `r`, `tsc`).
    Http,
    /// The TCP log format.
    Tcp,
}

/// The fields of an access-log line that metrics and forwarding use. Timers of -1 ("not reached") are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLog {
    /// HTTP or TCP format.
    pub mode: Mode,
    /// The frontend (`ft`): `g_<G>` for a gateway.
    pub frontend: String,
    /// The backend (`b`): `g_<G>_r<k>` for a route; the frontend's name when no backend was chosen.
    pub backend: String,
    /// The server (`s`); `<NOSRV>` when none was chosen.
    pub server: String,
    /// The HTTP status (`ST`); `None` for TCP and for aborted requests (-1).
    pub status: Option<u16>,
    /// Total time in milliseconds (`Tt`: `%Ta` for HTTP, `%Tt` for TCP); `None` when -1.
    pub total_ms: Option<u64>,
    /// The time from the request's headers to the log line in microseconds (`Tu`, HTTP only); `None` when the
    /// line has none (a user template without the start rule, a request refused before it) or an implausible one
    /// (more than a millisecond beyond `Tt`).
    pub total_us: Option<u64>,
    /// Bytes sent to the client (`B`).
    pub bytes: Option<u64>,
    /// The termination state (`tsc` for HTTP, `ts` for TCP).
    pub termination: Option<String>,
    /// The request line (`r`) as HAProxy logged it, HTTP only.
    pub request: Option<String>,
    /// The accept date (`t`) as HAProxy wrote it.
    pub accepted: Option<String>,
}

fn needs_repair(text: &str) -> bool {
    let mut in_string = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => match chars.next() {
                Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u') => {}
                _ => return true,
            },
            c if in_string && c.is_control() => return true,
            _ => {}
        }
    }
    false
}

/// `text` with every escape JSON does not know (`\]`, `\x`) replaced by the escaped character itself, and raw
/// control characters inside strings escaped; borrowed when nothing needs repair.
fn repair(text: &str) -> Cow<'_, str> {
    if !needs_repair(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            '\\' if in_string => match chars.next() {
                Some(e @ ('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u')) => {
                    out.push('\\');
                    out.push(e);
                }
                Some(other) => push_string_char(&mut out, other),
                None => out.push_str("\\\\"),
            },
            c if in_string => push_string_char(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn push_string_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        c => out.push(c),
    }
}

/// The JSON object of an access-log message, leniently (see the module doc). Fails with `Invalid` when the
/// message is not a JSON object even after repair (a line truncated by HAProxy's `len`, a non-JSON message).
pub fn parse_fields(message: &str) -> Result<Map<String, Value>> {
    let repaired = repair(message.trim());
    match serde_json::from_str::<Value>(&repaired) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Error::invalid(
            "The access-log message is JSON but not an object.",
        )),
        Err(e) => Err(Error::invalid(format!(
            "The access-log message is not a JSON object: {e}."
        ))),
    }
}

fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A non-negative integer field; `None` when missing, negative (HAProxy's -1) or not a number.
fn count(fields: &Map<String, Value>, key: &str) -> Option<u64> {
    fields.get(key).and_then(Value::as_u64)
}

/// `Tu`: a string of microseconds, plausible against `Tt` (at most 2 ms beyond it: `Tt` is truncated and the
/// log line written after the last byte).
fn micros(fields: &Map<String, Value>, total_ms: Option<u64>) -> Option<u64> {
    let us: u64 = fields.get("Tu")?.as_str()?.parse().ok()?;
    let limit = total_ms.map_or(3_600_000_000, |ms| ms.saturating_add(2).saturating_mul(1000));
    (us <= limit).then_some(us)
}

impl AccessLog {
    /// The request's latency in milliseconds: `Tu` when the line has it, else `Tt`; `None` with neither.
    pub fn latency_ms(&self) -> Option<f64> {
        match (self.total_us, self.total_ms) {
            (Some(us), _) => Some(us as f64 / 1000.0),
            (None, Some(ms)) => Some(ms as f64),
            (None, None) => None,
        }
    }

    /// Parses the message of one log line. Fails with `Invalid` when it is not a JSON object or lacks the
    /// frontend (`ft`) or backend (`b`).
    pub fn parse(message: &str) -> Result<AccessLog> {
        Self::from_fields(&parse_fields(message)?)
    }

    /// The access log in already parsed fields (see [`parse_fields`]).
    pub fn from_fields(fields: &Map<String, Value>) -> Result<AccessLog> {
        let frontend = text(fields, "ft")
            .ok_or_else(|| Error::invalid("The access-log line has no frontend field 'ft'."))?;
        let backend = text(fields, "b")
            .ok_or_else(|| Error::invalid("The access-log line has no backend field 'b'."))?;
        let http = fields.contains_key("ST") || fields.contains_key("r") || fields.contains_key("tsc");
        let status = count(fields, "ST")
            .and_then(|s| u16::try_from(s).ok())
            .filter(|_| http);
        let total_ms = count(fields, "Tt");
        Ok(AccessLog {
            mode: if http { Mode::Http } else { Mode::Tcp },
            frontend,
            backend,
            server: text(fields, "s").unwrap_or_default(),
            status,
            total_ms,
            total_us: micros(fields, total_ms),
            bytes: count(fields, "B"),
            termination: text(fields, if http { "tsc" } else { "ts" }),
            request: text(fields, "r"),
            accepted: text(fields, "t"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxys_bracket_escape_is_repaired() {
        let line = r#"{"ft":"g_a","b":"g_a_r0","r":"GET /ok?q=a\\b\]c{}' HTTP/1.1"}"#;
        let log = AccessLog::parse(line).unwrap();
        assert_eq!(log.request.as_deref(), Some(r"GET /ok?q=a\b]c{}' HTTP/1.1"));
    }

    #[test]
    fn raw_control_characters_in_strings_are_repaired() {
        let log = AccessLog::parse("{\"ft\":\"g_a\",\"b\":\"x\",\"r\":\"GET /\t HTTP/1.1\"}").unwrap();
        assert_eq!(log.request.as_deref(), Some("GET /\t HTTP/1.1"));
    }

    #[test]
    fn valid_json_is_not_copied() {
        assert!(matches!(repair(r#"{"a":"b\"c\\d\u0001"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn minus_one_timers_and_status_are_none() {
        let log = AccessLog::parse(r#"{"ft":"f","b":"b","ST":-1,"Tt":-1,"B":0}"#).unwrap();
        assert_eq!((log.mode, log.status, log.total_ms), (Mode::Http, None, None));
    }

    #[test]
    fn microseconds_refine_the_milliseconds_when_plausible() {
        let log = AccessLog::parse(r#"{"ft":"f","b":"b","ST":200,"Tt":0,"Tu":"431"}"#).unwrap();
        assert_eq!((log.total_ms, log.total_us), (Some(0), Some(431)));
        assert_eq!(log.latency_ms(), Some(0.431));
        let log = AccessLog::parse(r#"{"ft":"f","b":"b","ST":200,"Tt":12,"Tu":"12999"}"#).unwrap();
        assert_eq!(log.latency_ms(), Some(12.999));
        for tu in [r#""-""#, r#""1699999999999999""#, r#""x""#, "17"] {
            let line = format!(r#"{{"ft":"f","b":"b","ST":200,"Tt":3,"Tu":{tu}}}"#);
            let log = AccessLog::parse(&line).unwrap();
            assert_eq!((log.total_us, log.latency_ms()), (None, Some(3.0)), "{tu}");
        }
        let log = AccessLog::parse(r#"{"ft":"f","b":"b","ST":-1,"Tt":-1}"#).unwrap();
        assert_eq!(log.latency_ms(), None);
    }

    #[test]
    fn truncated_or_foreign_messages_are_invalid() {
        assert!(AccessLog::parse(r#"{"ft":"g_a","b":"g_a_r0","r":"GET /very-lo"#).is_err());
        assert!(AccessLog::parse("Server g_a_r0/s1 is DOWN").is_err());
        assert!(AccessLog::parse(r#"{"b":"x"}"#).is_err());
        assert!(AccessLog::parse("[1,2]").is_err());
    }
}
