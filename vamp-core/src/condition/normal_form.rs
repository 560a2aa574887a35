//! The disjunctive normal form of a condition: an OR of ANDs of possibly negated operands, which is what an
//! HAProxy `use_backend … if` line can express.
//!
//! Computed algebraically (negations pushed to the operands by De Morgan, AND distributed over OR), not by the
//! original's truth table over every operand (2^n rows). Each step keeps the terms small: duplicate literals
//! merge, a term holding an operand and its negation is dropped, a term that contains every literal of another
//! term is absorbed by it, and two terms that differ only in the sign of one operand merge into their common part
//! (so `x or not x` is always true). The result is equivalent to the condition and deterministic for a given tree,
//! but not guaranteed to be the smallest possible (that problem is NP-hard), and two equivalent trees written
//! differently may give different, equivalent forms. The number of terms is capped at [`MAX_TERMS`] so a hostile condition cannot explode.
//! Operands are independent variables here: `has cookie a` and `cookie a has x` are not known to be related.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use super::expr::{Expr, Operand};
use super::{ConditionError, ConditionErrorKind};

/// Most terms a normal form may have.
pub const MAX_TERMS: usize = 256;

/// Most terms held while one AND or OR is being combined, before absorption has had its full say.
const MAX_WORKING_TERMS: usize = 4 * MAX_TERMS;

/// Deepest tree accepted; trees from [`super::parse`] stay far below it.
const MAX_TREE_DEPTH: usize = 256;

/// An operand, or its negation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Literal {
    /// Whether the operand must NOT hold.
    pub negated: bool,
    /// The test.
    pub operand: Operand,
}

impl Ord for Literal {
    /// By operand, then the positive literal before the negative one.
    fn cmp(&self, other: &Self) -> Ordering {
        self.operand
            .cmp(&other.operand)
            .then(self.negated.cmp(&other.negated))
    }
}

impl PartialOrd for Literal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Literal {
    /// The operand's condition text, in its negative spelling when negated (`misses cookie a`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            self.operand.fmt_negated(f)
        } else {
            self.operand.fmt(f)
        }
    }
}

/// An OR of terms, each an AND of literals.
///
/// No terms means always false; a term without literals means always true (and is then the only term). Terms
/// have no duplicate or contradictory literals, none contains another, no two differ only in the sign of one
/// operand, and they are sorted: literals within a term by
/// [`Literal`]'s order, terms lexicographically by their literals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalForm {
    /// The terms, any of which suffices.
    pub terms: Vec<Vec<Literal>>,
}

impl NormalForm {
    /// The condition that always holds.
    pub fn always_true() -> Self {
        NormalForm {
            terms: vec![Vec::new()],
        }
    }

    /// The condition that never holds.
    pub fn always_false() -> Self {
        NormalForm { terms: Vec::new() }
    }

    /// Whether it always holds.
    pub fn is_always_true(&self) -> bool {
        self.terms.iter().any(Vec::is_empty)
    }

    /// Whether it never holds.
    pub fn is_always_false(&self) -> bool {
        self.terms.is_empty()
    }

    /// The distinct operands it tests, sorted: one HAProxy ACL each.
    pub fn operands(&self) -> Vec<&Operand> {
        let set: BTreeSet<&Operand> = self.terms.iter().flatten().map(|l| &l.operand).collect();
        set.into_iter().collect()
    }
}

impl fmt::Display for NormalForm {
    /// Terms joined by ` or `, literals by ` and `; `true` and `false` for the constants, which are not condition
    /// text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_always_false() {
            return f.write_str("false");
        }
        if self.is_always_true() {
            return f.write_str("true");
        }
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            for (j, literal) in term.iter().enumerate() {
                if j > 0 {
                    f.write_str(" and ")?;
                }
                write!(f, "{literal}")?;
            }
        }
        Ok(())
    }
}

/// The normal form of `expr`. User-agent shortcuts are NOT expanded here; see [`super::expand_user_agents`] and
/// [`super::compile`]. Fails with [`ConditionErrorKind::TooComplex`] (position 0) when it, or any step of
/// computing it, needs more than [`MAX_TERMS`] terms.
pub fn normal_form(expr: &Expr) -> Result<NormalForm, ConditionError> {
    let mut terms: Vec<Vec<Literal>> = dnf(expr, false, 0)?
        .into_iter()
        .map(|t| t.into_iter().collect())
        .collect();
    terms.sort();
    Ok(NormalForm { terms })
}

type Term = BTreeSet<Literal>;

fn dnf(expr: &Expr, negated: bool, depth: usize) -> Result<Vec<Term>, ConditionError> {
    if depth > MAX_TREE_DEPTH {
        return Err(too_complex(format!(
            "the condition nests deeper than {MAX_TREE_DEPTH} levels"
        )));
    }
    match (expr, negated) {
        (Expr::Operand(operand), _) => Ok(vec![Term::from([Literal {
            negated,
            operand: operand.clone(),
        }])]),
        (Expr::Not(inner), _) => dnf(inner, !negated, depth + 1),
        (Expr::And(children), false) | (Expr::Or(children), true) => {
            let mut common = Term::new();
            let mut alternatives = Vec::new();
            for child in children {
                let mut terms = dnf(child, negated, depth + 1)?;
                if terms.len() > 1 {
                    alternatives.push(terms);
                    continue;
                }
                let Some(term) = terms.pop() else {
                    return Ok(Vec::new());
                };
                for literal in term {
                    if !add_literal(&mut common, literal) {
                        return Ok(Vec::new());
                    }
                }
            }
            let mut terms = vec![common];
            for alternative in &alternatives {
                terms = product(&terms, alternative)?;
                if terms.is_empty() {
                    break;
                }
            }
            Ok(terms)
        }
        (Expr::Or(children), false) | (Expr::And(children), true) => {
            let mut terms = Antichain::default();
            for child in children {
                for term in dnf(child, negated, depth + 1)? {
                    terms.insert(term)?;
                }
            }
            terms.finish()
        }
    }
}

/// Adds `literal` to `term`; `false` when the term already holds its negation.
fn add_literal(term: &mut Term, literal: Literal) -> bool {
    let opposite = Literal {
        negated: !literal.negated,
        operand: literal.operand.clone(),
    };
    if term.contains(&opposite) {
        return false;
    }
    term.insert(literal);
    true
}

/// The AND of two normal forms: every term of one joined with every term of the other.
fn product(left: &[Term], right: &[Term]) -> Result<Vec<Term>, ConditionError> {
    let mut terms = Antichain::default();
    for l in left {
        for r in right {
            terms.insert(l.union(r).cloned().collect())?;
        }
    }
    terms.finish()
}

/// Terms none of which contains another, without contradictions.
#[derive(Default)]
struct Antichain {
    terms: Vec<Term>,
}

impl Antichain {
    /// Adds `term` unless it is contradictory or absorbed, removes the terms it absorbs, and merges it with a
    /// term that differs from it only in the sign of one operand (`x and t or not x and t` is `t`).
    fn insert(&mut self, mut term: Term) -> Result<(), ConditionError> {
        loop {
            if is_contradictory(&term) || self.terms.iter().any(|t| t.is_subset(&term)) {
                return Ok(());
            }
            match self.terms.iter().position(|t| differ_in_one_sign(t, &term)) {
                Some(i) => {
                    let other = self.terms.swap_remove(i);
                    term = term.intersection(&other).cloned().collect();
                }
                None => break,
            }
        }
        self.terms.retain(|t| !term.is_subset(t));
        self.terms.push(term);
        if self.terms.len() > MAX_WORKING_TERMS {
            return Err(too_many_terms());
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Term>, ConditionError> {
        if self.terms.len() > MAX_TERMS {
            return Err(too_many_terms());
        }
        Ok(self.terms)
    }
}

/// Whether the term holds an operand both plain and negated; they sort next to each other.
fn is_contradictory(term: &Term) -> bool {
    term.iter()
        .zip(term.iter().skip(1))
        .any(|(a, b)| a.operand == b.operand)
}

/// Whether `a` and `b` hold the same literals but for one operand, plain in one and negated in the other.
fn differ_in_one_sign(a: &Term, b: &Term) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut only_a = a.difference(b);
    let mut only_b = b.difference(a);
    match (only_a.next(), only_b.next(), only_a.next(), only_b.next()) {
        (Some(x), Some(y), None, None) => x.operand == y.operand,
        _ => false,
    }
}

fn too_many_terms() -> ConditionError {
    too_complex(format!(
        "the condition is too complex: its normal form (an OR of ANDs) needs more than {MAX_TERMS} terms; \
         simplify it or split it over several routes"
    ))
}

fn too_complex(message: String) -> ConditionError {
    ConditionError {
        kind: ConditionErrorKind::TooComplex,
        position: 0,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::parse;

    fn nf(text: &str) -> NormalForm {
        normal_form(&parse(text).unwrap()).unwrap()
    }

    fn leaves(expr: &Expr, out: &mut BTreeSet<Operand>) {
        match expr {
            Expr::Operand(o) => {
                out.insert(o.clone());
            }
            Expr::Not(e) => leaves(e, out),
            Expr::And(cs) | Expr::Or(cs) => cs.iter().for_each(|c| leaves(c, out)),
        }
    }

    fn eval(expr: &Expr, truth: &dyn Fn(&Operand) -> bool) -> bool {
        match expr {
            Expr::Operand(o) => truth(o),
            Expr::Not(e) => !eval(e, truth),
            Expr::And(cs) => cs.iter().all(|c| eval(c, truth)),
            Expr::Or(cs) => cs.iter().any(|c| eval(c, truth)),
        }
    }

    fn eval_nf(form: &NormalForm, truth: &dyn Fn(&Operand) -> bool) -> bool {
        form.terms
            .iter()
            .any(|t| t.iter().all(|l| truth(&l.operand) != l.negated))
    }

    /// Asserts that `expr` and its normal form agree on every assignment of truth values to the operands.
    fn assert_equivalent(expr: &Expr) {
        let form = normal_form(expr).unwrap();
        let mut set = BTreeSet::new();
        leaves(expr, &mut set);
        let operands: Vec<Operand> = set.into_iter().collect();
        assert!(operands.len() <= 12, "too many operands to enumerate");
        for row in 0u32..(1 << operands.len()) {
            let truth = |o: &Operand| {
                let i = operands.iter().position(|x| x == o).unwrap();
                row & (1 << i) != 0
            };
            assert_eq!(
                eval(expr, &truth),
                eval_nf(&form, &truth),
                "{expr} vs {form} on row {row:b}"
            );
        }
        assert_minimal_and_sorted(&form);
    }

    fn assert_minimal_and_sorted(form: &NormalForm) {
        for term in &form.terms {
            assert!(
                term.windows(2).all(|w| w[0] < w[1]),
                "literals sorted and distinct in {form}"
            );
            assert!(
                term.windows(2).all(|w| w[0].operand != w[1].operand),
                "no contradiction in {form}"
            );
        }
        assert!(
            form.terms.windows(2).all(|w| w[0] < w[1]),
            "terms sorted and distinct in {form}"
        );
        for (i, a) in form.terms.iter().enumerate() {
            for (j, b) in form.terms.iter().enumerate() {
                if i != j {
                    assert!(!a.iter().all(|l| b.contains(l)), "{a:?} absorbs {b:?} in {form}");
                    let (a, b) = (a.iter().cloned().collect(), b.iter().cloned().collect());
                    assert!(
                        !differ_in_one_sign(&a, &b),
                        "{a:?} and {b:?} should merge in {form}"
                    );
                }
            }
        }
    }

    #[test]
    fn normal_form_agrees_with_the_expression_on_every_assignment() {
        let texts = [
            "has cookie a",
            "not has cookie a",
            "has cookie a and has cookie b or has cookie c",
            "has cookie a and (has cookie b or has cookie c)",
            "not (has cookie a and (has cookie b or not has cookie c))",
            "(has cookie a or has cookie b) and (has cookie c or has cookie d) and (has cookie e or misses cookie a)",
            "not (not (host == x or host == y) and user-agent != z)",
            "(has cookie a or has cookie b) and not (has cookie a and has cookie b)",
            "has cookie a and misses cookie a or has header h",
            "(< r1 > or has cookie a) and (not < r1 > or has cookie b)",
            "cookie c has v or not (header h has v and cookie c misses v) and host == a",
        ];
        for text in texts {
            assert_equivalent(&parse(text).unwrap());
        }
    }

    /// A small deterministic generator: xorshift, no dependency.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn expr(&mut self, depth: u32) -> Expr {
            let choice = if depth == 0 { 0 } else { self.below(4) };
            match choice {
                0 => Expr::Operand(Operand::Cookie(
                    ["a", "b", "c", "d", "e"][self.below(5) as usize].into(),
                )),
                1 => Expr::Not(Box::new(self.expr(depth - 1))),
                2 => Expr::And((0..2 + self.below(2)).map(|_| self.expr(depth - 1)).collect()),
                _ => Expr::Or((0..2 + self.below(2)).map(|_| self.expr(depth - 1)).collect()),
            }
        }
    }

    #[test]
    fn normal_form_agrees_with_random_expressions() {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        for _ in 0..400 {
            let expr = random.expr(4);
            assert_equivalent(&expr);
            assert_eq!(
                parse(&expr.to_string()).unwrap(),
                expr,
                "display round trip of {expr}"
            );
        }
    }

    #[test]
    fn distribution_gives_an_or_of_ands() {
        assert_eq!(
            nf("(has cookie a or has cookie b) and has cookie c").to_string(),
            "has cookie a and has cookie c or has cookie b and has cookie c"
        );
    }

    #[test]
    fn de_morgan_pushes_negations_to_the_operands() {
        assert_eq!(
            nf("not (has cookie a or has cookie b)").to_string(),
            "misses cookie a and misses cookie b"
        );
        assert_eq!(
            nf("not (has cookie a and has cookie b)").to_string(),
            "misses cookie a or misses cookie b"
        );
        assert_eq!(nf("not not has cookie a").to_string(), "has cookie a");
    }

    #[test]
    fn duplicate_literals_and_terms_merge() {
        assert_eq!(nf("has cookie a and has cookie a").to_string(), "has cookie a");
        assert_eq!(nf("host == x or host == x").to_string(), "host == x");
    }

    #[test]
    fn contradictory_terms_are_dropped() {
        assert!(nf("has cookie a and misses cookie a").is_always_false());
        assert_eq!(
            nf("has cookie a and misses cookie a or has header h").to_string(),
            "has header h"
        );
        assert_eq!(
            nf("host == x and not host == x").terms,
            Vec::<Vec<Literal>>::new()
        );
    }

    #[test]
    fn tautologies_become_always_true() {
        let form = nf("has cookie a or misses cookie a");
        assert!(form.is_always_true());
        assert_eq!(form, NormalForm::always_true());
        assert_eq!(
            nf("has cookie a or misses cookie a or host == b"),
            NormalForm::always_true()
        );
    }

    #[test]
    fn absorption_removes_terms_that_contain_another() {
        assert_eq!(
            nf("has cookie a or has cookie a and has cookie b").to_string(),
            "has cookie a"
        );
        assert_eq!(
            nf("has cookie a and (has cookie a or has cookie b)").to_string(),
            "has cookie a"
        );
        assert_eq!(
            nf("has cookie a and has cookie b and has cookie c or has cookie b and has cookie a").to_string(),
            "has cookie a and has cookie b"
        );
    }

    #[test]
    fn terms_differing_in_one_sign_merge() {
        assert_eq!(
            nf("has cookie a and host == x or has cookie a and host != x").to_string(),
            "has cookie a"
        );
        assert_eq!(
            nf("(has cookie a or has cookie b) and (has cookie a or misses cookie b)").to_string(),
            "has cookie a"
        );
    }

    #[test]
    fn order_is_deterministic_whatever_the_written_order() {
        let a = nf("has header h and host == x or user-agent == y and has cookie c");
        let b = nf("has cookie c and user-agent == y or host == x and has header h");
        assert_eq!(a, b);
        assert_eq!(
            a.to_string(),
            "host == x and has header h or user-agent == y and has cookie c"
        );
    }

    #[test]
    fn operands_lists_each_distinct_test_once() {
        let form = nf("(has cookie a or host == x) and has header h");
        let expected = [
            Operand::Host("x".into()),
            Operand::Cookie("a".into()),
            Operand::Header("h".into()),
        ];
        assert_eq!(form.operands(), expected.iter().collect::<Vec<_>>());
    }

    #[test]
    fn empty_and_and_or_are_the_constants() {
        assert_eq!(
            normal_form(&Expr::And(vec![])).unwrap(),
            NormalForm::always_true()
        );
        assert_eq!(
            normal_form(&Expr::Or(vec![])).unwrap(),
            NormalForm::always_false()
        );
        assert_eq!(
            normal_form(&Expr::Not(Box::new(Expr::Or(vec![])))).unwrap(),
            NormalForm::always_true()
        );
        assert_eq!(NormalForm::always_false().to_string(), "false");
        assert_eq!(NormalForm::always_true().to_string(), "true");
    }

    #[test]
    fn the_term_limit_is_reached_exactly_past_max_terms() {
        let factor = |i: usize| format!("(has cookie a{i} or has cookie b{i})");
        let at_limit: Vec<String> = (0..8).map(factor).collect();
        assert_eq!(nf(&at_limit.join(" and ")).terms.len(), MAX_TERMS);
        let past_limit: Vec<String> = (0..9).map(factor).collect();
        let e = normal_form(&parse(&past_limit.join(" and ")).unwrap()).unwrap_err();
        assert_eq!((e.kind, e.position), (ConditionErrorKind::TooComplex, 0));
        assert!(e.message.contains("more than 256 terms"), "{}", e.message);
    }

    #[test]
    fn hostile_products_fail_fast_instead_of_exploding() {
        let factor = |i: usize| format!("(has cookie a{i} or has cookie b{i} or has cookie c{i})");
        let text: Vec<String> = (0..40).map(factor).collect();
        let e = normal_form(&parse(&text.join(" and ")).unwrap()).unwrap_err();
        assert_eq!(e.kind, ConditionErrorKind::TooComplex);
    }

    #[test]
    fn absorption_keeps_large_but_collapsing_products_within_the_limit() {
        let or_of = |prefix: &str| {
            (0..200)
                .map(|i| format!("has cookie {prefix}{i}"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let text = format!("({}) and ({})", or_of("a"), or_of("a"));
        assert_eq!(nf(&text).terms.len(), 200);
    }

    #[test]
    fn trees_deeper_than_the_limit_are_refused() {
        let mut expr = Expr::Operand(Operand::Cookie("a".into()));
        for _ in 0..=MAX_TREE_DEPTH {
            expr = Expr::Not(Box::new(expr));
        }
        assert_eq!(
            normal_form(&expr).unwrap_err().kind,
            ConditionErrorKind::TooComplex
        );
    }
}
