//! The `vamp` command line: `vamp serve` (the server) and the client commands `list`, `describe`, `create`,
//! `update`, `delete`, `deploy`, `merge`, `undeploy`, `generate`, `emit`, `update-gateway`, `info`, `version`
//! and `completions`, talking to a server's `/api/v1` found through `--url` or `VAMP_URL`.
//!
//! [`run`] is the whole program behind `main`: it parses the arguments ([`commands::command`]), runs the
//! command, writes to the given [`Console`] and returns the exit code ([`exit`] lists them).

pub mod artifacts;
pub mod client;
pub mod commands;
pub mod completions;
pub mod demo;
pub mod deployments;
pub mod documents;
pub mod events;
pub mod exit;
pub mod gateways;
pub mod generate;
pub mod output;
pub mod serve;
pub mod view;
pub mod wait;

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;

use clap::error::ErrorKind as ClapErrorKind;
use clap::ArgMatches;

use crate::config::{parse_setting, Layer, ServeConfig, CONFIG_ENV, SETTINGS};
use client::{Client, DEFAULT_URL};
use exit::{CliError, CliResult, EXIT_OK};
use output::{Console, Format};

/// Runs `vamp` with `args` (the program name first) and returns its exit code. `env` looks up environment
/// variables (`VAMP_URL`, `VAMP_TOKEN`, `VAMP_TOKEN_FILE`, `VAMP_DATA_DIR`, `VAMP_CONFIG`, the `VAMP_*` settings of `vamp serve`); `shutdown` ends
/// `vamp serve`.
pub async fn run(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
    console: &mut Console<'_>,
    shutdown: impl Future<Output = ()> + Send,
) -> i32 {
    let matches = match commands::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                console.note(text.trim_end());
            } else {
                let _ = console.print(&text);
            }
            return match e.kind() {
                ClapErrorKind::DisplayHelp | ClapErrorKind::DisplayVersion => EXIT_OK,
                _ => exit::EXIT_USAGE,
            };
        }
    };
    match dispatch(&matches, &env, console, shutdown).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            console.note(&vamp_core::redact::url(&format!("error: {e}")));
            e.exit_code()
        }
    }
}

async fn dispatch(
    matches: &ArgMatches,
    env: &impl Fn(&str) -> Option<String>,
    console: &mut Console<'_>,
    shutdown: impl Future<Output = ()> + Send,
) -> CliResult<()> {
    let Some((name, sub)) = matches.subcommand() else {
        return Err(CliError::usage("Give a command; see 'vamp --help'"));
    };
    match name {
        "serve" => {
            let config = serve_config_from(sub, env)?;
            init_logging(&config.log_level);
            return serve::serve(config, shutdown).await;
        }
        "completions" => {
            let shell = artifacts::arg(sub, "shell")?;
            return console.print(&completions::script(shell)?);
        }
        "generate" if opt(sub, "source").is_none() => {
            let client = client_from(sub, env)?;
            return generate::generate(sub, &client, console, output(sub)?).await;
        }
        _ => {}
    }
    let client = client_from(sub, env)?;
    let format = output(sub)?;
    match name {
        "list" => artifacts::list(sub, &client, console, format).await,
        "describe" => artifacts::describe(sub, &client, console, format).await,
        "create" => artifacts::create(sub, &client, console, format).await,
        "update" => artifacts::update(sub, &client, console, format).await,
        "delete" => artifacts::delete(sub, &client, console, format).await,
        "deploy" => deployments::deploy(sub, &client, console, format, deployments::Mode::Deploy).await,
        "merge" => deployments::deploy(sub, &client, console, format, deployments::Mode::Merge).await,
        "undeploy" => deployments::undeploy(sub, &client, console, format).await,
        "generate" => generate::generate(sub, &client, console, format).await,
        "emit" => events::emit(sub, &client, console, format).await,
        "update-gateway" => gateways::update_gateway(sub, &client, console, format).await,
        "info" => {
            let info = client.get_existing("info", "/api/v1/info").await?;
            console.value(&info, format.unwrap_or(Format::Yaml))
        }
        "version" => {
            console.print(&format!("vamp {}", env!("CARGO_PKG_VERSION")))?;
            match client.get("info").await {
                Ok(Some(info)) => console.print(&format!(
                    "server {} at {}",
                    output::cell(info.body.get("version")),
                    client.base()
                )),
                _ => {
                    console.note(&format!("server at {} not reachable", client.base()));
                    Ok(())
                }
            }
        }
        other => Err(CliError::usage(format!(
            "Unknown command '{other}'; see 'vamp --help'"
        ))),
    }
}

fn output(sub: &ArgMatches) -> CliResult<Option<Format>> {
    opt(sub, "output").map(|o| Format::parse(o)).transpose()
}

fn client_from(sub: &ArgMatches, env: &impl Fn(&str) -> Option<String>) -> CliResult<Client> {
    let url = sub
        .get_one::<String>("url")
        .cloned()
        .or_else(|| env("VAMP_URL").filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    Client::new(&url, client_token(sub, env, &url)?)
}

/// The token the CLI sends: `--token`, `VAMP_TOKEN`, the first token of `--token-file` / `VAMP_TOKEN_FILE`, or,
/// for a server on this machine (a loopback URL), the admin token `vamp serve` created in its data directory
/// (`VAMP_DATA_DIR`, default `./vamp-data`) when that file exists and is readable.
fn client_token(
    sub: &ArgMatches,
    env: &impl Fn(&str) -> Option<String>,
    url: &str,
) -> CliResult<Option<String>> {
    let nonempty = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
    if let Some(token) = nonempty(opt(sub, "token").cloned()).or_else(|| nonempty(env("VAMP_TOKEN"))) {
        return Ok(Some(token));
    }
    if let Some(file) = nonempty(opt(sub, "token-file").cloned()).or_else(|| nonempty(env("VAMP_TOKEN_FILE")))
    {
        let tokens = crate::tokens::read_token_file(std::path::Path::new(&file))
            .map_err(|e| CliError::usage(e.message().to_string()))?;
        return Ok(tokens.into_iter().next());
    }
    let local = reqwest::Url::parse(url).ok().is_some_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    });
    if !local {
        return Ok(None);
    }
    let data_dir =
        nonempty(env("VAMP_DATA_DIR")).unwrap_or_else(|| crate::config::DEFAULT_DATA_DIR.to_string());
    let file = PathBuf::from(data_dir).join(crate::tokens::TOKEN_FILE);
    Ok(crate::tokens::read_token_file(&file)
        .ok()
        .and_then(|t| t.into_iter().next()))
}

/// The `vamp serve` configuration of `args` (the arguments after `vamp serve`) and `env`: defaults < the file of
/// `--config` / `VAMP_CONFIG` < `VAMP_*` variables < flags. Fails with a usage error (exit code 2) naming the
/// setting and where its value came from.
pub fn serve_config(args: &[&str], env: impl Fn(&str) -> Option<String>) -> CliResult<ServeConfig> {
    let argv = ["vamp", "serve"].iter().chain(args.iter()).map(OsString::from);
    let matches = commands::command()
        .try_get_matches_from(argv)
        .map_err(|e| CliError::usage(e.render().to_string().trim_end().to_string()))?;
    let Some(("serve", sub)) = matches.subcommand() else {
        return Err(CliError::usage("not a 'vamp serve' command line"));
    };
    serve_config_from(sub, &env)
}

fn serve_config_from(sub: &ArgMatches, env: &impl Fn(&str) -> Option<String>) -> CliResult<ServeConfig> {
    let mut layers = Vec::new();
    let file = sub
        .get_one::<String>("config")
        .cloned()
        .or_else(|| env(CONFIG_ENV).filter(|f| !f.is_empty()));
    if let Some(file) = file {
        layers.push(Layer::file(&PathBuf::from(file))?);
    }
    layers.push(Layer::env(env)?);
    let mut flags = Layer::default();
    for s in SETTINGS {
        let Some(values) = many(sub, s.flag) else {
            continue;
        };
        let values: Vec<String> = values.cloned().collect();
        let origin = format!("--{}", s.flag);
        flags.set(s.key, parse_setting(s, &values, &origin)?, origin);
    }
    layers.push(flags);
    Ok(ServeConfig::from_layers(&layers)?)
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The value of option `name`, if the command has it and it was given.
pub fn opt<'a>(args: &'a ArgMatches, name: &str) -> Option<&'a String> {
    args.try_get_one::<String>(name).ok().flatten()
}

/// Whether switch `name` was given (false for commands without it).
pub fn flag(args: &ArgMatches, name: &str) -> bool {
    args.try_get_one::<bool>(name)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

/// The values of repeatable option `name`.
pub fn many<'a>(args: &'a ArgMatches, name: &str) -> Option<clap::parser::ValuesRef<'a, String>> {
    args.try_get_many::<String>(name).ok().flatten()
}
