//! The condition language of routes: parser to an [`Expr`], normal form as OR of ANDs, and errors that give the position of what could not be parsed. No HAProxy knowledge lives here.
//!
//! The steps are [`parse`] (or [`parse_optional`], where blank text means "no condition"), then
//! [`expand_user_agents`] (the browser-name shortcuts), then [`normal_form`]; [`compile`] runs all three.
//! `docs/conditions.md` describes the language.

mod expr;
mod normal_form;
mod parser;
mod user_agent;

pub use expr::{Expr, Operand};
pub use normal_form::{normal_form, Literal, NormalForm, MAX_TERMS};
pub use parser::{parse, parse_optional, MAX_DEPTH, MAX_OPERANDS};
pub use user_agent::expand_user_agents;

use crate::dsl::{ArtifactId, DslError, ErrorCode};

/// Why a condition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionErrorKind {
    /// The text is not a condition.
    Syntax,
    /// The condition nests too deeply, has too many operands, or its normal form has too many terms.
    TooComplex,
}

/// A condition that could not be parsed or normalized. The message says what was expected where, e.g.
/// `expected an operand such as 'host == x' or '< raw acl >' at position 7, found 'android'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Syntax error or too complex.
    pub kind: ConditionErrorKind,
    /// 0-based character offset in the condition text of what could not be read; 0 for errors about the
    /// whole condition (a normal form with too many terms).
    pub position: usize,
    /// A sentence saying what is wrong and, for syntax errors, what was expected at `position` and what was found.
    pub message: String,
}

impl ConditionError {
    /// The error as a DSL error about the condition at `path` of `artifact`: [`ErrorCode::ConditionSyntaxError`]
    /// or [`ErrorCode::ConditionTooComplexError`], with the message (and so the position) kept.
    pub fn into_dsl(self, artifact: ArtifactId, path: &str) -> DslError {
        match self.kind {
            ConditionErrorKind::Syntax => DslError::new(
                ErrorCode::ConditionSyntaxError,
                artifact,
                path,
                format!("the condition cannot be read: {}", self.message),
            ),
            ConditionErrorKind::TooComplex => {
                DslError::new(ErrorCode::ConditionTooComplexError, artifact, path, self.message)
            }
        }
    }
}

/// Parses `input`, expands the user-agent shortcuts and computes the normal form. `Ok(None)` for blank text,
/// which means "no condition" (unlike a condition that always holds, which is `Some` of an always-true form).
pub fn compile(input: &str) -> Result<Option<NormalForm>, ConditionError> {
    parse_optional(input)?
        .map(|expr| normal_form(&expand_user_agents(&expr)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    fn gateway() -> ArtifactId {
        ArtifactId::new(Kind::Gateway, "shop")
    }

    #[test]
    fn syntax_errors_become_condition_syntax_errors_with_the_position() {
        let e = parse("host == a and android")
            .unwrap_err()
            .into_dsl(gateway(), "routes.web.condition");
        assert_eq!(e.code, ErrorCode::ConditionSyntaxError);
        assert_eq!(e.artifact, gateway());
        assert_eq!(e.path, "routes.web.condition");
        assert!(
            e.message.contains("at position 14, found 'android'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_complex_errors_become_condition_too_complex_errors() {
        let deep = format!("{}has cookie a", "not ".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).unwrap_err().into_dsl(gateway(), "condition");
        assert_eq!(e.code, ErrorCode::ConditionTooComplexError);
        assert!(
            e.message.contains(&format!("at position {}", 4 * MAX_DEPTH)),
            "{}",
            e.message
        );
    }

    #[test]
    fn compile_expands_shortcuts_and_normalizes() {
        let nf = compile("(user-agent == chrome or user-agent == safari) and has cookie vamp")
            .unwrap()
            .unwrap();
        assert_eq!(
            nf.to_string(),
            "user-agent == Chrome and has cookie vamp or user-agent == Safari and user-agent == Version and has \
             cookie vamp"
        );
    }

    #[test]
    fn compile_tells_no_condition_from_one_that_always_holds() {
        assert_eq!(compile("  ").unwrap(), None);
        assert_eq!(
            compile("has cookie a or misses cookie a").unwrap(),
            Some(NormalForm::always_true())
        );
    }
}
