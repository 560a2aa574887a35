//! `vamp emit`: publishes an event (`POST /api/v1/events`).

use clap::ArgMatches;
use reqwest::Method;
use serde_json::{json, Value};

use super::artifacts::report;
use super::client::Client;
use super::exit::{CliError, CliResult};
use super::output::{Console, Format};

/// `vamp emit [VALUE] --tag T … [--type TYPE]`. The value is read as JSON when it is JSON, as text otherwise.
pub async fn emit(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let tags: Vec<String> = args
        .get_many::<String>("tag")
        .into_iter()
        .flatten()
        .chain(super::opt(args, "tags"))
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if tags.is_empty() {
        return Err(CliError::usage("An event needs at least one tag; give --tag TAG"));
    }
    let text = args
        .get_one::<String>("value")
        .or_else(|| super::opt(args, "value-flag"))
        .cloned()
        .unwrap_or_default();
    let value = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let mut event = json!({ "tags": tags, "value": value });
    if let Some(t) = super::opt(args, "type") {
        event["type"] = Value::String(t.clone());
    }
    let answer = client.send(Method::POST, "events", Some(&event)).await?;
    report(
        console,
        format,
        &answer.body,
        &format!("event published ({})", tags.join(",")),
    )
}
