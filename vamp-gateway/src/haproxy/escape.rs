//! What may be written into an HAProxy configuration, and how: every piece of user text passes through one of
//! these functions before it reaches the template model, so no name, value or expression can end a line, start
//! a comment, or add a directive.
//!
//! The rules, in order of strictness:
//! - identifiers in the configuration are never user text (they are hashes, see [`super::model`]);
//! - header and cookie names must be RFC 7230 tokens, less the characters HAProxy's own parser gives a meaning
//!   to (`#` starts a comment, `$` an environment variable, `'` a quoted string);
//! - values (host names, header and cookie contents, rewrite paths) are written double-quoted with `\`, `"` and
//!   `$` escaped, and refused when they hold a control character;
//! - raw HAProxy text (raw ACLs, rewrite conditions) is refused when it holds a control character, a `#` outside
//!   quotes, or unbalanced quotes, braces or parentheses, and when it could make HAProxy read something beyond
//!   the request: a `$` (environment expansion), the file flags `-f`/`-M`, `env(…)` or a `map…(…)` converter.

use vamp_core::{Error, Result};

/// The balance algorithms a route may ask for.
pub const BALANCE_ALGORITHMS: [&str; 7] = [
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "random",
    "uri",
];

/// Where a piece of user text comes from, for error messages: `gateway 'shop/web', route 'shop/v1/web',
/// field 'condition'`.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// The gateway's name.
    pub gateway: &'a str,
    /// The route's path, when the text belongs to a route.
    pub route: Option<&'a str>,
    /// The field holding the text.
    pub field: &'a str,
}

impl Site<'_> {
    /// An `Invalid` error about this site: `The gateway 'g' route 'r' field 'f' <problem>`.
    pub fn invalid(&self, problem: impl std::fmt::Display) -> Error {
        let route = self
            .route
            .map(|r| format!(", route '{}'", r.escape_debug()))
            .unwrap_or_default();
        Error::invalid(format!(
            "Gateway '{}'{route}, field '{}': {problem}",
            self.gateway.escape_debug(),
            self.field
        ))
    }
}

/// Refuses text holding a control character (newline, carriage return, tab, NUL, …).
pub fn single_line(site: Site<'_>, text: &str) -> Result<()> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(site.invalid(format!(
            "'{}' contains the control character {:?}, which cannot be written into the HAProxy configuration.",
            text.escape_debug(),
            c
        )));
    }
    Ok(())
}

/// Whether `c` is an RFC 7230 `tchar` that HAProxy's configuration parser reads literally.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '%' | '&' | '*' | '+' | '-' | '.' | '^' | '_' | '`' | '|' | '~'
        )
}

/// A header or cookie name, checked: non-empty, RFC 7230 token characters only, and none of `#`, `$`, `'`.
pub fn header_name(site: Site<'_>, name: &str) -> Result<String> {
    single_line(site, name)?;
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Err(site.invalid(format!(
            "'{}' is not a valid header or cookie name: use letters, digits and any of ! % & * + - . ^ _ ` | ~.",
            name.escape_debug()
        )));
    }
    Ok(name.to_string())
}

/// `text` as one double-quoted configuration word: `\`, `"` and `$` escaped with a backslash.
pub fn quoted(site: Site<'_>, text: &str) -> Result<String> {
    single_line(site, text)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// Raw HAProxy text (a raw ACL or a rewrite condition), checked: non-blank, no control character, no `#` outside
/// quotes, no backslash before a space outside quotes, quotes closed, `{}`/`()`/`[]` balanced and properly
/// nested outside quotes, and nothing that reads beyond the request (see [`reads_beyond_the_request`]).
pub fn raw(site: Site<'_>, text: &str) -> Result<String> {
    single_line(site, text)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(site.invalid("the raw HAProxy expression is empty."));
    }
    let refuse = |why: &str| {
        Err(site.invalid(format!(
            "the raw HAProxy expression '{}' is refused: {why}.",
            text.escape_debug()
        )))
    };
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut open: Vec<char> = Vec::new();
    for c in text.chars() {
        if escaped {
            escaped = false;
            if quote.is_none() && c.is_whitespace() {
                return refuse("a backslash before a space would join two words");
            }
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return refuse("'#' outside quotes would start a comment"),
            (None, '{' | '(' | '[') => open.push(c),
            (None, '}' | ')' | ']') => {
                let expected = match c {
                    '}' => '{',
                    ')' => '(',
                    _ => '[',
                };
                if open.pop() != Some(expected) {
                    return refuse("its braces, parentheses or brackets are not balanced");
                }
            }
            (None, _) => {}
        }
    }
    if escaped {
        return refuse("it ends with a backslash");
    }
    if quote.is_some() {
        return refuse("a quote is not closed");
    }
    if !open.is_empty() {
        return refuse("its braces, parentheses or brackets are not balanced");
    }
    if let Some(why) = reads_beyond_the_request(text) {
        return refuse(&why);
    }
    Ok(text.to_string())
}

/// Why raw HAProxy text could read the server's environment or files, if it could: a `$` anywhere (HAProxy
/// expands `"${VAR}"` and `"$VAR"`), the ACL flag `-f` or `-M` where a flag can stand (before `--`), the fetch
/// `env(…)`, or a `map…(…)` converter (its argument is a file).
pub fn reads_beyond_the_request(text: &str) -> Option<String> {
    if text.contains('$') {
        return Some(
            "'$' would make HAProxy expand an environment variable; test for a literal '$' with a condition \
             such as `header X-Name has \"$\"`"
                .into(),
        );
    }
    let words = super::words::split(text).words;
    for (word, flag) in super::words::flag_positions(&words) {
        if flag && super::words::FILE_FLAGS.contains(&word.value.as_str()) {
            return Some(format!(
                "the ACL flag '{}' makes HAProxy read a file, which a condition may not do",
                word.value
            ));
        }
    }
    for (name, _) in super::words::calls(text) {
        if name == "env" {
            return Some("env() reads the environment of HAProxy, which a condition may not do".into());
        }
        if super::words::is_map_converter(&name) {
            return Some(format!(
                "the converter '{name}' reads a file, which a condition may not do"
            ));
        }
    }
    None
}

/// A balance algorithm, checked against [`BALANCE_ALGORITHMS`].
pub fn balance(site: Site<'_>, algorithm: &str) -> Result<String> {
    let algorithm = algorithm.trim();
    if BALANCE_ALGORITHMS.contains(&algorithm) {
        return Ok(algorithm.to_string());
    }
    Err(site.invalid(format!(
        "'{}' is not a supported balance algorithm; use one of {}.",
        algorithm.escape_debug(),
        BALANCE_ALGORITHMS.join(", ")
    )))
}

/// A host name or address for a server line or a virtual host, checked: letters, digits, `.`, `-`, `_`, and `:`
/// for IPv6 addresses (written `[addr]`).
pub fn host(site: Site<'_>, host: &str) -> Result<String> {
    single_line(site, host)?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ok = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !ok {
        return Err(site.invalid(format!(
            "'{}' is not a host name or IP address.",
            host.escape_debug()
        )));
    }
    Ok(if bare.contains(':') {
        format!("[{bare}]")
    } else {
        bare.to_string()
    })
}

/// `host:port` checked: a [`host`] and a port 1–65535; `[v6addr]:port` for IPv6.
pub fn address(site: Site<'_>, text: &str) -> Result<String> {
    let Some((h, p)) = text.rsplit_once(':') else {
        return Err(site.invalid(format!("'{}' is not a host:port address.", text.escape_debug())));
    };
    let port: u16 = p.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        site.invalid(format!(
            "'{}' does not end with a port 1-65535.",
            text.escape_debug()
        ))
    })?;
    Ok(format!("{}:{port}", host(site, h)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: Site<'static> = Site {
        gateway: "gw",
        route: Some("r"),
        field: "condition",
    };

    #[test]
    fn quoted_values_escape_backslash_quote_and_dollar() {
        assert_eq!(
            quoted(SITE, r#"a"b\c$d #e {f}"#).unwrap(),
            r#""a\"b\\c\$d #e {f}""#
        );
    }

    #[test]
    fn control_characters_are_refused_everywhere() {
        for text in ["a\nb", "a\rb", "a\tb", "a\0b"] {
            assert!(quoted(SITE, text).is_err(), "{text:?}");
            assert!(raw(SITE, text).is_err(), "{text:?}");
            assert!(header_name(SITE, text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn errors_name_gateway_route_and_field() {
        let e = quoted(SITE, "a\nb").unwrap_err();
        assert!(
            e.message().contains("Gateway 'gw', route 'r', field 'condition'"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn header_names_are_tokens_without_config_specials() {
        assert_eq!(header_name(SITE, "X-Group_1").unwrap(), "X-Group_1");
        for bad in ["", "a b", "a#b", "a$b", "a'b", "a\"b", "a(b", "a,b", "a{b"] {
            assert!(header_name(SITE, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raw_text_must_be_balanced_and_comment_free() {
        assert_eq!(
            raw(SITE, " hdr_sub(user-agent) Android ").unwrap(),
            "hdr_sub(user-agent) Android"
        );
        assert!(raw(SITE, "{ path_beg /v2/ }").is_ok());
        assert!(raw(SITE, r#"hdr(x) -m str "a # b""#).is_ok());
        for bad in [
            "hdr(x) a # b",
            "{ path_beg /",
            "hdr(x",
            "hdr(x))",
            "a \"b",
            "a 'b",
            "{ a ) }",
            "a\\",
            "{ a\\ }",
            "  ",
        ] {
            assert!(raw(SITE, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raw_text_cannot_read_files_or_the_environment() {
        assert!(raw(SITE, "hdr(x) -m str -- -f").is_ok());
        assert!(raw(SITE, "path_beg -i /v2").is_ok());
        for bad in [
            r#"hdr(x-guess) -m str "${SECRET}""#,
            r#"hdr(x) -m str "$SECRET""#,
            "hdr(x) $HOME",
            "path -f /etc/hostname",
            r#"path "-f" /etc/hostname"#,
            "path -M -f /etc/x.map",
            "{ path -f /nonexistent }",
            "env(SECRET) -m found",
            "hdr(x),map_str(/etc/passwd) -m found",
            "hdr(x),map(/etc/passwd) -m found",
        ] {
            assert!(raw(SITE, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn balance_is_whitelisted() {
        assert_eq!(balance(SITE, "leastconn").unwrap(), "leastconn");
        assert!(balance(SITE, "leastconn\nfrontend x").is_err());
        assert!(balance(SITE, "hdr(x)").is_err());
    }

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(address(SITE, "10.0.0.1:80").unwrap(), "10.0.0.1:80");
        assert_eq!(address(SITE, "::1:80").unwrap(), "[::1]:80");
        assert_eq!(address(SITE, "[::1]:80").unwrap(), "[::1]:80");
        for bad in ["host", "host:0", "host:x", "a b:80", "a#b:80", ":80", "h\n:80"] {
            assert!(address(SITE, bad).is_err(), "{bad}");
        }
    }
}
