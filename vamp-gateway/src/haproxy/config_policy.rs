//! The allow-list a configuration rendered from a user template must keep to before HAProxy (even `haproxy -c`)
//! sees it: what the bundled template writes plus the ordinary settings an operator tunes — and nothing that
//! runs a program, loads code, reads a file the marshaller did not write, or reads the environment.
//!
//! - Sections: `global`, `defaults`, `frontend`, `backend`, `listen` (so no `program`, `userlist`, `peers`,
//!   `resolvers`, `ring`, `http-errors`, `cache`, `mailers`, and no `.if`/`.diag` directives).
//! - Keywords: [`GLOBAL_KEYWORDS`] in `global`, [`PROXY_KEYWORDS`] in the others; `option` only with
//!   [`OPTIONS`]; `http-request`/`http-response`/`http-after-response`/`tcp-request`/`tcp-response` only with
//!   [`ACTIONS`]; `stats socket` only at the agent's runtime socket.
//! - Everywhere: no ACL file flag (`-f`, `-M`) where a flag can stand, none of [`FILE_KEYWORDS`], no `env()`,
//!   `map…()` only on the map files of the same envelope in `$VAMP_MAPS_DIR`, `$` only to expand the variables
//!   the agent sets ([`ENVIRONMENT`]), no server or bind address on a unix socket or file descriptor.

use std::collections::BTreeMap;

use vamp_core::{Error, Result};

use super::model::DEFAULT_MAPS_DIR;
use super::words::{self, Word};

/// The sections a configuration may have.
pub const SECTIONS: [&str; 5] = ["global", "defaults", "frontend", "backend", "listen"];

/// HAProxy's other sections, refused by name.
pub const OTHER_SECTIONS: &[&str] = &[
    "program",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "log-forward",
    "crt-store",
    "traces",
];

/// The environment variables the agent sets and a configuration may expand (`"${NAME}"` or `"${NAME-default}"`).
pub const ENVIRONMENT: [&str; 6] = [
    "VAMP_RUNTIME_SOCKET",
    "VAMP_LOG_TARGET",
    "VAMP_MAPS_DIR",
    "VAMP_GATEWAY_BIND",
    "VAMP_VHOST_BIND",
    "VAMP_STATS_BIND",
];

/// The runtime socket the bundled template declares; the only `stats socket` allowed.
pub const RUNTIME_SOCKET: &str = "\"${VAMP_RUNTIME_SOCKET-/var/run/vamp-gateway-agent/haproxy.sock}\"";

/// The keywords of the `global` section (`tune.*` too, except `tune.lua.*`).
pub const GLOBAL_KEYWORDS: &[&str] = &[
    "log",
    "log-send-hostname",
    "log-tag",
    "maxconn",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "maxsslrate",
    "maxpipes",
    "nbthread",
    "stats",
    "spread-checks",
    "max-spread-checks",
    "hard-stop-after",
    "grace",
    "description",
    "node",
    "quiet",
    "busy-polling",
    "strict-limits",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "h2-workaround-bogus-websocket-clients",
];

/// The keywords of `defaults`, `frontend`, `backend` and `listen` sections.
pub const PROXY_KEYWORDS: &[&str] = &[
    "mode",
    "log",
    "log-format",
    "log-tag",
    "error-log-format",
    "timeout",
    "option",
    "no",
    "retries",
    "retry-on",
    "maxconn",
    "fullconn",
    "backlog",
    "balance",
    "hash-type",
    "hash-balance-factor",
    "default-server",
    "server",
    "bind",
    "acl",
    "use_backend",
    "default_backend",
    "use-server",
    "http-request",
    "http-response",
    "http-after-response",
    "tcp-request",
    "tcp-response",
    "monitor-uri",
    "monitor",
    "stats",
    "cookie",
    "dynamic-cookie-key",
    "compression",
    "capture",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "http-check",
    "tcp-check",
    "unique-id-format",
    "unique-id-header",
    "rate-limit",
    "redirect",
    "description",
    "id",
    "disabled",
    "enabled",
    "http-reuse",
    "stick-table",
    "stick",
    "force-persist",
    "ignore-persist",
    "persist",
    "max-keep-alive-queue",
    "http-send-name-header",
];

/// The names `option` (and `no option`) may take.
pub const OPTIONS: &[&str] = &[
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "allbackups",
    "checkcache",
    "clitcpka",
    "contstats",
    "disable-h2-upgrade",
    "dontlog-normal",
    "dontlognull",
    "forwardfor",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "http-buffer-request",
    "http-ignore-probes",
    "http-keep-alive",
    "http-no-delay",
    "http-pretend-keepalive",
    "http-restrict-req-hdr-names",
    "http-server-close",
    "http-use-htx",
    "httpchk",
    "httpclose",
    "httplog",
    "httpslog",
    "idle-close-on-response",
    "independent-streams",
    "ldap-check",
    "log-health-checks",
    "log-separate-errors",
    "logasap",
    "mysql-check",
    "nolinger",
    "originalto",
    "persist",
    "pgsql-check",
    "prefer-last-server",
    "redis-check",
    "redispatch",
    "smtpchk",
    "socket-stats",
    "splice-auto",
    "splice-request",
    "splice-response",
    "srvtcpka",
    "ssl-hello-chk",
    "tcp-check",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "tcpka",
    "tcplog",
];

/// The actions of `http-request`, `http-response`, `http-after-response`, `tcp-request` and `tcp-response`
/// (an action's own `(…)` argument aside).
pub const ACTIONS: &[&str] = &[
    "accept",
    "add-header",
    "allow",
    "auth",
    "capture",
    "close",
    "del-header",
    "deny",
    "disable-l7-retry",
    "early-hint",
    "expect-netscaler-cip",
    "expect-proxy",
    "normalize-uri",
    "redirect",
    "reject",
    "replace-header",
    "replace-path",
    "replace-pathq",
    "replace-uri",
    "replace-value",
    "return",
    "sc-inc-gpc",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt0",
    "set-header",
    "set-log-level",
    "set-mark",
    "set-method",
    "set-nice",
    "set-path",
    "set-pathq",
    "set-query",
    "set-status",
    "set-timeout",
    "set-tos",
    "set-uri",
    "set-var",
    "set-var-fmt",
    "silent-drop",
    "strict-mode",
    "switch-mode",
    "tarpit",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "unset-var",
    "wait-for-body",
    "wait-for-handshake",
];

/// Words that make HAProxy read a file (certificates, CA and CRL files, error pages, response bodies, server
/// state, …) wherever they stand before `--`.
pub const FILE_KEYWORDS: &[&str] = &[
    "crt",
    "crt-list",
    "ca-file",
    "crl-file",
    "ca-verify-file",
    "ca-sign-file",
    "issuers-chain-path",
    "file",
    "lf-file",
    "errorfile",
    "errorfiles",
    "load-server-state-from-file",
    "server-state-file",
    "server-state-file-name",
];

/// Checks `config` (a configuration rendered from a user template, without the agent trailer) against the
/// allow-list; `maps` are the map files of the same envelope. `Invalid` naming the first offending line (its
/// number and text) and what is wrong with it.
pub fn check(config: &str, maps: &BTreeMap<String, String>) -> Result<()> {
    let mut section: Option<&str> = None;
    for (index, line) in config.lines().enumerate() {
        let refuse = |why: String| {
            Error::invalid(format!(
                "The HAProxy template was refused: line {} of the configuration it renders, `{}`: {why}.",
                index + 1,
                line.trim().escape_debug()
            ))
        };
        let split = words::split(line);
        if split.unclosed_quote {
            return Err(refuse("a quote is not closed".into()));
        }
        let Some(first) = split.words.first() else {
            continue;
        };
        let keyword = first.value.as_str();
        if let Some(s) = SECTIONS.iter().find(|s| **s == keyword) {
            section = Some(s);
        } else {
            match section {
                _ if OTHER_SECTIONS.contains(&keyword) => {
                    return Err(refuse(format!(
                        "'{keyword}' is not one of the sections a configuration may have ({})",
                        SECTIONS.join(", ")
                    )))
                }
                None => {
                    return Err(refuse(format!(
                        "'{keyword}' is not one of the sections a configuration may have ({})",
                        SECTIONS.join(", ")
                    )))
                }
                Some("global") => global_keyword(&split.words).map_err(refuse)?,
                Some(_) => proxy_keyword(&split.words).map_err(refuse)?,
            }
        }
        arguments(&split.words, maps).map_err(refuse)?;
    }
    Ok(())
}

fn global_keyword(words: &[Word]) -> std::result::Result<(), String> {
    let keyword = words[0].value.as_str();
    let tune = keyword.starts_with("tune.") && !keyword.starts_with("tune.lua");
    if !tune && !GLOBAL_KEYWORDS.contains(&keyword) {
        return Err(format!(
            "'{keyword}' is not allowed in the global section (it is not one of the settings a template may tune)"
        ));
    }
    if keyword == "stats" {
        if let Some(sub) = words.get(1).filter(|w| w.value == "socket") {
            let path = words.get(2).map(|w| w.raw.as_str()).unwrap_or_default();
            if path != RUNTIME_SOCKET {
                return Err(format!(
                    "'{} {path}' declares a runtime socket; the only one allowed is {RUNTIME_SOCKET}",
                    sub.value
                ));
            }
        }
    }
    Ok(())
}

fn proxy_keyword(words: &[Word]) -> std::result::Result<(), String> {
    let keyword = words[0].value.as_str();
    if !PROXY_KEYWORDS.contains(&keyword) {
        return Err(format!(
            "'{keyword}' is not allowed in a proxy section (it is not among the keywords a template may use)"
        ));
    }
    let value = |i: usize| words.get(i).map(|w| w.value.as_str()).unwrap_or_default();
    match keyword {
        "option" => option(value(1)),
        "no" if value(1) == "option" => option(value(2)),
        "no" => Err(format!("'no {}' is not allowed", value(1))),
        "http-request" | "http-response" | "http-after-response" => action(value(1)),
        "tcp-request" | "tcp-response" => match value(1) {
            "inspect-delay" => Ok(()),
            "connection" | "session" | "content" => action(value(2)),
            other => Err(format!("'{keyword} {other}' is not allowed")),
        },
        "server" => address(value(2)),
        "bind" => address(value(1)),
        "stats" if value(1) == "socket" => Err("'stats socket' belongs in the global section".into()),
        _ => Ok(()),
    }
}

fn option(name: &str) -> std::result::Result<(), String> {
    if OPTIONS.contains(&name) {
        Ok(())
    } else {
        Err(format!("'option {name}' is not allowed"))
    }
}

fn action(text: &str) -> std::result::Result<(), String> {
    let name = text.split('(').next().unwrap_or_default();
    if ACTIONS.contains(&name) {
        Ok(())
    } else {
        Err(format!("the action '{name}' is not allowed"))
    }
}

fn address(value: &str) -> std::result::Result<(), String> {
    let family = value.split_once('@').map(|(f, _)| f);
    if value.starts_with('/') || family.is_some_and(|f| !matches!(f, "ipv4" | "ipv6")) {
        return Err(format!(
            "the address '{value}' is a unix socket, a file descriptor or a program; only IP addresses are allowed"
        ));
    }
    Ok(())
}

fn arguments(words: &[Word], maps: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    for (word, flag) in words::flag_positions(words) {
        if flag && words::FILE_FLAGS.contains(&word.value.as_str()) {
            return Err(format!("the ACL flag '{}' makes HAProxy read a file", word.value));
        }
        if flag && FILE_KEYWORDS.contains(&word.value.as_str()) {
            return Err(format!("'{}' makes HAProxy read a file", word.value));
        }
        if word.bare_dollar {
            return Err("'$' outside double quotes is not allowed".into());
        }
        for expansion in &word.expansions {
            environment(expansion)?;
        }
    }
    let maps_dir = format!("\"${{VAMP_MAPS_DIR-{DEFAULT_MAPS_DIR}}}/");
    let code = words.iter().map(|w| w.raw.as_str()).collect::<Vec<_>>().join(" ");
    let line = code.as_str();
    for (name, from) in words::calls(line) {
        if name == "env" || name.ends_with(".env") {
            return Err("env() reads the environment of HAProxy".into());
        }
        if words::is_map_converter(&name) {
            let argument = words::first_argument(line, from);
            let file = argument
                .strip_prefix(maps_dir.as_str())
                .and_then(|rest| rest.strip_suffix('"'));
            if !file.is_some_and(|f| maps.contains_key(f)) {
                return Err(format!(
                    "'{name}({argument})' reads a file that is not one of this configuration's maps in {maps_dir}…\""
                ));
            }
        }
    }
    Ok(())
}

/// `expansion` is the text after a `$` inside double quotes: it must be `{NAME}` or `{NAME-default}` with a
/// NAME of [`ENVIRONMENT`].
fn environment(expansion: &str) -> std::result::Result<(), String> {
    let name = expansion
        .strip_prefix('{')
        .map(|rest| rest.split(['}', '-']).next().unwrap_or_default());
    match name {
        Some(n) if ENVIRONMENT.contains(&n) && expansion.contains('}') => Ok(()),
        _ => Err(format!(
            "'${}' expands an environment variable; only {} may be expanded, as \"${{NAME}}\"",
            expansion
                .chars()
                .take(40)
                .collect::<String>()
                .trim_end_matches('"'),
            ENVIRONMENT.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::model::build;
    use crate::haproxy::samples::every_feature;
    use crate::haproxy::{bundled, HaproxyOptions};

    fn bundled_config() -> (String, BTreeMap<String, String>) {
        let built = build(&every_feature(), &HaproxyOptions::default().with_raw_acls(true)).unwrap();
        (bundled::render(&built.model), built.maps)
    }

    #[test]
    fn what_the_bundled_template_writes_is_allowed() {
        let (config, maps) = bundled_config();
        check(&config, &maps).unwrap();
    }

    #[test]
    fn programs_code_files_and_the_environment_are_refused_naming_the_line() {
        let (config, maps) = bundled_config();
        for (added, why) in [
            ("global\n    master-worker", "'master-worker' is not allowed"),
            (
                "program x\n    command /bin/sh -c id",
                "'program' is not one of the sections",
            ),
            ("global\n    lua-load /tmp/x.lua", "'lua-load'"),
            ("global\n    setenv A B", "'setenv'"),
            ("global\n    presetenv A B", "'presetenv'"),
            ("global\n    external-check", "'external-check'"),
            ("backend b\n    option external-check", "'option external-check'"),
            (
                "backend b\n    external-check command /bin/sh",
                "'external-check'",
            ),
            (
                "global\n    stats socket /tmp/admin.sock level admin",
                "runtime socket",
            ),
            (
                "frontend f\n    bind :8443 ssl crt /etc/ssl/private/key.pem",
                "'crt'",
            ),
            (
                "backend b\n    server s 10.0.0.1:443 ssl ca-file /etc/ssl/ca.pem",
                "'ca-file'",
            ),
            ("backend b\n    server s /var/run/docker.sock", "unix socket"),
            ("frontend f\n    acl a path -f /etc/hostname", "'-f'"),
            (
                "frontend f\n    http-request return status 200 file /etc/passwd",
                "'file'",
            ),
            ("frontend f\n    errorfile 503 /etc/passwd", "'errorfile'"),
            (
                "frontend f\n    http-request set-header X \"${SECRET}\"",
                "'${SECRET}'",
            ),
            ("frontend f\n    http-request set-header X \"$HOME\"", "'$HOME'"),
            (
                "frontend f\n    http-request set-header X %[env(SECRET)]",
                "env()",
            ),
            (
                "frontend f\n    http-request set-header X %[path,map_str(/etc/passwd)]",
                "map_str",
            ),
            ("frontend f\n    http-request lua.x", "'lua.x'"),
            ("frontend f\n    http-request set-map(/tmp/m) a b", "'set-map'"),
            (".if defined(SECRET)\n.endif", "'.if'"),
        ] {
            let text = format!("{config}{added}\n");
            let e = check(&text, &maps).unwrap_err();
            assert!(e.message().contains(why), "{added}: {}", e.message());
        }
    }

    #[test]
    fn the_error_names_the_line_and_its_text() {
        let (config, maps) = bundled_config();
        let text = format!("{config}program x\n    command /bin/sh\n");
        let e = check(&text, &maps).unwrap_err();
        let expected = format!(
            "line {} of the configuration it renders, `program x`",
            config.lines().count() + 1
        );
        assert!(e.message().contains(&expected), "{}", e.message());
    }

    #[test]
    fn comments_are_not_read() {
        let (config, maps) = bundled_config();
        check(
            &format!("{config}# gateway env(x) -f /etc/passwd ${{HOME}}\n"),
            &maps,
        )
        .unwrap();
    }

    #[test]
    fn ordinary_tuning_is_allowed() {
        let (config, maps) = bundled_config();
        let text = format!(
            "{config}\nbackend b\n    timeout server 30s\n    option httpchk\n    balance leastconn\n    server s 10.0.0.1:80 check inter 2s\n    http-request set-header X-Env prod\n"
        );
        check(&text, &maps).unwrap();
    }
}
