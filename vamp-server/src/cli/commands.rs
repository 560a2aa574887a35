//! The command table of the `vamp` binary: every subcommand, argument and flag, with help. Parsing, help
//! text and the shell completions ([`super::completions`]) all come from this one table.

use clap::{Arg, ArgAction, Command};

use crate::config::{SettingType, SETTINGS};

/// Artifact kinds `list` and `describe` take (plural; the singular is accepted too).
pub const KINDS: &[&str] = &[
    "deployments",
    "gateways",
    "blueprints",
    "breeds",
    "workflows",
    "events",
    "slas",
    "scales",
    "escalations",
    "routes",
    "conditions",
    "rewrites",
    "templates",
];

/// Kinds `generate` writes skeletons of.
pub const GENERATE_KINDS: &[&str] = &[
    "breed",
    "blueprint",
    "deployment",
    "gateway",
    "scale",
    "sla",
    "condition",
    "route",
    "escalation",
    "workflow",
];

/// Output formats.
pub const FORMATS: &[&str] = &["table", "yaml", "json"];

/// Shells `completions` writes scripts for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

fn file_arg() -> Arg {
    Arg::new("file").short('f').long("file").value_name("FILE").help(
        "Read the artifact(s) from FILE (YAML or JSON, several documents separated by ---); '-' reads stdin",
    )
}

fn stdin_arg() -> Arg {
    Arg::new("stdin")
        .short('s')
        .long("stdin")
        .action(ArgAction::SetTrue)
        .help("Read the artifact(s) from standard input")
}

fn validate_arg() -> Arg {
    Arg::new("validate-only")
        .long("validate-only")
        .action(ArgAction::SetTrue)
        .help("Let the server check the request without storing anything")
}

fn wait_args() -> [Arg; 2] {
    [
        Arg::new("wait")
            .long("wait")
            .action(ArgAction::SetTrue)
            .help("Wait until every service of the deployment is deployed (or gone); exit 1 if one fails, 4 on timeout"),
        Arg::new("timeout")
            .long("timeout")
            .value_name("DURATION")
            .default_value("300s")
            .help("How long --wait waits (e.g. 90s, 5m, 1h; a bare number is seconds)"),
    ]
}

fn serve_command() -> Command {
    let mut serve = Command::new("serve")
        .about("Run the Vamp server (REST API, loops, embedded gateway agent)")
        .arg(
            Arg::new("config")
                .short('c')
                .long("config")
                .value_name("FILE")
                .help("Configuration file (YAML or JSON); also VAMP_CONFIG"),
        );
    for s in SETTINGS {
        let value_name = match s.kind {
            SettingType::Bool => "true|false",
            SettingType::Number => "N",
            SettingType::List => "VALUE",
            SettingType::Text => "VALUE",
        };
        let mut arg = Arg::new(s.flag)
            .long(s.flag)
            .value_name(value_name)
            .help(format!("{} [env: {}] [default: {}]", s.help, s.env, s.default));
        if s.kind == SettingType::List {
            arg = arg.action(ArgAction::Append);
        }
        if s.kind == SettingType::Bool {
            arg = arg.num_args(0..=1).default_missing_value("true");
        }
        serve = serve.arg(arg);
    }
    serve
}

/// The whole command tree.
pub fn command() -> Command {
    Command::new("vamp")
        .about("Vamp: canary releases and A/B testing through gateways — the server and its command-line client")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("url")
                .long("url")
                .global(true)
                .value_name("URL")
                .help("The Vamp server [env: VAMP_URL] [default: http://127.0.0.1:8080]"),
        )
        .arg(
            Arg::new("token")
                .long("token")
                .global(true)
                .value_name("TOKEN")
                .help("Bearer token for the API [env: VAMP_TOKEN] (visible in ps: prefer --token-file)"),
        )
        .arg(
            Arg::new("token-file")
                .long("token-file")
                .global(true)
                .value_name("FILE")
                .help("A file holding the API token [env: VAMP_TOKEN_FILE] [default for a server on this machine: $VAMP_DATA_DIR/api-token, ./vamp-data/api-token]"),
        )
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .global(true)
                .value_name("FORMAT")
                .value_parser(FORMATS.to_vec())
                .help("Output format: table, yaml or json"),
        )
        .subcommand(serve_command())
        .subcommand(
            Command::new("list")
                .about("List the artifacts of a kind")
                .arg(Arg::new("kind").required(true).value_name("KIND").help("deployments, gateways, blueprints, breeds, workflows, events, …"))
                .arg(Arg::new("page").long("page").value_name("N").help("Only this page (the server's paging; default: every page)"))
                .arg(Arg::new("per-page").long("per-page").value_name("N").help("Items per page (the server caps it at 30)"))
                .arg(Arg::new("tag").long("tag").short('t').value_name("TAG").action(ArgAction::Append).help("Events: only those with this tag (repeatable)"))
                .arg(Arg::new("type").long("type").value_name("TYPE").help("Events: only of this type")),
        )
        .subcommand(
            Command::new("describe")
                .visible_alias("inspect")
                .about("Show one artifact")
                .arg(Arg::new("kind").required(true).value_name("KIND"))
                .arg(Arg::new("name").required(true).value_name("NAME"))
                .arg(Arg::new("as-blueprint").long("as-blueprint").action(ArgAction::SetTrue).help("Deployments: show the blueprint that recreates it"))
                .arg(Arg::new("expand-references").long("expand-references").action(ArgAction::SetTrue).help("Inline referenced breeds, scales, SLAs, …")),
        )
        .subcommand(
            Command::new("create")
                .about("Create artifacts from a file or stdin (each document's kind, or KIND for documents without one)")
                .arg(Arg::new("kind").value_name("KIND"))
                .arg(file_arg())
                .arg(stdin_arg())
                .arg(validate_arg()),
        )
        .subcommand(
            Command::new("update")
                .about("Update artifacts from a file or stdin")
                .arg(Arg::new("kind").value_name("KIND"))
                .arg(Arg::new("name").value_name("NAME").help("The artifact to update (must match the document's name)"))
                .arg(file_arg())
                .arg(stdin_arg())
                .arg(validate_arg()),
        )
        .subcommand(
            Command::new("delete")
                .visible_alias("remove")
                .about("Delete an artifact, or every artifact of a file (deployments: undeploy them)")
                .arg(Arg::new("kind").value_name("KIND"))
                .arg(Arg::new("name").value_name("NAME"))
                .arg(file_arg())
                .arg(stdin_arg()),
        )
        .subcommand(
            Command::new("deploy")
                .about("Deploy a stored blueprint, or a blueprint from a file, as a deployment (create or merge)")
                .arg(Arg::new("blueprint").value_name("BLUEPRINT").help("A stored blueprint"))
                .arg(Arg::new("deployment-name").value_name("DEPLOYMENT").help("The deployment (default: the blueprint's name)"))
                .arg(Arg::new("deployment").long("deployment").short('d').value_name("NAME").help("The deployment (default: the blueprint's name)"))
                .arg(file_arg())
                .arg(stdin_arg())
                .arg(validate_arg())
                .args(wait_args()),
        )
        .subcommand(
            Command::new("merge")
                .about("Merge a blueprint into an existing deployment (e.g. a canary version of a service)")
                .arg(Arg::new("blueprint").value_name("BLUEPRINT"))
                .arg(Arg::new("deployment-name").value_name("DEPLOYMENT"))
                .arg(Arg::new("deployment").long("deployment").short('d').value_name("NAME"))
                .arg(file_arg())
                .arg(stdin_arg())
                .arg(validate_arg())
                .args(wait_args()),
        )
        .subcommand(
            Command::new("undeploy")
                .about("Remove a deployment, or a slice of it (a blueprint's services, or one service)")
                .arg(Arg::new("deployment").required(true).value_name("DEPLOYMENT"))
                .arg(Arg::new("blueprint").long("blueprint").short('b').value_name("BLUEPRINT").help("Remove the services of this stored blueprint"))
                .arg(Arg::new("service").long("service").value_name("BREED").help("Remove the service running this breed"))
                .arg(file_arg())
                .arg(stdin_arg())
                .arg(validate_arg())
                .args(wait_args()),
        )
        .subcommand(
            Command::new("generate")
                .about("Print a skeleton artifact (or a stored one, renamed with --source)")
                .arg(Arg::new("kind").required(true).value_name("KIND").value_parser(GENERATE_KINDS.to_vec()))
                .arg(Arg::new("name").long("name").short('n').value_name("NAME").help("The new artifact's name"))
                .arg(Arg::new("source").long("source").value_name("NAME").help("Start from this stored artifact (deployment: from this blueprint)"))
                .arg(Arg::new("deployable").long("deployable").value_name("DEPLOYABLE").help("Breed: what runs (image or command)"))
                .arg(Arg::new("port").long("port").value_name("PORT").help("Breed: the web port (8080/http); gateway: its port"))
                .arg(Arg::new("cluster").long("cluster").value_name("CLUSTER").help("Blueprint: the cluster name"))
                .arg(Arg::new("breed").long("breed").value_name("BREED").help("Blueprint: the breed of the service"))
                .arg(Arg::new("route").long("route").value_name("ROUTE").action(ArgAction::Append).help("Gateway: a route (repeatable)")),
        )
        .subcommand(
            Command::new("emit")
                .about("Publish an event")
                .arg(Arg::new("value").value_name("VALUE").help("The event's value (JSON, or else text)"))
                .arg(Arg::new("value-flag").long("value").value_name("VALUE").help("The event's value, as a flag"))
                .arg(Arg::new("tag").long("tag").short('t').value_name("TAG").action(ArgAction::Append).help("A tag (repeatable, or comma-separated)"))
                .arg(Arg::new("tags").long("tags").value_name("TAGS").help("Comma-separated tags"))
                .arg(Arg::new("type").long("type").value_name("TYPE").help("The event type (default: event)")),
        )
        .subcommand(
            Command::new("update-gateway")
                .about("Change a gateway's route weights, or one route's condition")
                .arg(Arg::new("name").required(true).value_name("GATEWAY"))
                .arg(Arg::new("weights").long("weights").short('w').value_name("ROUTE@PCT,…").help("New weights, e.g. sava:1.0@90%,sava:1.1@10% (also route=90)"))
                .arg(Arg::new("route").long("route").short('r').value_name("ROUTE").help("The route whose condition changes"))
                .arg(Arg::new("condition").long("condition").short('c').value_name("CONDITION").help("The condition ('null' clears it)"))
                .arg(Arg::new("strength").long("strength").value_name("PCT").help("The condition strength (e.g. 50%)"))
                .arg(validate_arg()),
        )
        .subcommand(Command::new("info").about("Show the server's information (version, components)"))
        .subcommand(Command::new("version").about("Print the CLI's version and, if reachable, the server's"))
        .subcommand(
            Command::new("completions")
                .about("Print a shell completion script (bash, zsh or fish)")
                .arg(Arg::new("shell").required(true).value_name("SHELL").value_parser(SHELLS.to_vec())),
        )
}
