//! `ApiOptions`: how the REST API listens and whom it serves — address, bearer tokens, TLS, CORS, body limit,
//! page size and the limits of work per request and connection. Deserialized from the `vamp serve` configuration (kebab-case keys, every field optional).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The REST API's settings. `ApiOptions::default()` listens on `127.0.0.1:8080` without TLS or CORS, and with no
/// token configured and the API not opened it refuses every request (401): nothing is open unless the operator
/// says so, through [`ApiSecurity::admin_tokens`] or [`ApiSecurity::open()`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ApiOptions {
    /// Where [`crate::api::serve()`] listens. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Bearer tokens, or an explicitly open API.
    pub security: ApiSecurity,
    /// Host names (with or without `:port`) the API answers to besides IP addresses and `localhost`; requests
    /// naming another host are refused (421), which defeats DNS rebinding. Empty: on a loopback listen address
    /// only IP addresses and `localhost` are answered, on any other address every host.
    pub allowed_hosts: Vec<String>,
    /// TLS from PEM files; `None` serves plain HTTP.
    pub tls: Option<TlsOptions>,
    /// Cross-origin requests from browsers.
    pub cors: CorsOptions,
    /// The largest request body in bytes; larger bodies are refused with 413. Default 8 MiB.
    pub body_limit: usize,
    /// The largest `per_page` a listing answers with (larger requests are capped). Default 30, the original's.
    pub max_per_page: u32,
    /// Seconds between keep-alive comments on `/events/stream`. Default 15, the original's.
    pub sse_keep_alive_s: u64,
    /// How much work one request and one connection may cost.
    pub limits: super::limits::ApiLimits,
}

impl ApiOptions {
    /// The defaults with an API open to every request ([`ApiSecurity::open()`]): for in-process callers and tests.
    pub fn insecure_open() -> ApiOptions {
        ApiOptions {
            security: ApiSecurity::open(),
            ..ApiOptions::default()
        }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            security: ApiSecurity::default(),
            allowed_hosts: Vec::new(),
            tls: None,
            cors: CorsOptions::default(),
            body_limit: 8 * 1024 * 1024,
            max_per_page: 30,
            sse_keep_alive_s: 15,
            limits: super::limits::ApiLimits::default(),
        }
    }
}

/// Bearer tokens (`Authorization: Bearer <token>`). With a token configured every request needs one: an admin
/// token allows everything, a read token allows `GET` and `HEAD` only (403 on writes); a missing or unknown token
/// is 401. With no token configured every request is refused (401) unless `open` is set, the operator's explicit
/// choice of an API without credentials. Tokens are compared in constant time and never written out (`Debug` and
/// `/config` redact them).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ApiSecurity {
    /// Tokens that may read and write.
    pub admin_tokens: Vec<String>,
    /// Tokens that may only read.
    pub read_tokens: Vec<String>,
    /// Without tokens, allow every request. Ignored when a token is configured.
    pub open: bool,
}

impl ApiSecurity {
    /// An API without credentials: every request is allowed. Only for an operator who asked for it
    /// (`--insecure-open-api`) and for in-process callers that already hold the server's authority.
    pub fn open() -> ApiSecurity {
        ApiSecurity {
            open: true,
            ..ApiSecurity::default()
        }
    }

    /// Admin tokens `tokens` and no read tokens.
    pub fn admin(tokens: impl IntoIterator<Item = impl Into<String>>) -> ApiSecurity {
        ApiSecurity {
            admin_tokens: tokens.into_iter().map(Into::into).collect(),
            ..ApiSecurity::default()
        }
    }

    /// Whether no token is configured.
    pub fn has_no_tokens(&self) -> bool {
        self.admin_tokens.is_empty() && self.read_tokens.is_empty()
    }

    /// Whether every request is allowed: no token is configured and the API was opened explicitly.
    pub fn is_open(&self) -> bool {
        self.open && self.has_no_tokens()
    }
}

impl std::fmt::Debug for ApiSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSecurity")
            .field(
                "admin_tokens",
                &format_args!("[{} redacted]", self.admin_tokens.len()),
            )
            .field(
                "read_tokens",
                &format_args!("[{} redacted]", self.read_tokens.len()),
            )
            .field("open", &self.open)
            .finish()
    }
}

/// TLS: the server's certificate chain and private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TlsOptions {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Which browser origins may call the API. Empty (the default) sends no CORS headers, so browsers refuse
/// cross-origin calls; `["*"]` allows any origin, as the original did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CorsOptions {
    /// Allowed origins, e.g. `https://ui.example.com`, or `*`.
    pub origins: Vec<String>,
}
