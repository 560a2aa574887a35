//! `vamp generate KIND`: a skeleton artifact to start from, or a stored artifact renamed (`--source`); a
//! deployment is generated from a stored blueprint.

use clap::ArgMatches;
use serde_json::{json, Value};

use super::artifacts::arg;
use vamp_core::model::Kind;

use super::client::{path_segment, Client};
use super::documents::parse_kind;
use super::exit::{CliError, CliResult};
use super::output::{Console, Format};

/// Prints the generated artifact (YAML unless `-o json`).
pub async fn generate(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let kind = arg(args, "kind")?;
    let opt = |n: &str| super::opt(args, n).cloned();
    let mut artifact = match opt("source") {
        Some(source) => {
            let from = match parse_kind(kind)? {
                Kind::Deployment => Kind::Blueprint,
                other => other,
            };
            let mut found = client
                .get_existing(
                    &format!("{}/{}", from.plural(), path_segment(&source)),
                    &format!("{from} '{source}'"),
                )
                .await?;
            if let Value::Object(m) = &mut found {
                m.remove("kind");
            }
            found
        }
        None => skeleton(kind, args)?,
    };
    if let Some(obj) = artifact.as_object_mut() {
        obj.insert("kind".into(), Value::String(kind.to_string()));
        if let Some(name) = opt("name") {
            obj.insert("name".into(), Value::String(name));
        }
        if kind == "breed" {
            if let Some(d) = opt("deployable") {
                obj.insert("deployable".into(), Value::String(d));
            }
        }
    }
    let mut ordered = serde_json::Map::new();
    if let Value::Object(m) = artifact {
        for key in ["kind", "name"] {
            if let Some(v) = m.get(key) {
                ordered.insert(key.into(), v.clone());
            }
        }
        for (k, v) in m {
            ordered.entry(k).or_insert(v);
        }
    }
    console.value(&Value::Object(ordered), format.unwrap_or(Format::Yaml))
}

fn skeleton(kind: &str, args: &ArgMatches) -> CliResult<Value> {
    let opt = |n: &str, d: &str| super::opt(args, n).cloned().unwrap_or_else(|| d.to_string());
    let name = opt("name", &format!("my-{kind}"));
    let port = opt("port", "8080/http");
    Ok(match kind {
        "breed" => json!({
            "name": name,
            "deployable": opt("deployable", "magneticio/sava:1.0.0"),
            "ports": { "web": port },
        }),
        "blueprint" | "deployment" => {
            let breed = opt("breed", "sava:1.0");
            json!({
                "name": name,
                "gateways": { "9050": format!("{}/web", opt("cluster", "sava")) },
                "clusters": {
                    opt("cluster", "sava"): {
                        "services": [{
                            "breed": {
                                "name": breed,
                                "deployable": opt("deployable", "magneticio/sava:1.0.0"),
                                "ports": { "web": port },
                            },
                            "scale": { "cpu": 0.2, "memory": "128MB", "instances": 1 },
                        }],
                    },
                },
            })
        }
        "gateway" => {
            let routes: Vec<String> = args
                .get_many::<String>("route")
                .map(|r| r.cloned().collect())
                .unwrap_or_else(|| vec!["sava/sava/web".to_string()]);
            let share = 100 / routes.len().max(1);
            let mut map = serde_json::Map::new();
            let last = routes.len().saturating_sub(1);
            for (i, r) in routes.iter().enumerate() {
                let w = if i == last { 100 - share * last } else { share };
                map.insert(r.clone(), json!({ "weight": format!("{w}%") }));
            }
            json!({ "name": name, "port": opt("port", "9060/http"), "routes": map })
        }
        "scale" => json!({ "name": name, "cpu": 0.5, "memory": "512MB", "instances": 1 }),
        "sla" => json!({
            "name": name,
            "type": "response_time_sliding_window",
            "window": { "interval": 600, "cooldown": 600 },
            "threshold": { "upper": 1000, "lower": 100 },
            "escalations": ["scale-up"],
        }),
        "condition" => json!({ "name": name, "condition": "User-Agent = Firefox" }),
        "route" => json!({ "name": name, "weight": "100%" }),
        "escalation" => json!({
            "name": name,
            "type": "scale_instances",
            "minimum": 1,
            "maximum": 3,
            "scale_by": 1,
        }),
        "workflow" => json!({
            "name": name,
            "breed": { "name": format!("{name}-breed"), "deployable": opt("deployable", "magneticio/vamp-workflow:1.0") },
            "schedule": "daemon",
        }),
        other => {
            return Err(CliError::usage(format!(
                "Cannot generate a '{other}'; use one of {}",
                super::commands::GENERATE_KINDS.join(", ")
            )))
        }
    })
}
