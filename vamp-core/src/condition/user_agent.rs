//! The user-agent shortcuts of the original (`user-agents.yml`): well-known browser names that stand for a
//! more precise user-agent test.
//!
//! Matched ignoring case: `Chrome`, `Firefox` and `Edge` become a substring test on that word as spelled here,
//! `IE` becomes `MSIE`, and `Safari` becomes `Safari` AND `Version` (Chrome's user agent also says "Safari").
//! Any other value stays as written. This is a separate step from [`super::normal_form`], which is purely
//! algebraic; [`super::compile`] runs both.

use super::expr::{Expr, Operand};

/// `expr` with every user-agent shortcut replaced by what it stands for. Negations stay where they are:
/// `user-agent != Safari` becomes NOT (Safari AND Version). Recursion is as deep as the tree, which [`super::parse`]
/// bounds.
pub fn expand_user_agents(expr: &Expr) -> Expr {
    match expr {
        Expr::Operand(Operand::UserAgent(value)) => expand(value),
        Expr::Operand(other) => Expr::Operand(other.clone()),
        Expr::Not(inner) => Expr::Not(Box::new(expand_user_agents(inner))),
        Expr::And(children) => Expr::And(children.iter().map(expand_user_agents).collect()),
        Expr::Or(children) => Expr::Or(children.iter().map(expand_user_agents).collect()),
    }
}

fn expand(value: &str) -> Expr {
    let agent = |v: &str| Expr::Operand(Operand::UserAgent(v.to_string()));
    match value.to_ascii_lowercase().as_str() {
        "chrome" => agent("Chrome"),
        "firefox" => agent("Firefox"),
        "edge" => agent("Edge"),
        "ie" => agent("MSIE"),
        "safari" => Expr::And(vec![agent("Safari"), agent("Version")]),
        _ => agent(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::parse;

    fn expanded(text: &str) -> String {
        expand_user_agents(&parse(text).unwrap()).to_string()
    }

    #[test]
    fn browser_names_are_matched_ignoring_case_and_spelled_canonically() {
        assert_eq!(expanded("user-agent == chrome"), "user-agent == Chrome");
        assert_eq!(expanded("user-agent == FIREFOX"), "user-agent == Firefox");
        assert_eq!(expanded("user-agent == edge"), "user-agent == Edge");
    }

    #[test]
    fn ie_stands_for_msie() {
        assert_eq!(expanded("user-agent == ie"), "user-agent == MSIE");
    }

    #[test]
    fn safari_requires_safari_and_version() {
        assert_eq!(
            expanded("User-Agent = Safari"),
            "user-agent == Safari and user-agent == Version"
        );
        assert_eq!(
            expanded("user-agent != safari"),
            "not (user-agent == Safari and user-agent == Version)"
        );
    }

    #[test]
    fn other_values_and_other_operands_are_kept_as_written() {
        assert_eq!(expanded("user-agent == iOS"), "user-agent == iOS");
        assert_eq!(expanded("user-agent == chromium"), "user-agent == chromium");
        assert_eq!(expanded("host == chrome"), "host == chrome");
        assert_eq!(
            expanded("header User-Agent has chrome"),
            "header User-Agent has chrome"
        );
    }
}
