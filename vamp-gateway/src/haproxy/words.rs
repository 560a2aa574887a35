//! HAProxy's configuration words, as its parser splits a line: spaces and tabs separate words, `"…"` and `'…'`
//! quote (environment variables are expanded only inside double quotes), a backslash escapes the next
//! character, and `#` outside quotes starts a comment.

/// One word of a configuration line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as written, quotes and escapes included.
    pub raw: String,
    /// The word as HAProxy reads it, quotes and escapes removed and nothing expanded.
    pub value: String,
    /// The text after each unescaped `$` inside double quotes, up to the next `"`: what HAProxy would expand.
    pub expansions: Vec<String>,
    /// Whether a `$` stands unescaped outside double quotes.
    pub bare_dollar: bool,
}

/// How a line ends up split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Words {
    /// The words before any comment.
    pub words: Vec<Word>,
    /// Whether a quote is left open at the end of the line.
    pub unclosed_quote: bool,
}

/// Splits `line` into words as HAProxy would.
pub fn split(line: &str) -> Words {
    let mut out = Words::default();
    let mut current: Option<Word> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quote.is_none() && (c == ' ' || c == '\t') {
            if let Some(word) = current.take() {
                out.words.push(word);
            }
            continue;
        }
        if quote.is_none() && c == '#' {
            break;
        }
        let word = current.get_or_insert_with(|| Word {
            raw: String::new(),
            value: String::new(),
            expansions: Vec::new(),
            bare_dollar: false,
        });
        word.raw.push(c);
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), _) => word.value.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.raw.push(next);
                    word.value.push(next);
                }
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(_), '$') => {
                let rest: String = chars.clone().take_while(|c| *c != '"').collect();
                word.expansions.push(rest);
                word.value.push(c);
            }
            (None, '$') => {
                word.bare_dollar = true;
                word.value.push(c);
            }
            _ => word.value.push(c),
        }
    }
    if let Some(word) = current.take() {
        out.words.push(word);
    }
    out.unclosed_quote = quote.is_some();
    out
}

/// Where ACL flags can stand: `--` ends them until the next `{`, `}`, `if`, `unless`, `or`, `||` or `!`. Yields
/// each word with whether HAProxy could read it as a flag.
pub fn flag_positions(words: &[Word]) -> impl Iterator<Item = (&Word, bool)> {
    let mut patterns = false;
    words.iter().map(move |w| {
        if w.raw == "--" {
            patterns = true;
            return (w, false);
        }
        if matches!(w.raw.as_str(), "{" | "}" | "if" | "unless" | "or" | "||" | "!") {
            patterns = false;
        }
        (w, !patterns)
    })
}

/// The ACL flags that make HAProxy read a file: `-f <file>` and `-M` (the file is a map).
pub const FILE_FLAGS: [&str; 2] = ["-f", "-M"];

/// Sample fetches and converters whose first argument is a file HAProxy reads: `map`, `map_<type>` and
/// `map_<in>_<out>`.
pub fn is_map_converter(name: &str) -> bool {
    name == "map" || name.starts_with("map_")
}

/// Every `name(` call in `text` outside quotes, with the byte offset of its first argument: names are runs of
/// letters, digits, `_`, `.` and `-`.
pub fn calls(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => {
                quote = Some(c);
                start = None;
            }
            (None, c) if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') => {
                start.get_or_insert(i);
            }
            (None, '(') => {
                if let Some(s) = start.take() {
                    out.push((text[s..i].to_ascii_lowercase(), i + 1));
                }
            }
            (None, _) => start = None,
        }
    }
    out
}

/// The first argument of a call whose arguments start at `from`: the text up to the first `,` or `)` outside
/// quotes, trimmed.
pub fn first_argument(text: &str, from: usize) -> &str {
    let rest = text.get(from..).unwrap_or_default();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ',' | ')') => return rest[..i].trim(),
            (None, _) => {}
        }
    }
    rest.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Vec<String> {
        split(line).words.into_iter().map(|w| w.value).collect()
    }

    #[test]
    fn words_follow_haproxy_quoting() {
        assert_eq!(
            values("  acl a  hdr(x) -m str \"a b\" # c"),
            ["acl", "a", "hdr(x)", "-m", "str", "a b"]
        );
        assert_eq!(values(r#"x 'a"b' "c\"d" e\ f"#), ["x", "a\"b", "c\"d", "e f"]);
        assert!(split("a \"b").unclosed_quote);
    }

    #[test]
    fn expansions_are_seen_only_inside_double_quotes() {
        let w = &split(r#"x "${HOME}" '$USER' "\$x" $y"#).words;
        assert_eq!(w[1].expansions, ["{HOME}"]);
        assert!(w[2].expansions.is_empty() && !w[2].bare_dollar);
        assert!(w[3].expansions.is_empty());
        assert!(w[4].bare_dollar);
    }

    #[test]
    fn flags_end_at_double_dash() {
        let words = split("path -i -- -f").words;
        let flags: Vec<bool> = flag_positions(&words).map(|(_, f)| f).collect();
        assert_eq!(flags, [true, true, false, false]);
    }

    #[test]
    fn calls_and_first_arguments() {
        let text = r#"%[req.hdr(host),map_str("/a/b,c"),lower]"#;
        let calls = calls(text);
        let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["req.hdr", "map_str"]);
        assert_eq!(first_argument(text, calls[1].1), "\"/a/b,c\"");
    }
}
