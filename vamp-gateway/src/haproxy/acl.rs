//! Route conditions as HAProxy ACLs: each distinct operand of the condition's normal form becomes one named
//! `acl` line, and the condition an OR of terms, each a space-separated AND of ACL names (`!name` negated).

use serde::Serialize;
use vamp_core::condition::{compile, NormalForm, Operand};
use vamp_core::Result;

use super::escape::{header_name, quoted, raw, Site};

/// One `acl <name> <definition>` line of a frontend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acl {
    /// `a_` and the first 16 hex digits of the SHA-1 of the definition: equal definitions share one name.
    pub name: String,
    /// The ACL's criterion and pattern, already escaped or checked.
    pub definition: String,
}

/// A condition as HAProxy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledCondition {
    /// The ACLs it refers to, each once, sorted by operand.
    pub acls: Vec<Acl>,
    /// The OR terms: each the ACL names that must all hold, `!name` for a negated one. One empty term means the
    /// condition always holds; no term means it never does.
    pub terms: Vec<String>,
}

/// Compiles the condition text at `site`. Refuses (with `Invalid` naming the site) a condition that does not
/// parse, a header or cookie name that is not a token, a value with a control character, and a raw ACL when
/// `allow_raw_acls` is false or when it is not balanced (see [`raw`]). `None` for blank text.
pub fn compile_condition(
    site: Site<'_>,
    text: &str,
    allow_raw_acls: bool,
) -> Result<Option<CompiledCondition>> {
    let form = compile(text).map_err(|e| site.invalid(format!("the condition cannot be used: {e}")))?;
    form.map(|form| compile_form(site, &form, allow_raw_acls))
        .transpose()
}

fn compile_form(site: Site<'_>, form: &NormalForm, allow_raw_acls: bool) -> Result<CompiledCondition> {
    let operands = form.operands();
    let mut acls = Vec::with_capacity(operands.len());
    for operand in &operands {
        let definition = definition(site, operand, allow_raw_acls)?;
        acls.push(Acl {
            name: acl_name(&definition),
            definition,
        });
    }
    let name_of = |operand: &Operand| {
        operands
            .iter()
            .position(|o| *o == operand)
            .and_then(|i| acls.get(i))
            .map(|a| a.name.as_str())
            .unwrap_or_default()
    };
    let terms = form
        .terms
        .iter()
        .map(|term| {
            term.iter()
                .map(|l| format!("{}{}", if l.negated { "!" } else { "" }, name_of(&l.operand)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    Ok(CompiledCondition { acls, terms })
}

/// The HAProxy criterion and pattern testing `operand` (vamp-edge.md §6.2, with values quoted). Every pattern
/// follows `--`, HAProxy's end of flags, so a value such as `-i` or `-f` stays a pattern (the quotes alone do
/// not: HAProxy removes them before it reads flags).
fn definition(site: Site<'_>, operand: &Operand, allow_raw_acls: bool) -> Result<String> {
    Ok(match operand {
        Operand::Host(v) => format!("req.hdr(host) -i -- {}", quoted(site, v)?),
        Operand::UserAgent(v) => format!("req.fhdr(User-Agent) -m sub -- {}", quoted(site, v)?),
        Operand::Cookie(n) => format!("req.cook({}) -m found", header_name(site, n)?),
        Operand::Header(n) => format!("req.hdr_cnt({}) gt 0", header_name(site, n)?),
        Operand::CookieContains { name, value } => {
            format!(
                "req.cook({}) -m sub -- {}",
                header_name(site, name)?,
                quoted(site, value)?
            )
        }
        Operand::HeaderContains { name, value } => {
            format!(
                "req.fhdr({}) -m sub -- {}",
                header_name(site, name)?,
                quoted(site, value)?
            )
        }
        Operand::Raw(text) => {
            if !allow_raw_acls {
                return Err(site.invalid(format!(
                    "the raw ACL '< {} >' is refused: raw ACLs are switched off (allow_raw_acls = false; for `vamp serve` the setting gateways.allow-raw-acls).",
                    text.escape_debug()
                )));
            }
            raw(site, text)?
        }
    })
}

fn acl_name(definition: &str) -> String {
    format!("a_{}", super::model::short_hash(definition))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: Site<'static> = Site {
        gateway: "gw",
        route: Some("r"),
        field: "condition",
    };

    fn compiled(text: &str) -> CompiledCondition {
        compile_condition(SITE, text, true).unwrap().unwrap()
    }

    #[test]
    fn operands_become_acls_and_terms_join_names() {
        let c = compiled("(user-agent == chrome or user-agent == firefox) and has cookie vamp");
        let defs: Vec<&str> = c.acls.iter().map(|a| a.definition.as_str()).collect();
        assert_eq!(
            defs,
            [
                "req.fhdr(User-Agent) -m sub -- \"Chrome\"",
                "req.fhdr(User-Agent) -m sub -- \"Firefox\"",
                "req.cook(vamp) -m found"
            ]
        );
        let (chrome, firefox, cookie) = (&c.acls[0].name, &c.acls[1].name, &c.acls[2].name);
        assert_eq!(
            c.terms,
            [format!("{chrome} {cookie}"), format!("{firefox} {cookie}")]
        );
    }

    #[test]
    fn negations_use_the_bang() {
        let c = compiled("misses header X-Beta");
        assert_eq!(c.acls[0].definition, "req.hdr_cnt(X-Beta) gt 0");
        assert_eq!(c.terms, [format!("!{}", c.acls[0].name)]);
    }

    #[test]
    fn every_operand_has_its_definition() {
        let c = compiled("host == Shop.COM and cookie group has \"be\"\"ta\" and header X-A has \"$x #y\" and has header H and < path_beg /v2 >");
        let defs: Vec<&str> = c.acls.iter().map(|a| a.definition.as_str()).collect();
        assert_eq!(
            defs,
            [
                "req.hdr(host) -i -- \"Shop.COM\"",
                "req.hdr_cnt(H) gt 0",
                "req.cook(group) -m sub -- \"be\\\"ta\"",
                "req.fhdr(X-A) -m sub -- \"\\$x #y\"",
                "path_beg /v2"
            ]
        );
    }

    #[test]
    fn constants_have_one_empty_term_or_none() {
        assert_eq!(compiled("has cookie a or misses cookie a").terms, [""]);
        assert!(compiled("has cookie a and misses cookie a").terms.is_empty());
        assert!(compile_condition(SITE, "  ", true).unwrap().is_none());
    }

    #[test]
    fn raw_acls_can_be_switched_off() {
        let e = compile_condition(SITE, "< hdr_sub(user-agent) Android >", false).unwrap_err();
        assert!(e.message().contains("allow_raw_acls"), "{}", e.message());
        assert!(compile_condition(SITE, "< hdr(x) # comment >", true).is_err());
    }

    #[test]
    fn unparsable_conditions_name_the_site() {
        let e = compile_condition(SITE, "host ==", true).unwrap_err();
        assert!(
            e.message()
                .starts_with("Gateway 'gw', route 'r', field 'condition'"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn bad_header_names_are_refused() {
        assert!(compile_condition(SITE, "has header \"a#b\"", true).is_err());
        assert!(compile_condition(SITE, "has cookie \"a b\"", true).is_err());
    }
}
