//! `vamp list`, `describe`, `create`, `update` and `delete`: the CRUD endpoints of `/api/v1/{kind}`.

use clap::ArgMatches;
use reqwest::Method;
use serde_json::Value;
use vamp_core::model::Kind;

use super::client::{path_segment, Client};
use super::documents::{kind_of, name_of, parse_kind, read_input, without_kind};
use super::exit::{CliError, CliResult};
use super::output::{Console, Format};
use super::view::{describe_table, list_table};

/// At most this many pages are fetched by `list` (30 items each on the original's cap).
const MAX_PAGES: u64 = 10_000;

/// `vamp list KIND`: every page (or `--page`), as a table by default.
pub async fn list(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let kind = parse_kind(arg(args, "kind")?)?;
    let plural = kind.plural();
    let mut query = Vec::new();
    if let Some(n) = super::opt(args, "per-page") {
        query.push(format!("per_page={}", number(n, "--per-page")?));
    }
    if kind == Kind::Event {
        for tag in super::many(args, "tag").into_iter().flatten() {
            query.push(format!("tag={}", path_segment(tag).replace('/', "%2F")));
        }
        if let Some(t) = super::opt(args, "type") {
            query.push(format!("type={}", path_segment(t)));
        }
    }
    let mut items = Vec::new();
    let only = super::opt(args, "page")
        .map(|p| number(p, "--page"))
        .transpose()?;
    let mut page = only.unwrap_or(1);
    loop {
        let mut q = query.clone();
        q.push(format!("page={page}"));
        let answer = client
            .send(Method::GET, &format!("{plural}?{}", q.join("&")), None)
            .await?;
        let got = match answer.body {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let empty = got.is_empty();
        items.extend(got);
        let done = only.is_some()
            || empty
            || answer.total.is_none_or(|t| items.len() as u64 >= t)
            || page >= MAX_PAGES;
        if done {
            break;
        }
        page += 1;
    }
    match format.unwrap_or(Format::Table) {
        Format::Table => console.print(&list_table(plural, &items)),
        f => console.value(&Value::Array(items), f),
    }
}

/// `vamp describe KIND NAME`: YAML by default; `-o table` gives the deployment and gateway tables.
pub async fn describe(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let kind = parse_kind(arg(args, "kind")?)?;
    let name = arg(args, "name")?;
    let mut query = Vec::new();
    if super::flag(args, "as-blueprint") {
        query.push("as_blueprint=true");
    }
    if super::flag(args, "expand-references") {
        query.push("expand_references=true");
    }
    let mut path = format!("{}/{}", kind.plural(), path_segment(name));
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let artifact = client.get_existing(&path, &format!("{kind} '{name}'")).await?;
    let format = format.unwrap_or(Format::Yaml);
    if format == Format::Table && !super::flag(args, "as-blueprint") {
        if let Some(text) = describe_table(kind.plural(), &artifact) {
            return console.print(&text);
        }
    }
    console.value(&artifact, format)
}

/// `vamp create [KIND] -f FILE`: each document to `POST /api/v1/{kind}` (deployments: `PUT` by name).
pub async fn create(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    write_all(args, client, console, format, Verb::Create).await
}

/// `vamp update [KIND] [NAME] -f FILE`: each document to `PUT /api/v1/{kind}/{name}`.
pub async fn update(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    write_all(args, client, console, format, Verb::Update).await
}

/// `vamp delete KIND NAME` or `vamp delete -f FILE`. A deployment is undeployed whole (its blueprint form is
/// sent as the slice).
pub async fn delete(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
) -> CliResult<()> {
    let default_kind = super::opt(args, "kind").map(|k| parse_kind(k)).transpose()?;
    let targets: Vec<(Kind, String)> = match read_input(args)? {
        Some(docs) => docs
            .iter()
            .map(|d| {
                let kind = kind_of(d, default_kind)?;
                let name =
                    name_of(d).ok_or_else(|| CliError::usage(format!("A {kind} document has no name")))?;
                Ok((kind, name.to_string()))
            })
            .collect::<CliResult<_>>()?,
        None => {
            let kind = default_kind.ok_or_else(|| CliError::usage("Give KIND NAME, or -f FILE"))?;
            let name = args
                .get_one::<String>("name")
                .ok_or_else(|| CliError::usage(format!("Which {kind}? Give its name.")))?;
            vec![(kind, name.clone())]
        }
    };
    for (kind, name) in targets {
        let segment = path_segment(&name);
        if kind == Kind::Deployment {
            let slice = client
                .get_existing(
                    &format!("deployments/{segment}?as_blueprint=true&only_references=true"),
                    &format!("deployment '{name}'"),
                )
                .await?;
            let answer = client
                .send(Method::DELETE, &format!("deployments/{segment}"), Some(&slice))
                .await?;
            report(
                console,
                format,
                &answer.body,
                &format!("deployment '{name}' is being undeployed"),
            )?;
            continue;
        }
        let answer = client
            .send(Method::DELETE, &format!("{}/{segment}", kind.plural()), None)
            .await?;
        let what = if answer.status == 202 {
            "is being deleted"
        } else {
            "deleted"
        };
        report(console, format, &answer.body, &format!("{kind} '{name}' {what}"))?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Create,
    Update,
}

async fn write_all(
    args: &ArgMatches,
    client: &Client,
    console: &mut Console<'_>,
    format: Option<Format>,
    verb: Verb,
) -> CliResult<()> {
    let default_kind = super::opt(args, "kind").map(|k| parse_kind(k)).transpose()?;
    let docs =
        read_input(args)?.ok_or_else(|| CliError::usage("Give the artifact(s) with -f FILE or --stdin"))?;
    let only_name = super::opt(args, "name");
    let query = if super::flag(args, "validate-only") {
        "?validate_only=true"
    } else {
        ""
    };
    for doc in &docs {
        let kind = kind_of(doc, default_kind)?;
        let name = name_of(doc)
            .map(str::to_string)
            .or_else(|| only_name.cloned())
            .ok_or_else(|| CliError::usage(format!("A {kind} document has no name")))?;
        if let Some(n) = only_name {
            if *n != name {
                return Err(CliError::usage(format!(
                    "The document's name '{name}' is not '{n}', the {kind} to update"
                )));
            }
        }
        let body = without_kind(doc);
        let segment = path_segment(&name);
        let answer = match (kind, verb) {
            (Kind::Deployment, _) => {
                client
                    .send(Method::PUT, &format!("deployments/{segment}{query}"), Some(&body))
                    .await?
            }
            (Kind::Event, _) => client.send(Method::POST, "events", Some(&body)).await?,
            (_, Verb::Create) => {
                client
                    .send(Method::POST, &format!("{}{query}", kind.plural()), Some(&body))
                    .await?
            }
            (_, Verb::Update) => {
                client
                    .send(
                        Method::PUT,
                        &format!("{}/{segment}{query}", kind.plural()),
                        Some(&body),
                    )
                    .await?
            }
        };
        let done = match (verb, answer.status, query.is_empty()) {
            (_, _, false) => "is valid",
            (_, 202, _) => "accepted",
            (Verb::Create, _, _) => "created",
            (Verb::Update, _, _) => "updated",
        };
        report(console, format, &answer.body, &format!("{kind} '{name}' {done}"))?;
    }
    Ok(())
}

/// Prints `summary` (table format, the default for writes) or the server's answer as YAML/JSON.
pub fn report(
    console: &mut Console<'_>,
    format: Option<Format>,
    body: &Value,
    summary: &str,
) -> CliResult<()> {
    match format.unwrap_or(Format::Table) {
        Format::Table => console.print(summary),
        f => console.value(body, f),
    }
}

/// A required argument.
pub fn arg<'a>(args: &'a ArgMatches, name: &str) -> CliResult<&'a str> {
    super::opt(args, name)
        .map(String::as_str)
        .ok_or_else(|| CliError::usage(format!("The argument {} is missing", name.to_ascii_uppercase())))
}

fn number(text: &str, flag: &str) -> CliResult<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CliError::usage(format!("{flag} takes a positive whole number, not '{text}'")))
}
