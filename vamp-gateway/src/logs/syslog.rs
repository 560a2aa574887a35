//! Syslog framing of HAProxy's log datagrams: RFC 3164 (HAProxy's default), RFC 5424, and HAProxy's `short`
//! and `raw` formats — enough to find the message, which is what the pipeline needs.

/// One syslog datagram split into its parts. Fields the framing does not carry are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// The `<PRI>` value (facility × 8 + severity), when present and valid (0..=191).
    pub priority: Option<u8>,
    /// The program name (`haproxy` in `haproxy[123]:` or the RFC 5424 APP-NAME).
    pub app: Option<&'a str>,
    /// The message: for HAProxy access logs, the JSON object.
    pub message: &'a str,
}

fn split_priority(text: &str) -> (Option<u8>, &str) {
    let Some(rest) = text.strip_prefix('<') else {
        return (None, text);
    };
    let Some(end) = rest.find('>') else {
        return (None, text);
    };
    let digits = rest.get(..end).unwrap_or_default();
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (None, text);
    }
    match digits.parse::<u8>() {
        Ok(p) if p <= 191 => (Some(p), rest.get(end + 1..).unwrap_or_default()),
        _ => (None, text),
    }
}

/// Splits off the next space-separated token.
fn token(text: &str) -> Option<(&str, &str)> {
    let end = text.find(' ')?;
    Some((text.get(..end)?, text.get(end + 1..)?))
}

fn rfc5424(body: &str) -> Option<(Option<&str>, &str)> {
    let (version, rest) = token(body)?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (_timestamp, rest) = token(rest)?;
    let (_host, rest) = token(rest)?;
    let (app, rest) = token(rest)?;
    let (_procid, rest) = token(rest)?;
    let (_msgid, mut rest) = token(rest)?;
    if let Some(after) = rest.strip_prefix('-') {
        rest = after;
    } else {
        while rest.starts_with('[') {
            rest = skip_structured_element(rest)?;
        }
    }
    let message = rest.strip_prefix(' ').unwrap_or(rest);
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Some(((app != "-").then_some(app), message))
}

/// Skips one `[id name="value" …]` element, honouring `\]`, `\"` and `\\` inside values.
fn skip_structured_element(text: &str) -> Option<&str> {
    let mut in_value = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_value => escaped = true,
            '"' => in_value = !in_value,
            ']' if !in_value => return text.get(i + 1..),
            _ => {}
        }
    }
    None
}

fn rfc3164(body: &str) -> Option<(Option<&str>, &str)> {
    let month = body.get(..3)?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if !MONTHS.contains(&month) || body.as_bytes().get(15) != Some(&b' ') {
        return None;
    }
    let after_time = body.get(16..)?;
    let colon = after_time.find(": ")?;
    let header = after_time.get(..colon)?;
    let message = after_time.get(colon + 2..)?;
    let tag = header.rsplit(' ').next().unwrap_or(header);
    let app = tag.split('[').next().filter(|a| !a.is_empty());
    Some((app, message))
}

/// Finds the parts of a syslog datagram. Never fails: a text in no known framing is all message, so a line
/// sent with `format raw` (or anything else) still reaches the access-log parser and the forwarders. One
/// trailing newline (and carriage return) is removed from the message.
pub fn parse(text: &str) -> SyslogMessage<'_> {
    let (priority, body) = split_priority(text);
    let (app, message) = if body.starts_with('{') || priority.is_none() {
        (None, body)
    } else if let Some(found) = rfc5424(body) {
        found
    } else if let Some(found) = rfc3164(body) {
        found
    } else {
        (None, body)
    };
    let message = message.strip_suffix('\n').unwrap_or(message);
    let message = message.strip_suffix('\r').unwrap_or(message);
    SyslogMessage {
        priority,
        app,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_as_haproxy_sends_it() {
        let m = parse(r#"<134>Nov 22 03:12:00 haproxy[30527]: {"ft":"g_abc"}"#);
        assert_eq!(m.priority, Some(134));
        assert_eq!(m.app, Some("haproxy"));
        assert_eq!(m.message, r#"{"ft":"g_abc"}"#);
    }

    #[test]
    fn rfc3164_with_a_hostname_and_a_single_digit_day() {
        let m = parse("<134>Nov  2 03:12:00 edge-1 haproxy[7]: {\"a\":1}\n");
        assert_eq!(m.app, Some("haproxy"));
        assert_eq!(m.message, "{\"a\":1}");
    }

    #[test]
    fn rfc5424_with_and_without_structured_data() {
        let m = parse(r#"<134>1 2026-11-22T03:12:00.821+00:00 edge haproxy 30527 - - {"a":1}"#);
        assert_eq!((m.app, m.message), (Some("haproxy"), r#"{"a":1}"#));
        let m = parse(r#"<134>1 2026-11-22T03:12:00Z edge haproxy 1 - [x@1 k="v\]"][y@2] {"a":2}"#);
        assert_eq!(m.message, r#"{"a":2}"#);
    }

    #[test]
    fn short_and_raw_formats_are_all_message() {
        assert_eq!(parse(r#"<134>{"a":1}"#).message, r#"{"a":1}"#);
        let raw = parse(r#"{"a":1}"#);
        assert_eq!((raw.priority, raw.message), (None, r#"{"a":1}"#));
    }

    #[test]
    fn unknown_framing_is_kept_whole() {
        let m = parse("<999>garbage");
        assert_eq!((m.priority, m.message), (None, "<999>garbage"));
        assert_eq!(parse("<13>no colon here").message, "no colon here");
        assert_eq!(parse("").message, "");
    }
}
