//! `vamp deploy`, `merge` and `undeploy`: `PUT` (create or merge) and `DELETE` (slice) of
//! `/api/v1/deployments/{name}`, optionally waiting for convergence.

use clap::ArgMatches;
use reqwest::Method;
use serde_json::{json, Value};

use super::artifacts::report;
use super::client::{path_segment, Client};
use super::documents::{name_of, read_input, without_kind};
use super::exit::{CliError, CliResult};
use super::output::{Console, Format};
use super::wait::{parse_duration, wait, Goal};

/// Whether the command merges into an existing deployment (`merge`) or may create one (`deploy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `deploy`: create or merge.
    Deploy,
    /// `merge`: the deployment must exist.
    Merge,
}

/// `vamp deploy BLUEPRINT [DEPLOYMENT]` / `vamp deploy -f FILE [--deployment NAME]`, and `merge`.
pub async fn deploy(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
    mode: Mode,
) -> CliResult<()> {
    let blueprint = match (read_input(args)?, super::opt(args, "blueprint")) {
        (Some(_), Some(_)) => return Err(CliError::usage("Give a stored BLUEPRINT or -f FILE, not both")),
        (Some(docs), None) => match docs.as_slice() {
            [one] => without_kind(one),
            _ => {
                return Err(CliError::usage(
                    "Give one blueprint to deploy (the input holds several documents)",
                ))
            }
        },
        (None, Some(name)) => {
            client
                .get_existing(
                    &format!("blueprints/{}", path_segment(name)),
                    &format!("blueprint '{name}'"),
                )
                .await?
        }
        (None, None) => return Err(CliError::usage("Give a stored BLUEPRINT or -f FILE")),
    };
    let name = args
        .get_one::<String>("deployment")
        .or_else(|| super::opt(args, "deployment-name"))
        .cloned()
        .or_else(|| name_of(&blueprint).map(str::to_string))
        .ok_or_else(|| CliError::usage("The blueprint has no name; give the deployment with --deployment"))?;
    let segment = path_segment(&name);
    if mode == Mode::Merge && client.get(&format!("deployments/{segment}")).await?.is_none() {
        return Err(CliError::Refused {
            status: 404,
            message: format!("deployment '{name}' does not exist; use 'vamp deploy' to create it"),
        });
    }
    let validate = super::flag(args, "validate-only");
    let query = if validate { "?validate_only=true" } else { "" };
    let answer = client
        .send(
            Method::PUT,
            &format!("deployments/{segment}{query}"),
            Some(&blueprint),
        )
        .await?;
    let summary = match (validate, mode) {
        (true, _) => format!("deployment '{name}' is valid"),
        (false, Mode::Deploy) => format!("deployment '{name}' accepted"),
        (false, Mode::Merge) => format!("merge into deployment '{name}' accepted"),
    };
    report(console, format, &answer.body, &summary)?;
    if super::flag(args, "wait") && !validate {
        let timeout = parse_duration(super::opt(args, "timeout").map_or("300s", String::as_str))?;
        wait(client, console, &name, Goal::Deployed, timeout).await?;
    }
    Ok(())
}

/// `vamp undeploy DEPLOYMENT [--blueprint B | -f FILE | --service BREED]`.
pub async fn undeploy(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let name = args
        .get_one::<String>("deployment")
        .ok_or_else(|| CliError::usage("Which deployment? Give its name."))?;
    let segment = path_segment(name);
    let given = [
        super::opt(args, "blueprint").is_some(),
        super::opt(args, "service").is_some(),
        super::opt(args, "file").is_some() || super::flag(args, "stdin"),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(CliError::usage(
            "Give at most one of --blueprint, --service and -f/--stdin",
        ));
    }
    let slice = if let Some(b) = super::opt(args, "blueprint") {
        client
            .get_existing(
                &format!("blueprints/{}", path_segment(b)),
                &format!("blueprint '{b}'"),
            )
            .await?
    } else if let Some(breed) = super::opt(args, "service") {
        let deployment = client
            .get_existing(&format!("deployments/{segment}"), &format!("deployment '{name}'"))
            .await?;
        service_slice(&deployment, name, breed)?
    } else if let Some(docs) = read_input(args)? {
        match docs.as_slice() {
            [one] => without_kind(one),
            _ => {
                return Err(CliError::usage(
                    "Give one blueprint to undeploy (the input holds several documents)",
                ))
            }
        }
    } else {
        client
            .get_existing(
                &format!("deployments/{segment}?as_blueprint=true&only_references=true"),
                &format!("deployment '{name}'"),
            )
            .await?
    };
    let validate = super::flag(args, "validate-only");
    let query = if validate { "?validate_only=true" } else { "" };
    let answer = client
        .send(
            Method::DELETE,
            &format!("deployments/{segment}{query}"),
            Some(&slice),
        )
        .await?;
    let summary = if validate {
        format!("undeploying from '{name}' is valid")
    } else {
        format!("undeploy of deployment '{name}' accepted")
    };
    report(console, format, &answer.body, &summary)?;
    if super::flag(args, "wait") && !validate {
        let timeout = parse_duration(super::opt(args, "timeout").map_or("300s", String::as_str))?;
        wait(client, console, name, Goal::Undeployed, timeout).await?;
    }
    Ok(())
}

/// The slice that removes the service running `breed` from every cluster of `deployment` that has it.
fn service_slice(deployment: &Value, name: &str, breed: &str) -> CliResult<Value> {
    let mut clusters = serde_json::Map::new();
    for s in super::view::services(deployment) {
        if s.breed == breed {
            clusters.insert(
                s.cluster.clone(),
                json!({ "services": [{ "breed": { "ref": breed } }] }),
            );
        }
    }
    if clusters.is_empty() {
        return Err(CliError::Refused {
            status: 404,
            message: format!("deployment '{name}' has no service running breed '{breed}'"),
        });
    }
    Ok(json!({ "name": name, "clusters": clusters }))
}
