//! The recursive-descent parser from condition text to [`Expr`].
//!
//! Grammar (keywords case-insensitive; `docs/conditions.md` has it in EBNF):
//! `expr = term {("or" | "||" | "|") term}`, `term = factor {("and" | "&&" | "&") factor}`,
//! `factor = ("not" | "!") factor | "(" expr ")" | operand`. AND binds tighter than OR.
//!
//! Unlike the original, text that is not an operand is an error, never a raw HAProxy ACL: raw ACLs must be
//! written between `<` and `>`. Errors give the 0-based character offset of what could not be read and say what
//! was expected there. Nesting of parentheses and negations is capped at [`MAX_DEPTH`] so hostile input cannot
//! overflow the stack, and the number of operands at [`MAX_OPERANDS`] so the normal form stays cheap to compute.

use super::expr::{is_bare_value_char, Expr, Operand};
use super::{ConditionError, ConditionErrorKind};

/// Deepest nesting of parentheses and negations accepted.
pub const MAX_DEPTH: usize = 64;

/// Most operands accepted in one condition, so that computing the normal form stays cheap.
pub const MAX_OPERANDS: usize = 1024;

/// The longest piece of offending text quoted in an error message, in characters.
const FOUND_WIDTH: usize = 24;

/// Parses a condition. Blank text is an error ("the condition is empty"); use [`parse_optional`] where blank
/// means "no condition".
pub fn parse(input: &str) -> Result<Expr, ConditionError> {
    parse_optional(input)?.ok_or_else(|| ConditionError {
        kind: ConditionErrorKind::Syntax,
        position: 0,
        message: "the condition is empty; write an operand such as 'host == x' or leave the condition out"
            .to_string(),
    })
}

/// Parses a condition where blank text (empty or only white space) means "no condition": `Ok(None)`.
pub fn parse_optional(input: &str) -> Result<Option<Expr>, ConditionError> {
    let mut parser = Parser {
        chars: input.chars().collect(),
        pos: 0,
        depth: 0,
        operands: 0,
    };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(None);
    }
    let expr = parser.expr()?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.expected("'and', 'or' or the end of the condition"));
    }
    Ok(Some(expr))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    operands: usize,
}

/// Characters that continue a keyword: `hosts` is not the keyword `host`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

impl Parser {
    fn expr(&mut self) -> Result<Expr, ConditionError> {
        let first = self.term()?;
        let mut children = Vec::new();
        loop {
            self.skip_ws();
            if !(self.keyword("or") || self.symbol("||") || self.symbol("|")) {
                break;
            }
            children.push(self.term()?);
        }
        Ok(combine(first, children, Expr::Or))
    }

    fn term(&mut self) -> Result<Expr, ConditionError> {
        let first = self.factor()?;
        let mut children = Vec::new();
        loop {
            self.skip_ws();
            if !(self.keyword("and") || self.symbol("&&") || self.symbol("&")) {
                break;
            }
            children.push(self.factor()?);
        }
        Ok(combine(first, children, Expr::And))
    }

    fn factor(&mut self) -> Result<Expr, ConditionError> {
        self.skip_ws();
        let start = self.pos;
        if self.keyword("not") || self.symbol("!") {
            self.descend(start)?;
            let inner = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.symbol("(") {
            self.descend(start)?;
            let inner = self.expr()?;
            self.skip_ws();
            if !self.symbol(")") {
                return Err(self.expected("'and', 'or' or ')'"));
            }
            self.depth -= 1;
            return Ok(inner);
        }
        self.operand()
    }

    fn descend(&mut self, start: usize) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ConditionError {
                kind: ConditionErrorKind::TooComplex,
                position: start,
                message: format!(
                    "the condition nests parentheses and negations deeper than {MAX_DEPTH} levels at position \
                     {start}; simplify it"
                ),
            });
        }
        Ok(())
    }

    fn operand(&mut self) -> Result<Expr, ConditionError> {
        let start = self.pos;
        self.operands += 1;
        if self.operands > MAX_OPERANDS {
            return Err(ConditionError {
                kind: ConditionErrorKind::TooComplex,
                position: start,
                message: format!(
                    "the condition has more than {MAX_OPERANDS} operands (the next one is at position {start}); \
                     simplify it"
                ),
            });
        }
        if self.symbol("<") {
            return self.raw(start);
        }
        if self.keyword("host") {
            let (equal, value) = self.comparison()?;
            return Ok(signed(equal, Operand::Host(value)));
        }
        if self.user_agent_keyword() {
            let (equal, value) = self.comparison()?;
            return Ok(signed(equal, Operand::UserAgent(value)));
        }
        if self.keyword("has") || self.keyword("contains") {
            return self.presence(true);
        }
        if self.keyword("misses") {
            return self.presence(false);
        }
        if self.keyword("cookie") {
            let (name, has, value) = self.containment()?;
            return Ok(signed(has, Operand::CookieContains { name, value }));
        }
        if self.keyword("header") {
            let (name, has, value) = self.containment()?;
            return Ok(signed(has, Operand::HeaderContains { name, value }));
        }
        Err(self.expected("an operand such as 'host == x' or '< raw acl >'"))
    }

    /// `user-agent`, `user.agent`, `useragent` or `user agent`.
    fn user_agent_keyword(&mut self) -> bool {
        let start = self.pos;
        if !self.starts_with_ci("user") {
            return false;
        }
        self.pos += 4;
        match self.peek() {
            Some('-' | '.') => self.pos += 1,
            _ => self.skip_ws(),
        }
        if self.keyword("agent") {
            return true;
        }
        self.pos = start;
        false
    }

    /// `< acl >` after the `<`: the text up to `>`, trimmed, neither empty nor containing `<`.
    fn raw(&mut self, start: usize) -> Result<Expr, ConditionError> {
        let mut acl = String::new();
        loop {
            match self.peek() {
                Some('>') => break,
                Some(c) if c != '<' => {
                    acl.push(c);
                    self.pos += 1;
                }
                _ => {
                    return Err(self.expected(&format!("'>' closing the raw ACL opened at position {start}")))
                }
            }
        }
        let trimmed = acl.trim();
        if trimmed.is_empty() {
            return Err(self.error_at(
                start,
                format!("empty raw ACL at position {start}; write the ACL between '<' and '>'"),
            ));
        }
        self.pos += 1;
        Ok(Expr::Operand(Operand::Raw(trimmed.to_string())))
    }

    /// After `host` or `user-agent`: the operator and the value; `true` for a positive operator.
    fn comparison(&mut self) -> Result<(bool, String), ConditionError> {
        self.skip_ws();
        let equal = if self.symbol("==") || self.symbol("=") {
            true
        } else if self.symbol("!=") || self.symbol("!") {
            false
        } else if self.keyword("is") || self.keyword("has") || self.keyword("contains") {
            true
        } else if self.keyword("not") || self.keyword("misses") {
            false
        } else {
            return Err(
                self.expected("an operator ('==', '=', 'is', 'has', 'contains', '!=', 'not' or 'misses')")
            );
        };
        Ok((equal, self.value("a value")?))
    }

    /// After `has`, `contains` or `misses`: `cookie NAME` or `header NAME`.
    fn presence(&mut self, has: bool) -> Result<Expr, ConditionError> {
        self.skip_ws();
        if self.keyword("cookie") {
            return Ok(signed(has, Operand::Cookie(self.value("a cookie name")?)));
        }
        if self.keyword("header") {
            return Ok(signed(has, Operand::Header(self.value("a header name")?)));
        }
        Err(self.expected("'cookie' or 'header'"))
    }

    /// After `cookie` or `header`: the name, `has`/`contains`/`misses` and the value.
    fn containment(&mut self) -> Result<(String, bool, String), ConditionError> {
        let name = self.value("a name")?;
        self.skip_ws();
        let has = if self.keyword("has") || self.keyword("contains") {
            true
        } else if self.keyword("misses") {
            false
        } else {
            return Err(self.expected("'has', 'contains' or 'misses'"));
        };
        Ok((name, has, self.value("a value")?))
    }

    /// A value after optional white space: quoted (`'…'` or `"…"`, the quote doubled to escape it) or a run of
    /// visible characters other than parentheses. Never empty.
    fn value(&mut self, what: &str) -> Result<String, ConditionError> {
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek() {
            Some(quote @ ('\'' | '"')) => {
                self.pos += 1;
                let mut value = String::new();
                loop {
                    match self.peek() {
                        None => {
                            return Err(self.error_at(
                                start,
                                format!(
                                    "unterminated quoted value at position {start}; close it with {quote}"
                                ),
                            ))
                        }
                        Some(c) if c == quote => {
                            self.pos += 1;
                            if self.peek() == Some(quote) {
                                value.push(quote);
                                self.pos += 1;
                            } else {
                                break;
                            }
                        }
                        Some(c) => {
                            value.push(c);
                            self.pos += 1;
                        }
                    }
                }
                if value.is_empty() {
                    return Err(self.error_at(
                        start,
                        format!("empty quoted value at position {start}; values cannot be empty"),
                    ));
                }
                value
            }
            _ => {
                let mut value = String::new();
                while let Some(c) = self.peek().filter(|&c| is_bare_value_char(c)) {
                    value.push(c);
                    self.pos += 1;
                }
                value
            }
        };
        if value.is_empty() {
            return Err(self.expected(what));
        }
        Ok(value)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn starts_with_ci(&self, word: &str) -> bool {
        let mut at = self.pos;
        for expected in word.chars() {
            match self.chars.get(at) {
                Some(c) if c.to_ascii_lowercase() == expected => at += 1,
                _ => return false,
            }
        }
        true
    }

    /// Consumes `word` (lower case, matched ignoring ASCII case) if it is there as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        if !self.starts_with_ci(word) {
            return false;
        }
        let end = self.pos + word.chars().count();
        if self.chars.get(end).is_some_and(|&c| is_word_char(c)) {
            return false;
        }
        self.pos = end;
        true
    }

    /// Consumes `symbol` if it is next.
    fn symbol(&mut self, symbol: &str) -> bool {
        if self.starts_with_ci(symbol) {
            self.pos += symbol.chars().count();
            true
        } else {
            false
        }
    }

    /// "expected X at position P, found Y", at the current position after white space.
    fn expected(&mut self, what: &str) -> ConditionError {
        self.skip_ws();
        let found = self.found();
        let position = self.pos;
        self.error_at(
            position,
            format!("expected {what} at position {position}, found {found}"),
        )
    }

    fn error_at(&self, position: usize, message: String) -> ConditionError {
        ConditionError {
            kind: ConditionErrorKind::Syntax,
            position,
            message,
        }
    }

    /// The text at the current position, for error messages: a word, or a single character.
    fn found(&self) -> String {
        let rest = self.chars.get(self.pos..).unwrap_or_default();
        let Some(&first) = rest.first() else {
            return "the end of the condition".to_string();
        };
        let word: Vec<char> = if first == '(' || first == ')' {
            vec![first]
        } else {
            rest.iter()
                .copied()
                .take_while(|&c| is_bare_value_char(c))
                .collect()
        };
        let word = if word.is_empty() { vec![first] } else { word };
        let mut text = String::new();
        for &c in word.iter().take(FOUND_WIDTH) {
            if c.is_control() {
                text.extend(c.escape_default());
            } else {
                text.push(c);
            }
        }
        if word.len() > FOUND_WIDTH {
            text.push('…');
        }
        format!("'{text}'")
    }
}

/// `first` alone, or `first` and `rest` under one `And`/`Or`.
fn combine(first: Expr, mut rest: Vec<Expr>, node: fn(Vec<Expr>) -> Expr) -> Expr {
    if rest.is_empty() {
        return first;
    }
    rest.insert(0, first);
    node(rest)
}

fn signed(positive: bool, operand: Operand) -> Expr {
    let expr = Expr::Operand(operand);
    if positive {
        expr
    } else {
        Expr::Not(Box::new(expr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(o: Operand) -> Expr {
        Expr::Operand(o)
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    fn host(v: &str) -> Expr {
        op(Operand::Host(v.into()))
    }

    fn agent(v: &str) -> Expr {
        op(Operand::UserAgent(v.into()))
    }

    fn cookie(n: &str) -> Expr {
        op(Operand::Cookie(n.into()))
    }

    fn header(n: &str) -> Expr {
        op(Operand::Header(n.into()))
    }

    fn error(text: &str) -> ConditionError {
        match parse(text) {
            Ok(expr) => panic!("{text:?} parsed as {expr:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn host_accepts_every_positive_operator() {
        for text in [
            "host == a.com",
            "host = a.com",
            "host is a.com",
            "host has a.com",
            "host contains a.com",
        ] {
            assert_eq!(parse(text).unwrap(), host("a.com"), "{text}");
        }
    }

    #[test]
    fn host_accepts_every_negative_operator() {
        for text in [
            "host != a.com",
            "host ! a.com",
            "host not a.com",
            "host misses a.com",
        ] {
            assert_eq!(parse(text).unwrap(), not(host("a.com")), "{text}");
        }
    }

    #[test]
    fn symbolic_operators_need_no_surrounding_space() {
        assert_eq!(parse("host==a").unwrap(), host("a"));
        assert_eq!(parse("host!=a").unwrap(), not(host("a")));
        assert_eq!(parse("host=a").unwrap(), host("a"));
    }

    #[test]
    fn user_agent_has_every_spelling() {
        for text in [
            "user-agent == Firefox",
            "user.agent == Firefox",
            "useragent == Firefox",
            "user agent == Firefox",
            "User-Agent = Firefox",
            "USER-AGENT is Firefox",
            "user   agent has Firefox",
        ] {
            assert_eq!(parse(text).unwrap(), agent("Firefox"), "{text}");
        }
        assert_eq!(parse("User-Agent != Firefox").unwrap(), not(agent("Firefox")));
        assert_eq!(parse("useragent misses Firefox").unwrap(), not(agent("Firefox")));
    }

    #[test]
    fn cookie_and_header_presence() {
        assert_eq!(parse("has cookie vamp").unwrap(), cookie("vamp"));
        assert_eq!(parse("contains cookie vamp").unwrap(), cookie("vamp"));
        assert_eq!(parse("misses cookie vamp").unwrap(), not(cookie("vamp")));
        assert_eq!(parse("has header X-Beta").unwrap(), header("X-Beta"));
        assert_eq!(parse("contains header X-Beta").unwrap(), header("X-Beta"));
        assert_eq!(parse("misses header X-Beta").unwrap(), not(header("X-Beta")));
    }

    #[test]
    fn cookie_and_header_contents() {
        let cookie_has = op(Operand::CookieContains {
            name: "group".into(),
            value: "beta".into(),
        });
        assert_eq!(parse("cookie group has beta").unwrap(), cookie_has);
        assert_eq!(parse("cookie group contains beta").unwrap(), cookie_has);
        assert_eq!(parse("cookie group misses beta").unwrap(), not(cookie_has));
        let header_has = op(Operand::HeaderContains {
            name: "X-Group".into(),
            value: "beta".into(),
        });
        assert_eq!(parse("header X-Group has beta").unwrap(), header_has);
        assert_eq!(parse("header X-Group contains beta").unwrap(), header_has);
        assert_eq!(parse("header X-Group misses beta").unwrap(), not(header_has));
    }

    #[test]
    fn keywords_ignore_case() {
        assert_eq!(
            parse("HOST == a OR Has Cookie b").unwrap(),
            Expr::Or(vec![host("a"), cookie("b")])
        );
        assert_eq!(
            parse("NOT host == a AND MISSES header h").unwrap(),
            Expr::And(vec![not(host("a")), not(header("h"))])
        );
        assert_eq!(
            parse("Cookie c HAS v").unwrap(),
            op(Operand::CookieContains {
                name: "c".into(),
                value: "v".into()
            })
        );
    }

    #[test]
    fn values_keep_their_case() {
        assert_eq!(parse("has cookie VampBeta").unwrap(), cookie("VampBeta"));
    }

    #[test]
    fn every_spelling_of_and_or() {
        for text in [
            "host == a and host == b",
            "host == a && host == b",
            "host == a & host == b",
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Expr::And(vec![host("a"), host("b")]),
                "{text}"
            );
        }
        for text in [
            "host == a or host == b",
            "host == a || host == b",
            "host == a | host == b",
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Expr::Or(vec![host("a"), host("b")]),
                "{text}"
            );
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let parsed = parse("host == a or host == b and host == c or host == d").unwrap();
        let expected = Expr::Or(vec![host("a"), Expr::And(vec![host("b"), host("c")]), host("d")]);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn parentheses_override_precedence() {
        let parsed = parse("(host == a or host == b) and host == c").unwrap();
        assert_eq!(
            parsed,
            Expr::And(vec![Expr::Or(vec![host("a"), host("b")]), host("c")])
        );
        let parsed = parse("((host == a))").unwrap();
        assert_eq!(parsed, host("a"));
    }

    #[test]
    fn operators_may_touch_parentheses() {
        let parsed = parse("(host == a)or(host == b)and!(has cookie c)").unwrap();
        let expected = Expr::Or(vec![host("a"), Expr::And(vec![host("b"), not(cookie("c"))])]);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn negation_applies_to_the_next_factor_only() {
        let parsed = parse("not host == a and host == b").unwrap();
        assert_eq!(parsed, Expr::And(vec![not(host("a")), host("b")]));
        let parsed = parse("! (host == a or host == b)").unwrap();
        assert_eq!(parsed, not(Expr::Or(vec![host("a"), host("b")])));
        assert_eq!(parse("not not has cookie c").unwrap(), not(not(cookie("c"))));
        assert_eq!(parse("!host != a").unwrap(), not(not(host("a"))));
    }

    #[test]
    fn quoted_values_may_hold_spaces_parentheses_and_doubled_quotes() {
        assert_eq!(parse("host == 'a b'").unwrap(), host("a b"));
        assert_eq!(parse("host == \"f(x)\"").unwrap(), host("f(x)"));
        assert_eq!(parse("host == 'it''s'").unwrap(), host("it's"));
        assert_eq!(parse("host == \"say \"\"hi\"\"\"").unwrap(), host("say \"hi\""));
        assert_eq!(parse("host == \"it's\"").unwrap(), host("it's"));
        assert_eq!(
            parse("cookie 'my cookie' has \"x y\"").unwrap(),
            op(Operand::CookieContains {
                name: "my cookie".into(),
                value: "x y".into()
            })
        );
    }

    #[test]
    fn unquoted_values_stop_at_white_space_and_parentheses_only() {
        assert_eq!(parse("(host == a)").unwrap(), host("a"));
        assert_eq!(parse("host == a|b").unwrap(), host("a|b"));
        assert_eq!(parse("host == it's").unwrap(), host("it's"));
        assert_eq!(parse("user-agent == <x>").unwrap(), agent("<x>"));
    }

    #[test]
    fn raw_acls_are_kept_trimmed_as_their_own_node() {
        assert_eq!(
            parse("< hdr_sub(user-agent) Android >").unwrap(),
            op(Operand::Raw("hdr_sub(user-agent) Android".into()))
        );
        assert_eq!(
            parse("not <req.ssl_sni -i a> or has cookie c").unwrap(),
            Expr::Or(vec![
                not(op(Operand::Raw("req.ssl_sni -i a".into()))),
                cookie("c")
            ])
        );
    }

    #[test]
    fn blank_text_is_no_condition_for_parse_optional_and_an_error_for_parse() {
        assert_eq!(parse_optional("").unwrap(), None);
        assert_eq!(parse_optional(" \t\n ").unwrap(), None);
        assert_eq!(parse_optional(" has cookie a ").unwrap(), Some(cookie("a")));
        let e = error("   ");
        assert_eq!((e.kind, e.position), (ConditionErrorKind::Syntax, 0));
        assert!(e.message.contains("empty"), "{}", e.message);
    }

    #[test]
    fn bare_words_are_refused_instead_of_becoming_raw_acls() {
        let e = error("android");
        assert_eq!(e.position, 0);
        assert_eq!(
            e.message,
            "expected an operand such as 'host == x' or '< raw acl >' at position 0, found 'android'"
        );
        let e = error("ua = android");
        assert_eq!(e.position, 0);
        assert!(e.message.ends_with("found 'ua'"), "{}", e.message);
        let e = error("hdr_sub(user-agent) Android");
        assert_eq!(e.position, 0);
        assert!(e.message.ends_with("found 'hdr_sub'"), "{}", e.message);
    }

    #[test]
    fn error_positions_are_character_offsets_of_the_offending_text() {
        let e = error("host == a and android");
        assert_eq!(e.position, 14);
        assert!(
            e.message.contains("at position 14, found 'android'"),
            "{}",
            e.message
        );
        let e = error("hôst == ü and android");
        assert_eq!(e.position, 0, "'hôst' is not a keyword");
        let e = error("host == ü and android");
        assert_eq!(e.position, 14, "counted in characters, not bytes");
    }

    #[test]
    fn errors_say_what_was_expected() {
        let cases = [
            ("host a.com", 5, "expected an operator"),
            (
                "host ==",
                7,
                "expected a value at position 7, found the end of the condition",
            ),
            (
                "has biscuit a",
                4,
                "expected 'cookie' or 'header' at position 4, found 'biscuit'",
            ),
            ("cookie c equals v", 9, "expected 'has', 'contains' or 'misses'"),
            ("has cookie", 10, "expected a cookie name"),
            ("host == a or", 12, "expected an operand"),
            (
                "(host == a",
                10,
                "expected 'and', 'or' or ')' at position 10, found the end of the condition",
            ),
            (
                "host == a)",
                9,
                "expected 'and', 'or' or the end of the condition at position 9, found ')'",
            ),
            ("host == a orange", 10, "found 'orange'"),
            ("hosts == a", 0, "expected an operand"),
            ("username == a", 0, "found 'username'"),
            ("()", 1, "expected an operand"),
        ];
        for (text, position, message) in cases {
            let e = error(text);
            assert_eq!(e.position, position, "{text}: {}", e.message);
            assert!(e.message.contains(message), "{text}: {}", e.message);
            assert_eq!(e.kind, ConditionErrorKind::Syntax);
        }
    }

    #[test]
    fn quoting_errors_point_at_the_opening_quote() {
        let e = error("host == 'abc");
        assert_eq!(e.position, 8);
        assert!(e.message.contains("unterminated"), "{}", e.message);
        let e = error("host == ''");
        assert_eq!(e.position, 8);
        assert!(e.message.contains("empty"), "{}", e.message);
    }

    #[test]
    fn raw_acl_errors() {
        let e = error("< hdr(x) y");
        assert_eq!(e.position, 10);
        assert!(
            e.message.contains("'>' closing the raw ACL opened at position 0"),
            "{}",
            e.message
        );
        let e = error("< a < b >");
        assert_eq!(e.position, 4);
        let e = error("<   >");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("empty raw ACL"), "{}", e.message);
    }

    #[test]
    fn long_or_odd_offending_text_is_shortened_and_escaped() {
        let e = error(&format!("{} == x", "a".repeat(40)));
        assert!(
            e.message
                .ends_with(&format!("found '{}…'", "a".repeat(FOUND_WIDTH))),
            "{}",
            e.message
        );
        let e = error("host == a \u{7}");
        assert!(e.message.ends_with("found '\\u{7}'"), "{}", e.message);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_as_too_complex() {
        let ok = format!("{}has cookie a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&ok).unwrap(), cookie("a"));
        let deep = format!(
            "{}has cookie a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let e = error(&deep);
        assert_eq!((e.kind, e.position), (ConditionErrorKind::TooComplex, MAX_DEPTH));
        let e = error(&format!("{}has cookie a", "!".repeat(MAX_DEPTH + 1)));
        assert_eq!(e.kind, ConditionErrorKind::TooComplex);
        let hostile = "(".repeat(100_000);
        assert_eq!(error(&hostile).kind, ConditionErrorKind::TooComplex);
    }

    #[test]
    fn long_flat_conditions_do_not_nest() {
        let text = vec!["has cookie a"; MAX_OPERANDS].join(" and ");
        match parse(&text).unwrap() {
            Expr::And(children) => assert_eq!(children.len(), MAX_OPERANDS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn more_operands_than_the_limit_are_refused_as_too_complex() {
        let text = vec!["has cookie a"; MAX_OPERANDS + 1].join(" or ");
        let e = error(&text);
        assert_eq!(e.kind, ConditionErrorKind::TooComplex);
        assert_eq!(e.position, MAX_OPERANDS * "has cookie a or ".len());
        assert!(e.message.contains("more than 1024 operands"), "{}", e.message);
    }
}
