//! Checking the raw HAProxy text of routing before it is stored: the conditions (raw ACLs `< … >`) and
//! rewrites of gateways, routes, conditions and rewrites, so an API can refuse at write time what the marshaller
//! would refuse later. Raw text is refused unless `allow_raw_acls`, and even then when it could read files or
//! the environment ([`super::escape::reads_beyond_the_request`]).

use vamp_core::model::{Condition, Gateway, Ref, Rewrite, Route};
use vamp_core::{Error, Result};

use super::acl::compile_condition;
use super::escape::{raw, Site};

/// Checks the inline conditions and rewrites of every route of `gateway`. `Invalid` naming the gateway, the
/// route, the field and the text.
pub fn check_gateway(gateway: &Gateway, allow_raw_acls: bool) -> Result<()> {
    for route in &gateway.routes {
        if let Some(routing) = route.inline() {
            check_routing(&gateway.name, Some(&route.path.0), routing, allow_raw_acls)?;
        }
    }
    Ok(())
}

/// Checks a stored route artifact's inline condition and rewrites. `Invalid` naming the route.
pub fn check_route(route: &Route, allow_raw_acls: bool) -> Result<()> {
    check_routing(&route.name, None, route, allow_raw_acls).map_err(|e| renamed(e, "Route"))
}

/// Checks a stored condition artifact. `Invalid` naming the condition.
pub fn check_condition(condition: &Condition, allow_raw_acls: bool) -> Result<()> {
    let site = Site {
        gateway: &condition.name,
        route: None,
        field: "definition",
    };
    compile_condition(site, &condition.definition, allow_raw_acls)
        .map(drop)
        .map_err(|e| renamed(e, "Condition"))
}

/// Checks a stored rewrite artifact. `Invalid` naming the rewrite.
pub fn check_rewrite(rewrite: &Rewrite, allow_raw_acls: bool) -> Result<()> {
    let site = Site {
        gateway: &rewrite.name,
        route: None,
        field: "condition",
    };
    rewrite_condition(site, rewrite, allow_raw_acls).map_err(|e| renamed(e, "Rewrite"))
}

fn check_routing(owner: &str, path: Option<&str>, routing: &Route, allow_raw_acls: bool) -> Result<()> {
    let site = |field| Site {
        gateway: owner,
        route: path,
        field,
    };
    if let Some(Ref::Inline(condition)) = &routing.condition {
        compile_condition(site("condition"), &condition.definition, allow_raw_acls)?;
    }
    for rewrite in &routing.rewrites {
        if let Ref::Inline(rewrite) = rewrite {
            rewrite_condition(site("rewrites"), rewrite, allow_raw_acls)?;
        }
    }
    Ok(())
}

fn rewrite_condition(site: Site<'_>, rewrite: &Rewrite, allow_raw_acls: bool) -> Result<()> {
    if !allow_raw_acls {
        return Err(site.invalid(format!(
            "the rewrite condition '{}' is raw HAProxy text, and raw ACLs are switched off (allow_raw_acls = false).",
            rewrite.condition.escape_debug()
        )));
    }
    raw(site, &rewrite.condition).map(drop)
}

fn renamed(e: Error, kind: &str) -> Error {
    match e.message().strip_prefix("Gateway ") {
        Some(rest) => Error::invalid(format!("{kind} {rest}")),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::samples::{conditional, gateway, route};
    use vamp_core::model::Protocol;

    fn with_condition(text: &str) -> Gateway {
        gateway(
            "shop",
            9050,
            Protocol::Http,
            vec![conditional(route("a/web", 100, &[("a", None, 1)]), text, 100)],
        )
    }

    #[test]
    fn raw_acls_are_refused_unless_allowed_naming_gateway_route_and_condition() {
        let g = with_condition("< path_beg /v2 >");
        let e = check_gateway(&g, false).unwrap_err();
        assert!(
            e.message()
                .starts_with("Gateway 'shop', route 'a/web', field 'condition'")
                && e.message().contains("path_beg /v2")
                && e.message().contains("allow_raw_acls"),
            "{}",
            e.message()
        );
        check_gateway(&g, true).unwrap();
        check_gateway(&with_condition("has cookie beta"), false).unwrap();
    }

    #[test]
    fn files_and_the_environment_are_refused_even_when_allowed() {
        for text in [
            r#"< hdr(x-guess) -m str "${SECRET}" >"#,
            "< path -f /etc/hostname >",
        ] {
            let e = check_gateway(&with_condition(text), true).unwrap_err();
            assert!(e.message().contains("Gateway 'shop'"), "{}", e.message());
        }
    }

    #[test]
    fn stored_conditions_are_named() {
        let mut c = Condition::inline("< path -f /x >");
        c.name = "beta".into();
        let e = check_condition(&c, true).unwrap_err();
        assert!(e.message().starts_with("Condition 'beta'"), "{}", e.message());
    }
}
