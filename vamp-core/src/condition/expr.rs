//! The syntax tree of a condition ([`Expr`] over [`Operand`]s) and its canonical text.
//!
//! The canonical text written by `Display` parses back to an equal tree for every tree [`super::parse`]
//! returns: that round trip is what the fuzz target checks.

use std::fmt;

/// A condition: operands combined with NOT, AND and OR.
///
/// Trees from [`super::parse`] have at least two children in every `And` and `Or`; a parenthesized group keeps
/// its own node (`(a and b) and c` is an `And` inside an `And`), so the tree mirrors the text. `And(vec![])` is
/// always true and `Or(vec![])` always false; neither has a text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A single test on the request.
    Operand(Operand),
    /// The negation of a condition.
    Not(Box<Expr>),
    /// All of the conditions hold.
    And(Vec<Expr>),
    /// At least one of the conditions holds.
    Or(Vec<Expr>),
}

/// A test on an HTTP request. What each one means in HAProxy is the gateway's business; the names say the intent.
///
/// The order (`Ord`) is by variant, then by fields; the normal form uses it to sort literals deterministically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operand {
    /// The `Host` header equals the value: `host == example.com`.
    Host(String),
    /// The `User-Agent` header contains the value: `user-agent == Firefox`.
    UserAgent(String),
    /// The request has the named cookie: `has cookie beta`.
    Cookie(String),
    /// The request has the named header: `has header X-Beta`.
    Header(String),
    /// The named cookie's value contains `value`: `cookie group has beta`.
    CookieContains {
        /// The cookie name.
        name: String,
        /// The text its value must contain.
        value: String,
    },
    /// The named header's value contains `value`: `header X-Group has beta`.
    HeaderContains {
        /// The header name.
        name: String,
        /// The text its value must contain.
        value: String,
    },
    /// A raw HAProxy ACL written between `<` and `>`, trimmed. Kept apart from every other operand so the gateway
    /// can refuse raw ACLs by configuration.
    Raw(String),
}

impl Operand {
    /// The text of the operand when it holds (`has cookie n`) and when it does not (`misses cookie n`).
    fn write(&self, f: &mut fmt::Formatter<'_>, negated: bool) -> fmt::Result {
        let eq = if negated { "!=" } else { "==" };
        let has = if negated { "misses" } else { "has" };
        match self {
            Operand::Host(v) => write!(f, "host {eq} {}", Quoted(v)),
            Operand::UserAgent(v) => write!(f, "user-agent {eq} {}", Quoted(v)),
            Operand::Cookie(n) => write!(f, "{has} cookie {}", Quoted(n)),
            Operand::Header(n) => write!(f, "{has} header {}", Quoted(n)),
            Operand::CookieContains { name, value } => {
                write!(f, "cookie {} {has} {}", Quoted(name), Quoted(value))
            }
            Operand::HeaderContains { name, value } => {
                write!(f, "header {} {has} {}", Quoted(name), Quoted(value))
            }
            Operand::Raw(acl) if negated => write!(f, "not < {acl} >"),
            Operand::Raw(acl) => write!(f, "< {acl} >"),
        }
    }

    /// Writes the operand negated, in its own negative spelling (`host != v`, `misses cookie n`, `not < acl >`).
    pub(crate) fn fmt_negated(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, true)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl fmt::Display for Expr {
    /// Lower-case keywords, `==`/`!=`, single spaces, parentheses only where the structure needs them (an `And`
    /// or `Or` inside an `And`, an `Or` inside an `Or`, an `And` or `Or` under `not`), and values quoted only
    /// when they must be. The text never nests deeper than the text the tree was parsed from, so it parses back
    /// within [`super::MAX_DEPTH`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Operand(op) => op.fmt(f),
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Operand(op) => op.fmt_negated(f),
                Expr::Not(_) => write!(f, "not {inner}"),
                other => write!(f, "not ({other})"),
            },
            Expr::And(children) => write_joined(f, children, " and ", |c| {
                !matches!(c, Expr::Operand(_) | Expr::Not(_))
            }),
            Expr::Or(children) => write_joined(f, children, " or ", |c| matches!(c, Expr::Or(_))),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Expr],
    separator: &str,
    needs_parentheses: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parentheses(child) {
            write!(f, "({child})")?;
        } else {
            write!(f, "{child}")?;
        }
    }
    Ok(())
}

/// A value or name as the parser reads it back: bare when it can be, otherwise in double quotes with `"` doubled.
struct Quoted<'a>(&'a str);

impl Quoted<'_> {
    fn needs_quotes(&self) -> bool {
        self.0.is_empty() || self.0.starts_with(['\'', '"']) || self.0.chars().any(|c| !is_bare_value_char(c))
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.needs_quotes() {
            write!(f, "\"{}\"", self.0.replace('"', "\"\""))
        } else {
            f.write_str(self.0)
        }
    }
}

/// Whether `c` may appear in an unquoted value: visible (not white space, not a control character) and not a
/// parenthesis.
pub(crate) fn is_bare_value_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && c != '(' && c != ')'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: &str) -> Expr {
        Expr::Operand(Operand::Host(v.into()))
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    #[test]
    fn negated_operands_use_their_own_negative_spelling() {
        assert_eq!(not(host("a")).to_string(), "host != a");
        assert_eq!(
            not(Expr::Operand(Operand::Cookie("beta".into()))).to_string(),
            "misses cookie beta"
        );
        let contains = Operand::HeaderContains {
            name: "X-Group".into(),
            value: "b".into(),
        };
        assert_eq!(
            not(Expr::Operand(contains)).to_string(),
            "header X-Group misses b"
        );
        assert_eq!(
            not(Expr::Operand(Operand::Raw("hdr_sub(x) y".into()))).to_string(),
            "not < hdr_sub(x) y >"
        );
    }

    #[test]
    fn parentheses_appear_only_where_structure_needs_them() {
        let e = Expr::Or(vec![Expr::And(vec![host("a"), host("b")]), host("c")]);
        assert_eq!(e.to_string(), "host == a and host == b or host == c");
        let e = Expr::And(vec![Expr::Or(vec![host("a"), host("b")]), host("c")]);
        assert_eq!(e.to_string(), "(host == a or host == b) and host == c");
        let e = not(Expr::And(vec![host("a"), host("b")]));
        assert_eq!(e.to_string(), "not (host == a and host == b)");
        let e = not(not(host("a")));
        assert_eq!(e.to_string(), "not host != a");
    }

    #[test]
    fn values_are_quoted_only_when_they_must_be() {
        assert_eq!(host("it's").to_string(), "host == it's");
        assert_eq!(host("a b").to_string(), "host == \"a b\"");
        assert_eq!(host("f(x)").to_string(), "host == \"f(x)\"");
        assert_eq!(host("\"q\"").to_string(), "host == \"\"\"q\"\"\"");
        assert_eq!(host("'q").to_string(), "host == \"'q\"");
        assert_eq!(host("").to_string(), "host == \"\"");
    }

    #[test]
    fn display_is_canonical_and_parses_back_to_the_same_tree() {
        let cases = [
            ("HOST is a.com", "host == a.com"),
            ("User Agent misses x", "user-agent != x"),
            ("contains cookie c", "has cookie c"),
            ("misses header 'X Y'", "misses header \"X Y\""),
            ("cookie c contains v", "cookie c has v"),
            ("header h misses 'it''s'", "header h misses it's"),
            ("!< hdr(x)  y >", "not < hdr(x)  y >"),
            (
                "(host == a || host == b) && !(has cookie c & has cookie d)",
                "(host == a or host == b) and not (has cookie c and has cookie d)",
            ),
            (
                "(host == a and host == b) and host == c",
                "(host == a and host == b) and host == c",
            ),
            (
                "host == a or (host == b or host == c)",
                "host == a or (host == b or host == c)",
            ),
            ("host == '(\"x\")'", "host == \"(\"\"x\"\")\""),
        ];
        for (text, canonical) in cases {
            let parsed = crate::condition::parse(text).unwrap();
            assert_eq!(parsed.to_string(), canonical, "{text}");
            assert_eq!(crate::condition::parse(canonical).unwrap(), parsed, "{canonical}");
        }
    }

    #[test]
    fn display_of_conditions_nested_to_the_limit_still_parses() {
        use crate::condition::{parse, MAX_DEPTH};
        let half = MAX_DEPTH / 2;
        for text in [
            format!("{}< D!! >", "!".repeat(MAX_DEPTH)),
            format!(
                "{}has cookie a or host == b{}",
                "not (".repeat(half),
                ")".repeat(half)
            ),
            format!(
                "{}has cookie a and host == b{}",
                "(".repeat(MAX_DEPTH),
                ")".repeat(MAX_DEPTH)
            ),
        ] {
            let parsed = parse(&text).unwrap();
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed, "{text}");
        }
    }
}
