//! `ServeConfig`: the configuration of `vamp serve`, layered defaults < file (`--config`, YAML or JSON) <
//! environment (`VAMP_*`) < command-line flags, and the [`Vamp`] it builds (backends chosen by URL).
//!
//! Every setting that has an environment variable or a flag is listed once in [`SETTINGS`]; the flags of
//! `vamp serve`, the environment layer, the completions and the documentation table all come from it. Settings
//! without a variable or flag (loop timing, deployment defaults, virtual hosts, …) are set in the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use vamp_core::driver::ContainerDriver;
use vamp_core::{Error, ErrorKind, Result};
use vamp_gateway::haproxy::HaproxyMarshaller;

use crate::agent::{process_config, EmbeddedAgent};
use crate::event_settings::EventSettings;
use crate::ha::LeaseOptions;
use crate::settings::{
    AgentSettings, DeploymentSettings, GatewaySettings, PulseSettings, ServerSettings, SyncSettings,
};
use crate::sla_settings::SlaSettings;
use crate::tokens::{private_dir, read_token_file};
use crate::vamp::Vamp;

/// The address the API listens on unless configured otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The data directory unless configured otherwise.
pub const DEFAULT_DATA_DIR: &str = "./vamp-data";

/// The configuration of `vamp serve`. `ServeConfig::default()` is the embedded default: SQLite under
/// `./vamp-data`, memory KV, the process driver, the embedded gateway agent driving the `haproxy` on `PATH`,
/// gateways on loopback, the API on `127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Where the REST API listens (`ADDR:PORT`).
    pub listen: SocketAddr,
    /// Where the embedded default keeps its state (SQLite database, process driver state, agent files).
    pub data_dir: PathBuf,
    /// Artifacts and events (`vamp_persistence::url`); `None` = `sqlite://<data-dir>/vamp.db`.
    pub persistence: Option<String>,
    /// The key-value store of gateway configurations (`vamp_kv::url`); default `memory://`.
    pub kv: String,
    /// The file with the key gateway configurations are signed with; `None` = `<data-dir>/kv-signing.key`.
    /// Generated (mode 0600) when the file does not exist.
    pub kv_signing_key: Option<PathBuf>,
    /// The container driver (`vamp_drivers::url`); `None` = the process driver with its state in
    /// `<data-dir>/processes`.
    pub driver: Option<String>,
    /// The Vamp namespace.
    pub namespace: String,
    /// The log filter (`error`, `warn`, `info`, `debug`, `trace`, or a `tracing` filter directive).
    pub log_level: String,
    /// The loops' timing.
    pub synchronization: SyncSettings,
    /// Gateway planning and where gateways bind.
    pub gateways: GatewaySettings,
    /// The embedded gateway agent.
    pub agent: AgentSettings,
    /// Defaults of deployments.
    pub deployment: DeploymentSettings,
    /// The SLA loop.
    pub sla: SlaSettings,
    /// Health and metrics publishing and windows.
    pub pulse: PulseSettings,
    /// How workflows run.
    pub workflows: crate::workflows::WorkflowSettings,
    /// The canary loop.
    pub canary: crate::ops::CanarySettings,
    /// Event retention.
    pub events: EventSettings,
    /// Standby servers through an etcd lease.
    pub ha: HaConfig,
    /// The REST API's security settings.
    pub api: ApiConfig,
    /// After starting, deploy a demo service and run a live canary release through HAProxy
    /// ([`crate::cli::demo`]).
    pub demo: bool,
    /// The gateway port the demo's traffic enters on.
    pub demo_port: u16,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let settings = ServerSettings::default();
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            persistence: None,
            kv: "memory://".into(),
            kv_signing_key: None,
            driver: None,
            namespace: settings.namespace,
            log_level: "info".into(),
            synchronization: settings.synchronization,
            gateways: settings.gateways,
            agent: settings.agent,
            deployment: settings.deployment,
            sla: settings.sla,
            pulse: settings.pulse,
            workflows: settings.workflows,
            canary: settings.canary,
            events: settings.events,
            ha: HaConfig::default(),
            api: ApiConfig::default(),
            demo: false,
            demo_port: 9050,
        }
    }
}

/// High availability: with `etcd` endpoints, this server is one candidate of an election and runs the loops only
/// while it leads; without, it always leads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct HaConfig {
    /// etcd endpoints (`host:port` or `http://host:port`); empty = no HA.
    pub etcd: Vec<String>,
    /// The election's name; default the namespace.
    pub election: Option<String>,
    /// This server's candidate id; default the API's listen address.
    pub id: Option<String>,
    /// The lease TTL in whole seconds (at least 2); default 5.
    pub lease_ttl_s: Option<u64>,
}

impl HaConfig {
    /// Whether standby servers are configured.
    pub fn enabled(&self) -> bool {
        !self.etcd.is_empty()
    }

    /// The lease timing.
    pub fn lease_options(&self) -> LeaseOptions {
        self.lease_ttl_s
            .map(|s| LeaseOptions::with_ttl(Duration::from_secs(s)))
            .unwrap_or_default()
    }
}

/// The REST API's security settings, handed to the API module (`ApiOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiConfig {
    /// Bearer tokens; with none, `vamp serve` creates an admin token in the data directory
    /// ([`crate::tokens::TOKEN_FILE`]).
    pub tokens: TokenConfig,
    /// Serve the API without any credential when no token is configured (the original's behaviour). Refused on a
    /// non-loopback listen address.
    pub insecure_open: bool,
    /// Host names the API answers to besides IP addresses and `localhost` (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// TLS; `None` = plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Allowed CORS origins; empty = no cross-origin access (the original allowed any origin).
    pub cors: CorsConfig,
    /// How much work one request and one connection may cost (timeouts, body reads, event streams).
    pub limits: crate::api::ApiLimits,
}

/// Bearer tokens of the API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenConfig {
    /// Tokens that may read and write.
    pub admin: Vec<String>,
    /// Tokens that may only read.
    pub read_only: Vec<String>,
    /// A file of admin tokens, one a line.
    pub admin_file: Option<PathBuf>,
    /// A file of read-only tokens, one a line.
    pub read_only_file: Option<PathBuf>,
}

/// The API's TLS certificate and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// CORS of the API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct CorsConfig {
    /// Allowed origins (`https://ui.example.com`, or `*`); empty = no cross-origin access.
    pub origins: Vec<String>,
}

/// How a setting's text (from an environment variable or a flag) becomes a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingType {
    /// Any text.
    Text,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A comma-separated list (a repeatable flag).
    List,
}

/// One setting that can be given through the environment and a flag.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The dotted key in the configuration file (`gateways.bind`).
    pub key: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The long flag of `vamp serve`, without `--`.
    pub flag: &'static str,
    /// How its text is read.
    pub kind: SettingType,
    /// The default, as documented.
    pub default: &'static str,
    /// What it sets.
    pub help: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static str,
    flag: &'static str,
    kind: SettingType,
    default: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        flag,
        kind,
        default,
        help,
    }
}

/// Every setting with an environment variable and a flag.
pub const SETTINGS: &[Setting] = &[
    setting("listen", "VAMP_LISTEN", "listen", SettingType::Text, DEFAULT_LISTEN, "The REST API's ADDR:PORT"),
    setting("data-dir", "VAMP_DATA_DIR", "data-dir", SettingType::Text, DEFAULT_DATA_DIR, "Where the embedded default keeps its state"),
    setting("persistence", "VAMP_PERSISTENCE_URL", "persistence", SettingType::Text, "sqlite://<data-dir>/vamp.db", "Artifacts and events store URL (sqlite://, postgres://, memory://, elasticsearch:// for events, kv+… for artifacts)"),
    setting("kv", "VAMP_KV_URL", "kv", SettingType::Text, "memory://", "Key-value store URL (memory://, etcd://, zk://, consul://, redis://)"),
    setting("kv-signing-key", "VAMP_KV_SIGNING_KEY_FILE", "kv-signing-key", SettingType::Text, "<data-dir>/kv-signing.key (generated)", "File with the key gateway configurations are signed with (agents need a copy)"),
    setting("driver", "VAMP_DRIVER_URL", "driver", SettingType::Text, "process://<data-dir>/processes", "Container driver URL (process://, memory://, docker://, kubernetes://, plugin://)"),
    setting("namespace", "VAMP_NAMESPACE", "namespace", SettingType::Text, "default", "The Vamp namespace"),
    setting("log-level", "VAMP_LOG_LEVEL", "log-level", SettingType::Text, "info", "Log filter (error, warn, info, debug, trace or a tracing directive)"),
    setting("agent.enabled", "VAMP_EMBEDDED_AGENT", "embedded-agent", SettingType::Bool, "true", "Run the embedded gateway agent (true/false)"),
    setting("agent.haproxy", "VAMP_HAPROXY", "haproxy", SettingType::Text, "haproxy", "The HAProxy binary the embedded agent runs"),
    setting("agent.log-target", "VAMP_AGENT_LOG_TARGET", "agent-log-target", SettingType::Text, "<agent dir>/log.sock", "Where HAProxy sends access logs: a unix socket path, or UDP ADDR:PORT"),
    setting("agent.log-sources", "VAMP_AGENT_LOG_SOURCES", "agent-log-source", SettingType::List, "127.0.0.1,::1", "The source IPs a UDP agent.log-target accepts access logs from"),
    setting("gateways.bind", "VAMP_GATEWAY_BIND", "gateway-bind", SettingType::Text, "127.0.0.1", "The address gateway ports bind to"),
    setting("gateways.host", "VAMP_GATEWAY_HOST", "gateway-host", SettingType::Text, "127.0.0.1", "The host services reach gateways on"),
    setting("gateways.port-range", "VAMP_GATEWAY_PORTS", "gateway-ports", SettingType::Text, "40000-45000", "Ports for gateways that give none (LOWER-UPPER)"),
    setting("gateways.allow-raw-acls", "VAMP_ALLOW_RAW_ACLS", "allow-raw-acls", SettingType::Bool, "false", "Accept raw HAProxy ACLs (< … >) in conditions and rewrites (true/false)"),
    setting("ha.etcd", "VAMP_HA_ETCD", "ha-etcd", SettingType::List, "(none: no HA)", "etcd endpoints for leader election among standby servers"),
    setting("ha.election", "VAMP_HA_ELECTION", "ha-election", SettingType::Text, "<namespace>", "The election's name"),
    setting("ha.id", "VAMP_HA_ID", "ha-id", SettingType::Text, "<listen>", "This server's candidate id"),
    setting("ha.lease-ttl-s", "VAMP_HA_LEASE_TTL", "ha-lease-ttl", SettingType::Number, "5", "The election lease's TTL in seconds"),
    setting("api.tokens.admin", "VAMP_API_TOKENS", "api-token", SettingType::List, "(none: a token created in <data-dir>/api-token)", "Bearer tokens that may read and write (a flag is visible in ps: prefer the file or the variable)"),
    setting("api.tokens.read-only", "VAMP_API_READ_TOKENS", "api-read-token", SettingType::List, "(none)", "Bearer tokens that may only read"),
    setting("api.tokens.admin-file", "VAMP_API_TOKEN_FILE", "api-token-file", SettingType::Text, "(none)", "A file of admin tokens, one a line"),
    setting("api.tokens.read-only-file", "VAMP_API_READ_TOKEN_FILE", "api-read-token-file", SettingType::Text, "(none)", "A file of read-only tokens, one a line"),
    setting("api.insecure-open", "VAMP_INSECURE_OPEN_API", "insecure-open-api", SettingType::Bool, "false", "Serve the API without credentials when no token is configured (loopback only)"),
    setting("api.allowed-hosts", "VAMP_ALLOWED_HOSTS", "allowed-host", SettingType::List, "(IP addresses and localhost)", "Host names the API answers to (DNS-rebinding protection)"),
    setting("api.tls.cert", "VAMP_TLS_CERT", "tls-cert", SettingType::Text, "(none: plain HTTP)", "The API's TLS certificate chain (PEM)"),
    setting("api.tls.key", "VAMP_TLS_KEY", "tls-key", SettingType::Text, "(none)", "The API's TLS private key (PEM)"),
    setting("api.cors.origins", "VAMP_CORS_ORIGINS", "cors-origin", SettingType::List, "(none)", "Allowed CORS origins"),
    setting("api.limits.parse-timeout-ms", "VAMP_API_PARSE_TIMEOUT_MS", "api-parse-timeout-ms", SettingType::Number, "10000", "How long reading one request body may take (ms; 413 beyond)"),
    setting("api.limits.parse-concurrency", "VAMP_API_PARSE_CONCURRENCY", "api-parse-concurrency", SettingType::Number, "<CPUs, at least 2>", "How many request bodies are read at once, off the async workers"),
    setting("api.limits.max-nodes", "VAMP_API_MAX_NODES", "api-max-nodes", SettingType::Number, "1000000", "Most YAML/JSON nodes in one request body (aliases counted with what they clone)"),
    setting("api.limits.max-alias-nodes", "VAMP_API_MAX_ALIAS_NODES", "api-max-alias-nodes", SettingType::Number, "100000", "Most nodes the aliases of one request body may clone"),
    setting("api.limits.max-alias-bytes", "VAMP_API_MAX_ALIAS_BYTES", "api-max-alias-bytes", SettingType::Number, "4194304", "Most bytes of text the aliases of one request body may clone"),
    setting("api.limits.read-body-limit", "VAMP_API_READ_BODY_LIMIT", "api-read-body-limit", SettingType::Number, "65536", "The largest body of a GET or HEAD request (bytes; 413 beyond)"),
    setting("api.limits.header-read-timeout-ms", "VAMP_API_HEADER_READ_TIMEOUT_MS", "api-header-read-timeout-ms", SettingType::Number, "10000", "How long a client may take to send request headers, and to keep an idle connection open (ms)"),
    setting("api.limits.idle-timeout-s", "VAMP_API_IDLE_TIMEOUT_S", "api-idle-timeout-s", SettingType::Number, "120", "How long a connection may stay silent during a request (s)"),
    setting("api.limits.tls-handshake-timeout-ms", "VAMP_API_TLS_HANDSHAKE_TIMEOUT_MS", "api-tls-handshake-timeout-ms", SettingType::Number, "10000", "How long a TLS handshake may take (ms)"),
    setting("api.limits.accept-backoff-max-ms", "VAMP_API_ACCEPT_BACKOFF_MAX_MS", "api-accept-backoff-max-ms", SettingType::Number, "1000", "The longest pause of the accept loop when file descriptors run out (ms)"),
    setting("api.limits.streams-per-token", "VAMP_API_STREAMS_PER_TOKEN", "api-streams-per-token", SettingType::Number, "32", "Most open event streams per token (429 beyond)"),
    setting("api.limits.streams-total", "VAMP_API_STREAMS_TOTAL", "api-streams-total", SettingType::Number, "512", "Most open event streams in all (503 beyond)"),
    setting("demo", "VAMP_DEMO", "demo", SettingType::Bool, "false", "Deploy a demo service and run a live canary release through HAProxy"),
    setting("demo-port", "VAMP_DEMO_PORT", "demo-port", SettingType::Number, "9050", "The gateway port of the demo"),
];

/// The documentation's table of [`SETTINGS`] (docs/server.md holds it verbatim; a test keeps the two equal).
pub fn settings_table() -> String {
    let mut out = String::from("| file key | environment | flag | default | what |\n|---|---|---|---|---|\n");
    for s in SETTINGS {
        let flag = match s.kind {
            SettingType::List => format!("`--{}` (repeatable; env: comma-separated)", s.flag),
            _ => format!("`--{}`", s.flag),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {flag} | `{}` | {} |\n",
            s.key, s.env, s.default, s.help
        ));
    }
    out
}

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "VAMP_CONFIG";

/// A configuration layer: values keyed by their dotted key, with where they came from.
#[derive(Debug, Clone)]
pub struct Layer {
    values: Value,
    origins: BTreeMap<String, String>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            values: Value::Object(Map::new()),
            origins: BTreeMap::new(),
        }
    }
}

impl Layer {
    /// The layer of a configuration file (YAML or JSON, one document holding a map).
    pub fn file(path: &Path) -> Result<Layer> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!(
                "The configuration file {} cannot be read: {e}",
                path.display()
            ))
        })?;
        let docs = vamp_core::dsl::parse_documents(&text).map_err(|e| {
            Error::invalid(format!(
                "The configuration file {} is not valid YAML or JSON: {}",
                path.display(),
                crate::cli::documents::describe_parse_error(&e)
            ))
        })?;
        let value = match docs.as_slice() {
            [] => Value::Object(Map::new()),
            [doc] => doc.to_json(),
            _ => {
                return Err(Error::invalid(format!(
                    "The configuration file {} holds {} documents; give one.",
                    path.display(),
                    docs.len()
                )))
            }
        };
        let value = match value {
            Value::Null => Value::Object(Map::new()),
            Value::Object(m) => Value::Object(m),
            _ => {
                return Err(Error::invalid(format!(
                    "The configuration file {} must hold a map of settings (listen: …, data-dir: …).",
                    path.display()
                )))
            }
        };
        let mut origins = BTreeMap::new();
        origins.insert(String::new(), format!("file {}", path.display()));
        Ok(Layer {
            values: value,
            origins,
        })
    }

    /// The layer of the `VAMP_*` variables of [`SETTINGS`] that `lookup` finds set.
    pub fn env(lookup: impl Fn(&str) -> Option<String>) -> Result<Layer> {
        let mut layer = Layer::default();
        for s in SETTINGS {
            if let Some(text) = lookup(s.env) {
                let value = parse_setting(s, &[text], &format!("environment variable {}", s.env))?;
                layer.set(s.key, value, format!("environment variable {}", s.env));
            }
        }
        Ok(layer)
    }

    /// Sets `key` (dotted) to `value`, remembering `origin`.
    pub fn set(&mut self, key: &str, value: Value, origin: String) {
        if !self.values.is_object() {
            self.values = Value::Object(Map::new());
        }
        let mut at = &mut self.values;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Value::Object(map) = at else { return };
            if i + 1 == parts.len() {
                map.insert((*part).to_string(), value);
                break;
            }
            let entry = map
                .entry((*part).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            at = entry;
        }
        self.origins.insert(key.to_string(), origin);
    }
}

/// Reads the text(s) of setting `s` given by `origin` into a configuration value.
pub fn parse_setting(s: &Setting, texts: &[String], origin: &str) -> Result<Value> {
    let one = texts.last().map(String::as_str).unwrap_or_default().trim();
    match s.kind {
        SettingType::Text => Ok(Value::String(one.to_string())),
        SettingType::Number => one.parse::<u64>().map(Value::from).map_err(|_| {
            Error::invalid(format!(
                "Invalid configuration '{}' (from {origin}): '{one}' is not a whole number.",
                s.key
            ))
        }),
        SettingType::Bool => match one.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(Error::invalid(format!(
                "Invalid configuration '{}' (from {origin}): '{one}' is not true or false.",
                s.key
            ))),
        },
        SettingType::List => Ok(Value::Array(
            texts
                .iter()
                .flat_map(|t| t.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string()))
                .collect(),
        )),
    }
}

impl ServeConfig {
    /// The configuration of `layers`, later layers overriding earlier ones key by key (lists are replaced, not
    /// appended), over the defaults. Fails with `Invalid` naming the key, what is wrong with it and where its
    /// value came from; unknown keys are refused so a typo does not go unnoticed.
    pub fn from_layers(layers: &[Layer]) -> Result<ServeConfig> {
        let mut merged = Value::Object(Map::new());
        let mut origins = BTreeMap::new();
        for layer in layers {
            merge(&mut merged, &layer.values);
            origins.extend(layer.origins.clone());
        }
        let config = ServeConfig::deserialize(&merged).map_err(|e| {
            let (key, message) = locate_error(&merged).unwrap_or_else(|| (String::new(), e.to_string()));
            let origin = origin_of(&origins, &key);
            if key.is_empty() {
                Error::invalid(format!("Invalid configuration ({origin}): {message}"))
            } else {
                Error::invalid(format!(
                    "Invalid configuration '{key}' (from {origin}): {message}"
                ))
            }
        })?;
        config.check().map_err(|e| {
            let origin = e
                .key
                .as_deref()
                .map(|k| format!(" (from {})", origin_of(&origins, k)))
                .unwrap_or_default();
            Error::invalid(format!("{}{origin}", e.message))
        })?;
        Ok(config)
    }

    /// Checks what deserialization cannot: URLs, the log filter, the HA and TLS settings.
    fn check(&self) -> std::result::Result<(), KeyedError> {
        let keyed = |key: &str, e: Error| KeyedError {
            key: Some(key.to_string()),
            message: format!("Invalid configuration '{key}': {}", e.message()),
        };
        vamp_kv::url::KvUrl::parse(&self.kv).map_err(|e| keyed("kv", e))?;
        if let Some(driver) = &self.driver {
            vamp_drivers::url::DriverUrl::parse(driver).map_err(|e| keyed("driver", e))?;
        }
        if let Some(p) = &self.persistence {
            if !p.contains("://") {
                return Err(keyed(
                    "persistence",
                    Error::invalid(format!(
                        "'{p}' is not a URL; use e.g. sqlite:///var/lib/vamp/vamp.db or postgres://host/db"
                    )),
                ));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            keyed(
                "log-level",
                Error::invalid(format!("'{}' is not a log filter: {e}", self.log_level)),
            )
        })?;
        if self.ha.enabled() {
            self.ha
                .lease_options()
                .validate()
                .map_err(|e| keyed("ha.lease-ttl-s", e))?;
        }
        if self.api.insecure_open && !self.listen.ip().is_loopback() {
            return Err(keyed(
                "api.insecure-open",
                Error::invalid(format!(
                    "an API without credentials may only listen on a loopback address, not {}; configure a token \
                     (api.tokens.admin-file) instead",
                    self.listen
                )),
            ));
        }
        if let Some(tls) = &self.api.tls {
            if tls.cert.as_os_str().is_empty() || tls.key.as_os_str().is_empty() {
                return Err(keyed(
                    "api.tls",
                    Error::invalid("TLS needs both a certificate (cert) and a private key (key)"),
                ));
            }
        }
        if self.namespace.is_empty()
            || !self
                .namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(keyed(
                "namespace",
                Error::invalid(format!(
                    "'{}' is not a namespace; use letters, digits, '-' and '_'",
                    self.namespace
                )),
            ));
        }
        Ok(())
    }

    /// The persistence URL: the configured one, or SQLite in the data directory.
    pub fn persistence_url(&self) -> String {
        self.persistence
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("vamp.db").display()))
    }

    /// The container driver URL: the configured one, or the process driver in the data directory.
    pub fn driver_url(&self) -> String {
        self.driver
            .clone()
            .unwrap_or_else(|| format!("process://{}", self.data_dir.join("processes").display()))
    }

    /// The file of the KV signing key: the configured one, or `<data-dir>/kv-signing.key`.
    pub fn kv_signing_key_file(&self) -> PathBuf {
        self.kv_signing_key
            .clone()
            .unwrap_or_else(|| crate::agent::default_signing_key_file(&self.data_dir))
    }

    /// The HA election's name (the namespace unless configured).
    pub fn election(&self) -> String {
        self.ha.election.clone().unwrap_or_else(|| self.namespace.clone())
    }

    /// This server's HA candidate id (the listen address unless configured).
    pub fn candidate(&self) -> String {
        self.ha.id.clone().unwrap_or_else(|| self.listen.to_string())
    }

    /// The server core's settings.
    pub fn settings(&self) -> ServerSettings {
        ServerSettings {
            namespace: self.namespace.clone(),
            synchronization: self.synchronization,
            gateways: self.gateways.clone(),
            agent: self.agent.clone(),
            deployment: self.deployment.clone(),
            sla: self.sla,
            pulse: self.pulse,
            workflows: self.workflows.clone(),
            canary: self.canary,
            events: self.events,
        }
    }

    /// Connects the backends and assembles the [`Vamp`]: persistence, KV and driver by URL, the KV signing key
    /// ([`ServeConfig::kv_signing_key_file`], generated when missing), (the process driver
    /// of the default keeps its state in `<data-dir>/processes` and runs commands from the data directory), the
    /// HAProxy marshaller, and, when `agent.enabled`, the embedded gateway agent over the same KV store, whose
    /// access-log aggregator is the metrics source. Creates the data directory. Fails with the backends'
    /// errors (`Invalid` for a bad URL, `Unavailable` for an unreachable backend).
    pub async fn build(&self) -> Result<Vamp> {
        private_dir(&self.data_dir)?;
        let url = self.persistence_url();
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = Path::new(path.split('?').next().unwrap_or(path));
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_dir(parent)?;
            }
            private_sqlite(path)?;
        }
        let artifacts = vamp_persistence::url::connect_artifacts(&url).await?;
        let events = vamp_persistence::url::connect_events(&url).await?;
        let kv = vamp_kv::url::connect(&self.kv).await?;
        let signing = crate::agent::signing_key(&self.kv_signing_key_file())?;
        let driver: Arc<dyn ContainerDriver> = match &self.driver {
            None => {
                Arc::new(vamp_drivers::process::ProcessDriver::new(process_config(&self.data_dir)).await?)
            }
            Some(url) => vamp_drivers::url::connect(url).await?,
        };
        let settings = self.settings();
        let mut builder = Vamp::builder()
            .persistence(artifacts, events)
            .kv(kv)
            .kv_signing_key(signing.clone())
            .driver(driver)
            .marshaller(Arc::new(
                HaproxyMarshaller::new().with_options(settings.gateways.haproxy_options()),
            ));
        if settings.agent.enabled {
            let dir = settings
                .agent
                .dir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("agent"));
            private_dir(&dir)?;
            let agent = EmbeddedAgent::new(&settings, dir, signing)?;
            builder = builder.metrics(agent.aggregator()).agent(agent);
        }
        builder.config(settings).build()
    }
}

/// The API's tokens: those configured and those of the token files; with none and the API not opened
/// explicitly, the admin token of the data directory ([`crate::tokens::data_dir_token`], created at first start).
#[derive(Debug, Clone)]
pub struct ApiCredentials {
    /// What the API checks.
    pub security: crate::api::ApiSecurity,
    /// The data directory's token file, when that is where the admin token came from, and whether it was
    /// created now.
    pub token_file: Option<(PathBuf, bool)>,
}

impl ServeConfig {
    /// The API's credentials (see [`ApiCredentials`]). Creates the data directory (0700) and the token file (0600)
    /// when needed. Fails when a token file cannot be read or holds no token.
    pub fn api_credentials(&self) -> Result<ApiCredentials> {
        let tokens = &self.api.tokens;
        let mut security = crate::api::ApiSecurity {
            admin_tokens: tokens.admin.clone(),
            read_tokens: tokens.read_only.clone(),
            open: false,
        };
        if let Some(file) = &tokens.admin_file {
            security.admin_tokens.extend(read_token_file(file)?);
        }
        if let Some(file) = &tokens.read_only_file {
            security.read_tokens.extend(read_token_file(file)?);
        }
        let mut token_file = None;
        if security.has_no_tokens() {
            if self.api.insecure_open {
                security.open = true;
            } else {
                private_dir(&self.data_dir)?;
                let (token, path, created) = crate::tokens::data_dir_token(&self.data_dir)?;
                security.admin_tokens.push(token);
                token_file = Some((path, created));
            }
        }
        Ok(ApiCredentials { security, token_file })
    }
}

/// Makes the SQLite database at `path` and its journal files owner-only, creating the database file empty (0600)
/// when it does not exist yet, so that SQLite creates its WAL and shared-memory files with the same mode.
fn private_sqlite(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    if !path.exists() {
        crate::tokens::write_private(path, b"")?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        crate::tokens::private_file(Path::new(&file))?;
    }
    Ok(())
}

/// Whether `error` is a configuration (usage) error rather than a failure of something the configuration names.
pub fn is_config_error(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Invalid | ErrorKind::Unsupported)
}

struct KeyedError {
    key: Option<String>,
    message: String,
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::backend(format!("The directory {} cannot be created: {e}", dir.display())))
}

/// Merges `over` into `base`: maps key by key, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The dotted key whose value makes `ServeConfig` refuse `merged`, with the reason: each key is tried alone,
/// descending into maps to the deepest key that still fails.
fn locate_error(merged: &Value) -> Option<(String, String)> {
    let Value::Object(map) = merged else {
        return None;
    };
    for (k, v) in map {
        let mut alone = Map::new();
        alone.insert(k.clone(), v.clone());
        if let Err(e) = ServeConfig::deserialize(&Value::Object(alone)) {
            let deeper = locate_in(std::slice::from_ref(k), v);
            return Some(deeper.unwrap_or_else(|| (k.clone(), e.to_string())));
        }
    }
    None
}

fn locate_in(path: &[String], value: &Value) -> Option<(String, String)> {
    let Value::Object(map) = value else {
        return None;
    };
    for (k, v) in map {
        let mut p = path.to_vec();
        p.push(k.clone());
        let mut nested = v.clone();
        for part in p.iter().rev() {
            let mut m = Map::new();
            m.insert(part.clone(), nested);
            nested = Value::Object(m);
        }
        if let Err(e) = ServeConfig::deserialize(&nested) {
            return Some(locate_in(&p, v).unwrap_or_else(|| (p.join("."), e.to_string())));
        }
    }
    None
}

/// Where the value of `key` came from: the most specific recorded origin of it or of a key above it, else the
/// file (recorded under the empty key), else the defaults.
fn origin_of(origins: &BTreeMap<String, String>, key: &str) -> String {
    let mut k = key;
    loop {
        if let Some(o) = origins.get(k) {
            return o.clone();
        }
        if let Some(o) = origins
            .iter()
            .filter(|(ok, _)| ok.starts_with(&format!("{k}.")) && !k.is_empty())
            .map(|(_, o)| o)
            .next()
        {
            return o.clone();
        }
        match k.rsplit_once('.') {
            Some((up, _)) => k = up,
            None if !k.is_empty() => k = "",
            None => return "the defaults".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_default() {
        let config = ServeConfig::from_layers(&[]).unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.persistence_url(), "sqlite://./vamp-data/vamp.db");
        assert_eq!(config.driver_url(), "process://./vamp-data/processes");
        assert_eq!(config.gateways.bind, "127.0.0.1");
        assert!(config.agent.enabled);
        assert!(!config.ha.enabled());
    }

    #[test]
    fn every_setting_key_is_a_known_key() {
        for s in SETTINGS {
            let mut layer = Layer::default();
            let value = match s.kind {
                SettingType::Text => Value::String(match s.key {
                    "listen" => "127.0.0.1:1".into(),
                    "gateways.port-range" => "1000-2000".into(),
                    "kv" => "memory://".into(),
                    "driver" => "memory://".into(),
                    "persistence" => "memory://".into(),
                    "log-level" => "debug".into(),
                    "namespace" => "ns".into(),
                    _ => "x".into(),
                }),
                SettingType::Number => Value::from(4),
                SettingType::Bool => Value::Bool(false),
                SettingType::List => Value::Array(vec![Value::String("x".into())]),
            };
            layer.set(s.key, value, "test".into());
            if s.key == "api.tls.cert" {
                layer.set("api.tls.key", Value::String("k".into()), "test".into());
            }
            if s.key == "api.tls.key" {
                layer.set("api.tls.cert", Value::String("c".into()), "test".into());
            }
            ServeConfig::from_layers(&[layer]).unwrap_or_else(|e| panic!("{}: {e}", s.key));
        }
    }
}
