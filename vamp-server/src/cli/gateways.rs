//! `vamp update-gateway`: reads a gateway, changes its route weights or one route's condition, and writes it
//! back (`PUT /api/v1/gateways/{name}`).

use clap::ArgMatches;
use reqwest::Method;
use serde_json::Value;

use super::artifacts::{arg, report};
use super::client::{path_segment, Client};
use super::exit::{CliError, CliResult};
use super::output::{Console, Format};

/// `vamp update-gateway NAME --weights R@90%,R2@10%` or `--route R --condition C [--strength 50%]`.
pub async fn update_gateway(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let name = arg(args, "name")?;
    let weights = super::opt(args, "weights");
    let route = super::opt(args, "route");
    let condition = super::opt(args, "condition");
    let strength = super::opt(args, "strength");
    if weights.is_some() && (route.is_some() || condition.is_some() || strength.is_some()) {
        return Err(CliError::usage(
            "--weights and --route/--condition/--strength cannot be combined",
        ));
    }
    let weights = weights.map(|w| parse_weights(w)).transpose()?;
    if weights.is_none() && route.is_none() {
        return Err(CliError::usage(
            "Give --weights, or --route with --condition and/or --strength",
        ));
    }
    if route.is_some() && condition.is_none() && strength.is_none() {
        return Err(CliError::usage("--route needs --condition and/or --strength"));
    }
    let segment = path_segment(name);
    let mut gateway = client
        .get_existing(&format!("gateways/{segment}"), &format!("gateway '{name}'"))
        .await?;
    let routes = gateway
        .get_mut("routes")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| CliError::Failed(format!("gateway '{name}' has no routes")))?;
    let keys: Vec<String> = routes.keys().cloned().collect();
    if let Some(weights) = weights {
        for (given, weight) in weights {
            let key = find_route(&keys, &given, name)?;
            if let Some(Value::Object(r)) = routes.get_mut(&key) {
                r.insert("weight".into(), Value::String(weight));
            } else {
                routes.insert(key, serde_json::json!({ "weight": weight }));
            }
        }
    } else if let Some(given) = route {
        let key = find_route(&keys, given, name)?;
        let entry = routes
            .entry(key)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(serde_json::Map::new());
        }
        if let Some(r) = entry.as_object_mut() {
            if let Some(c) = condition {
                if c == "null" || c.is_empty() {
                    r.remove("condition");
                    r.remove("condition_strength");
                } else {
                    r.insert("condition".into(), Value::String(c.clone()));
                }
            }
            if let Some(s) = strength {
                r.insert("condition_strength".into(), Value::String(percent(s)?));
            }
        }
    }
    let query = if super::flag(args, "validate-only") {
        "?validate_only=true"
    } else {
        ""
    };
    let answer = client
        .send(Method::PUT, &format!("gateways/{segment}{query}"), Some(&gateway))
        .await?;
    report(
        console,
        format,
        &answer.body,
        &format!("gateway '{name}' updated"),
    )
}

/// Reads `a@90%,b@10%` (also `a=90`, `a=90%`) into route names and weights (`90%`).
pub fn parse_weights(text: &str) -> CliResult<Vec<(String, String)>> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (route, weight) = part
                .rsplit_once('@')
                .or_else(|| part.rsplit_once('='))
                .ok_or_else(|| {
                    CliError::usage(format!("'{part}' is not ROUTE@WEIGHT% (e.g. sava:1.0@90%)"))
                })?;
            Ok((route.trim().to_string(), percent(weight)?))
        })
        .collect()
}

fn percent(text: &str) -> CliResult<String> {
    let t = text.trim().trim_end_matches('%');
    match t.parse::<u32>() {
        Ok(n) if n <= 100 => Ok(format!("{n}%")),
        _ => Err(CliError::usage(format!(
            "'{text}' is not a percentage from 0% to 100%"
        ))),
    }
}

/// The route key of the gateway that `given` names: the key itself, or the only key with a `/`-separated
/// segment or suffix equal to it (so `sava:1.1` finds `shop/sava/sava:1.1/web`).
pub fn find_route(keys: &[String], given: &str, gateway: &str) -> CliResult<String> {
    if keys.iter().any(|k| k == given) {
        return Ok(given.to_string());
    }
    let matches: Vec<&String> = keys
        .iter()
        .filter(|k| k.split('/').any(|seg| seg == given) || k.ends_with(&format!("/{given}")))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CliError::usage(format!(
            "gateway '{gateway}' has no route '{given}'; its routes: {}",
            keys.join(", ")
        ))),
        many => Err(CliError::usage(format!(
            "'{given}' matches several routes of gateway '{gateway}': {}; give the full route",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_take_at_or_equals() {
        assert_eq!(
            parse_weights("sava:1.0@90%,sava:1.1=10").unwrap(),
            vec![
                ("sava:1.0".to_string(), "90%".to_string()),
                ("sava:1.1".to_string(), "10%".to_string())
            ]
        );
        assert!(parse_weights("sava:1.0").is_err());
        assert!(parse_weights("a@120%").is_err());
    }

    #[test]
    fn a_route_is_found_by_a_segment() {
        let keys = vec![
            "shop/sava/sava:1.0/web".to_string(),
            "shop/sava/sava:1.1/web".to_string(),
        ];
        assert_eq!(
            find_route(&keys, "sava:1.1", "g").unwrap(),
            "shop/sava/sava:1.1/web"
        );
        assert!(find_route(&keys, "web", "g").is_err());
        assert!(find_route(&keys, "nope", "g").is_err());
    }
}
