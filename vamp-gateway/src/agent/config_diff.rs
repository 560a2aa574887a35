//! Comparing the running configuration with a new one: an HAProxy configuration read as sections of normalized
//! lines ([`Config::parse`]), and the decision ([`plan`]) whether the change can go through the runtime API —
//! server weights, addresses and states, servers added or removed, map contents — or needs a reload
//! (contract §3). Pure: no I/O, no HAProxy.
//!
//! Configurations of thousands of routes are compared through a [`SectionIndex`]: where each section's header
//! and body lie in the text, found without copying it. Sections whose text is byte-for-byte the same are equal
//! without being read further; only sections whose text differs are normalized and compared line by line, so a
//! one-route change in a 3 MB configuration costs a scan of the text, not a parse of it.
//!
//! A change is *runtime* only when every section keeps its header and every line other than `server` lines, in
//! order; a server line may change only its weight, its address (an IP literal with a port) or its `disabled`
//! flag; servers may be added or removed; map files may change content. Every word that would go into a runtime
//! API command must be a plain token (no white space, quotes, `;`, `\` or control characters), else the change
//! is a reload: the plan never asks HAProxy to parse something it might read differently from its config parser.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::haproxy::envelope::Envelope;

/// Keywords that open a section of an HAProxy configuration.
const SECTION_KEYWORDS: [&str; 14] = [
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
];

/// One section: its header (`backend g_abc_r0`, normalized) and its lines, comments and blank lines removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The normalized header line; empty for lines before the first section.
    pub header: String,
    /// The normalized lines of the section, in order.
    pub lines: Vec<String>,
}

impl Section {
    /// The section keyword (`backend`), or `""` for the lines before the first section.
    pub fn keyword(&self) -> &str {
        self.header.split(' ').next().unwrap_or_default()
    }

    /// The section name (`g_abc_r0` of `backend g_abc_r0`), or `""`.
    pub fn name(&self) -> &str {
        self.header.split(' ').nth(1).unwrap_or_default()
    }

    fn holds_servers(&self) -> bool {
        matches!(self.keyword(), "backend" | "listen")
    }
}

/// An HAProxy configuration as sections of normalized lines.
///
/// Normalizing a line removes its comment (from a `#` outside quotes and not escaped), leading and trailing white
/// space, and collapses the white space between words (words inside quotes are kept as written), so two
/// configurations that differ only in layout or comments compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The sections in file order.
    pub sections: Vec<Section>,
}

impl Config {
    /// Reads `text` into sections. Never fails: HAProxy itself judges validity when it loads the file.
    pub fn parse(text: &str) -> Config {
        let index = SectionIndex::of(text);
        Config {
            sections: index.spans.iter().map(|span| span.section(text)).collect(),
        }
    }
}

/// Where the sections of a configuration text lie: for each section the byte range of its header line and of
/// its body (every line up to the next header, comments and blank lines included). Built by one scan of the
/// text without copying it; lines before the first section count as an unnamed section when they hold
/// anything besides comments and blank lines (as in [`Config::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SectionIndex {
    spans: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    /// The header line (empty for the unnamed section).
    header: (usize, usize),
    /// The lines after the header, up to the next header.
    body: (usize, usize),
}

impl Span {
    fn header<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.header.0..self.header.1).unwrap_or_default()
    }

    fn body<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.body.0..self.body.1).unwrap_or_default()
    }

    /// The section, normalized.
    fn section(&self, text: &str) -> Section {
        Section {
            header: words(self.header(text)).join(" "),
            lines: self
                .body(text)
                .lines()
                .filter_map(|raw| {
                    let words = words(raw);
                    (!words.is_empty()).then(|| words.join(" "))
                })
                .collect(),
        }
    }
}

impl SectionIndex {
    /// The sections of `text`. Never fails, like [`Config::parse`].
    pub fn of(text: &str) -> SectionIndex {
        let mut spans = Vec::new();
        let mut preamble_end = None;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if !is_header(line) {
                continue;
            }
            let line_end = start + line.trim_end_matches(['\n', '\r']).len();
            match spans.last_mut() {
                Some(Span { body, .. }) => body.1 = start,
                None => preamble_end = Some(start),
            }
            spans.push(Span {
                header: (start, line_end),
                body: (offset, offset),
            });
        }
        if let Some(last) = spans.last_mut() {
            last.body.1 = text.len();
        }
        let preamble = preamble_end.unwrap_or(text.len());
        let preamble_holds_lines = text
            .get(..preamble)
            .unwrap_or_default()
            .lines()
            .any(|line| !words(line).is_empty());
        if preamble_holds_lines {
            spans.insert(
                0,
                Span {
                    header: (0, 0),
                    body: (0, preamble),
                },
            );
        }
        SectionIndex { spans }
    }

    /// The number of sections.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no section.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Whether a raw line opens a section: its first word (as [`words`] splits it) is a section keyword. A first
/// word equals a keyword (plain letters and `-`) exactly when the line, white space trimmed, runs up to white
/// space, a comment or its end with that keyword.
fn is_header(line: &str) -> bool {
    let trimmed = line.trim_start();
    let end = trimmed
        .find(|c: char| c.is_whitespace() || c == '#')
        .unwrap_or(trimmed.len());
    SECTION_KEYWORDS.contains(&trimmed.get(..end).unwrap_or_default())
}

/// The words of a configuration line: split on white space outside quotes, up to a comment. Quotes and escapes
/// stay in the words as written.
fn words(line: &str) -> Vec<String> {
    if !line.contains(['"', '\'', '\\', '#']) {
        return line.split_whitespace().map(str::to_string).collect();
    }
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match (c, quote) {
            ('\\', _) => {
                current.push(c);
                escaped = true;
            }
            ('"' | '\'', None) => {
                current.push(c);
                quote = Some(c);
            }
            (c, Some(q)) if c == q => {
                current.push(c);
                quote = None;
            }
            ('#', None) => break,
            (c, None) if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            (c, _) => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A word that can go into a runtime API command unchanged: printable ASCII other than quotes, `;`, `\` and `#`.
pub fn is_plain_token(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | ';' | '\\' | '#'))
}

/// A `server <name> <address> <params…>` line, split.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerLine {
    address: String,
    weight: Option<String>,
    disabled: bool,
    /// Every parameter other than `weight <w>` and `disabled`, in order.
    others: Vec<String>,
    /// The address and every parameter except `disabled`: what `add server` takes.
    spec: Vec<String>,
}

impl ServerLine {
    fn parse(words: &[&str]) -> ServerLine {
        let address = words.first().copied().unwrap_or_default().to_string();
        let mut weight = None;
        let mut disabled = false;
        let mut others = Vec::new();
        let mut spec = vec![address.clone()];
        let mut params = words.iter().skip(1);
        while let Some(&word) = params.next() {
            match word {
                "weight" => {
                    let value = params.next().copied().unwrap_or_default().to_string();
                    spec.push(word.to_string());
                    spec.push(value.clone());
                    weight = Some(value);
                }
                "disabled" => disabled = true,
                _ => {
                    others.push(word.to_string());
                    spec.push(word.to_string());
                }
            }
        }
        ServerLine {
            address,
            weight,
            disabled,
            others,
            spec,
        }
    }

    fn checked(&self) -> bool {
        self.others.iter().any(|p| p == "check")
    }
}

/// One server change the runtime API makes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerChange {
    /// `set server <backend>/<server> weight <weight>`.
    SetWeight {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// The new weight, as written in the configuration.
        weight: String,
    },
    /// `set server <backend>/<server> addr <ip> port <port>`.
    SetAddress {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// The IP address.
        ip: String,
        /// The port.
        port: u16,
    },
    /// `set server <backend>/<server> state ready|maint`.
    SetState {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// `true`: ready; `false`: maintenance.
        ready: bool,
    },
    /// `add server <backend>/<server> <spec>`, then `enable health` (when checked) and `enable server` (unless
    /// disabled).
    Add {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// The address and parameters, as in the configuration line.
        spec: String,
        /// Whether the line has `check`, so health checks must be enabled.
        check: bool,
        /// Whether the line lacks `disabled`, so the server must be enabled.
        enable: bool,
    },
    /// `set server <backend>/<server> state maint`, then `del server` once it has no connections.
    Remove {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
    },
}

/// A map file whose content changes: its new entries, to load with `prepare map` / `add map` / `commit map`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapUpdate {
    /// The map file name (relative to the maps directory).
    pub file: String,
    /// `(key, value)` per entry, in file order.
    pub entries: Vec<(String, String)>,
}

/// What the runtime API must do to turn the running configuration into the new one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimePlan {
    /// Server changes, in configuration order.
    pub servers: Vec<ServerChange>,
    /// Map files to swap atomically.
    pub maps: Vec<MapUpdate>,
}

impl RuntimePlan {
    /// Whether the plan changes nothing in HAProxy (only files may differ).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.maps.is_empty()
    }
}

/// How a new configuration can be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing HAProxy uses changed.
    Unchanged,
    /// The runtime API can make the change without a reload.
    Runtime(RuntimePlan),
    /// A reload is needed, for the reason given.
    Reload(String),
}

/// Decides how `new` can replace `old` (contract §3).
pub fn plan(old: &Envelope, new: &Envelope) -> Plan {
    plan_indexed(
        old,
        &SectionIndex::of(&old.config),
        new,
        &SectionIndex::of(&new.config),
    )
}

/// [`plan`] with both configurations already indexed (`old_index` is `SectionIndex::of(&old.config)`, likewise
/// `new_index`), for a caller that keeps the running one indexed.
pub fn plan_indexed(
    old: &Envelope,
    old_index: &SectionIndex,
    new: &Envelope,
    new_index: &SectionIndex,
) -> Plan {
    if old == new {
        return Plan::Unchanged;
    }
    let mut runtime = RuntimePlan::default();
    if old.config != new.config {
        if let Err(reason) = plan_config(&old.config, old_index, &new.config, new_index, &mut runtime) {
            return Plan::Reload(reason);
        }
    }
    if let Err(reason) = plan_maps(old, new, &mut runtime) {
        return Plan::Reload(reason);
    }
    if runtime.is_empty() {
        Plan::Unchanged
    } else {
        Plan::Runtime(runtime)
    }
}

fn plan_config(
    old_text: &str,
    old_index: &SectionIndex,
    new_text: &str,
    new_index: &SectionIndex,
    plan: &mut RuntimePlan,
) -> Result<(), String> {
    if old_index.len() != new_index.len() {
        return Err(format!(
            "the number of sections changed ({} → {})",
            old_index.len(),
            new_index.len()
        ));
    }
    for (old, new) in old_index.spans.iter().zip(&new_index.spans) {
        let same_header = old.header(old_text) == new.header(new_text);
        if same_header && old.body(old_text) == new.body(new_text) {
            continue;
        }
        plan_section(&old.section(old_text), &new.section(new_text), plan)?;
    }
    Ok(())
}

/// Compares one section of the old and the new configuration, both normalized.
fn plan_section(old: &Section, new: &Section, plan: &mut RuntimePlan) -> Result<(), String> {
    if old.header != new.header {
        return Err(format!("the section '{}' became '{}'", old.header, new.header));
    }
    let (old_lines, old_servers) = split_servers(old)?;
    let (new_lines, new_servers) = split_servers(new)?;
    if old_lines != new_lines {
        return Err(format!(
            "the lines of '{}' other than servers changed",
            new.header
        ));
    }
    plan_servers(new.name(), &old_servers, &new_servers, plan)
}

type Servers = Vec<(String, ServerLine)>;

/// The section's lines other than `server` lines, and its servers by name in order; fails on a duplicate name.
fn split_servers(section: &Section) -> Result<(Vec<&str>, Servers), String> {
    let mut lines = Vec::new();
    let mut servers: Servers = Vec::new();
    let mut names = BTreeSet::new();
    for line in &section.lines {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["server", name, rest @ ..] if section.holds_servers() && !rest.is_empty() => {
                if !names.insert(name.to_string()) {
                    return Err(format!("'{}' has two servers named '{name}'", section.header));
                }
                servers.push((name.to_string(), ServerLine::parse(rest)));
            }
            _ => lines.push(line.as_str()),
        }
    }
    Ok((lines, servers))
}

fn plan_servers(backend: &str, old: &Servers, new: &Servers, plan: &mut RuntimePlan) -> Result<(), String> {
    if old == new {
        return Ok(());
    }
    let plain = |what: &str, word: &str| {
        if is_plain_token(word) {
            Ok(())
        } else {
            Err(format!(
                "the {what} '{word}' in backend '{backend}' cannot be sent to the runtime API"
            ))
        }
    };
    plain("backend name", backend)?;
    let old_by_name: BTreeMap<&str, &ServerLine> = old.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let new_names: BTreeSet<&str> = new.iter().map(|(n, _)| n.as_str()).collect();
    for (name, line) in new {
        match old_by_name.get(name.as_str()) {
            None => {
                plain("server name", name)?;
                for word in &line.spec {
                    plain("server parameter", word)?;
                }
                plan.servers.push(ServerChange::Add {
                    backend: backend.to_string(),
                    server: name.clone(),
                    spec: line.spec.join(" "),
                    check: line.checked(),
                    enable: !line.disabled,
                });
            }
            Some(before) if *before == line => {}
            Some(before) => {
                if before.others != line.others {
                    return Err(format!(
                        "the server '{name}' in backend '{backend}' changed more than its weight, address or state"
                    ));
                }
                plain("server name", name)?;
                if before.address != line.address {
                    let (ip, port) = ip_and_port(&line.address).ok_or_else(|| {
                        format!(
                            "the server '{name}' in backend '{backend}' moved to '{}', which is not an IP address \
                             with a port",
                            line.address
                        )
                    })?;
                    plan.servers.push(ServerChange::SetAddress {
                        backend: backend.to_string(),
                        server: name.clone(),
                        ip,
                        port,
                    });
                }
                if before.weight != line.weight {
                    let weight = line.weight.clone().unwrap_or_else(|| "1".to_string());
                    plain("weight", &weight)?;
                    plan.servers.push(ServerChange::SetWeight {
                        backend: backend.to_string(),
                        server: name.clone(),
                        weight,
                    });
                }
                if before.disabled != line.disabled {
                    plan.servers.push(ServerChange::SetState {
                        backend: backend.to_string(),
                        server: name.clone(),
                        ready: !line.disabled,
                    });
                }
            }
        }
    }
    for (name, _) in old {
        if !new_names.contains(name.as_str()) {
            plain("server name", name)?;
            plan.servers.push(ServerChange::Remove {
                backend: backend.to_string(),
                server: name.clone(),
            });
        }
    }
    Ok(())
}

/// `ip:port` or `[ipv6]:port` as an IP literal and a port; `None` for names, port ranges or no port.
fn ip_and_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    Some((ip.to_string(), port))
}

fn plan_maps(old: &Envelope, new: &Envelope, plan: &mut RuntimePlan) -> Result<(), String> {
    if let Some(gone) = old.maps.keys().find(|name| !new.maps.contains_key(*name)) {
        return Err(format!("the map file '{gone}' was removed"));
    }
    for (file, content) in &new.maps {
        let Some(before) = old.maps.get(file) else {
            continue;
        };
        if before == content {
            continue;
        }
        if !is_plain_token(file) {
            return Err(format!(
                "the map file name '{file}' cannot be sent to the runtime API"
            ));
        }
        let mut entries = Vec::new();
        for line in content.lines() {
            let words = words(line);
            match words.as_slice() {
                [] => {}
                [key, value] if is_plain_token(key) && is_plain_token(value) => {
                    entries.push((key.clone(), value.clone()));
                }
                _ => {
                    return Err(format!(
                        "the line '{line}' of the map file '{file}' is not a plain key and value"
                    ))
                }
            }
        }
        plan.maps.push(MapUpdate {
            file: file.clone(),
            entries,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
global
    stats socket \"${VAMP_RUNTIME_SOCKET-/run/haproxy.sock}\" mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 5s
frontend g_abc
    bind \"${VAMP_GATEWAY_BIND-0.0.0.0}:9050\"
    http-request set-var(txn.vamp_route) rand(100),map_int(\"${VAMP_MAPS_DIR-/maps}/abc.weights\") if !{ var(txn.vamp_route) -m found }
    use_backend %[var(txn.vamp_route)]
    default_backend g_abc_none
backend g_abc_r0
    balance roundrobin
    server t_1 127.0.0.1:8081 weight 100 check
    server t_2 127.0.0.1:8082 weight 100 check
backend g_abc_r1
    balance roundrobin
backend g_abc_none
";

    fn envelope(config: &str, weights: &str) -> Envelope {
        let mut e = Envelope {
            config: config.to_string(),
            ..Envelope::default()
        };
        e.maps.insert("abc.weights".into(), weights.to_string());
        e
    }

    fn runtime(old: &Envelope, new: &Envelope) -> RuntimePlan {
        match plan(old, new) {
            Plan::Runtime(p) => p,
            other => panic!("expected a runtime plan, got {other:?}"),
        }
    }

    fn reload_reason(old: &Envelope, new: &Envelope) -> String {
        match plan(old, new) {
            Plan::Reload(reason) => reason,
            other => panic!("expected a reload, got {other:?}"),
        }
    }

    fn old() -> Envelope {
        envelope(BASE, "0:99 g_abc_r0\n")
    }

    #[test]
    fn sections_keep_their_lines_without_comments_and_layout() {
        let config = Config::parse("# top\nglobal\n   maxconn   10  # why\n\n  frontend  f \n bind :80\n");
        assert_eq!(
            config.sections,
            vec![
                Section {
                    header: "global".into(),
                    lines: vec!["maxconn 10".into()]
                },
                Section {
                    header: "frontend f".into(),
                    lines: vec!["bind :80".into()]
                },
            ]
        );
    }

    #[test]
    fn hashes_inside_quotes_or_escaped_are_not_comments() {
        let config =
            Config::parse("backend b\n  http-request set-header X \"a # b\"  \n  acl x path /a\\#b # c\n");
        assert_eq!(
            config.sections[0].lines,
            vec!["http-request set-header X \"a # b\"", "acl x path /a\\#b"]
        );
    }

    #[test]
    fn quoted_white_space_is_kept() {
        let config = Config::parse("global\n  log \"a    b\"   local0\n");
        assert_eq!(config.sections[0].lines, vec!["log \"a    b\" local0"]);
    }

    #[test]
    fn lines_before_the_first_section_form_an_unnamed_section() {
        let config = Config::parse("foo bar\nglobal\n");
        assert_eq!(config.sections[0].header, "");
        assert_eq!(config.sections[0].lines, vec!["foo bar"]);
    }

    #[test]
    fn section_headers_are_found_indented_and_before_comments_only_as_whole_words() {
        assert!(is_header("backend g_abc_r0\n"));
        assert!(is_header("  frontend  f \r\n"));
        assert!(is_header("global# top"));
        assert!(is_header("http-errors e"));
        assert!(!is_header("    server t_1 127.0.0.1:80"));
        assert!(!is_header("backends x"));
        assert!(!is_header("global\"x\""));
        assert!(!is_header("# backend x"));
    }

    #[test]
    fn the_index_keeps_comments_before_the_first_section_out_of_the_sections() {
        assert_eq!(
            SectionIndex::of("# written by Vamp\n\nglobal\n  maxconn 10\n").len(),
            1
        );
        assert_eq!(SectionIndex::of("maxconn 10\nglobal\n").len(), 2);
        assert_eq!(SectionIndex::of("# only a comment\n").len(), 0);
    }

    #[test]
    fn one_changed_server_among_many_sections_is_found() {
        let many: String = (0..50)
            .map(|k| {
                format!(
                    "# route r{k}\nbackend g_abc_r{k}\n    server t_{k} 127.0.0.1:{} weight 100 check\n",
                    8000 + k
                )
            })
            .collect();
        let old = envelope(&format!("{BASE}{many}"), "0:99 g_abc_r0\n");
        let new = envelope(
            &format!(
                "{BASE}{}",
                many.replace("8031 weight 100", "8031 weight 7")
                    .replace("# route r40", "# route x")
            ),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(
            runtime(&old, &new).servers,
            vec![ServerChange::SetWeight {
                backend: "g_abc_r31".into(),
                server: "t_31".into(),
                weight: "7".into()
            }]
        );
    }

    #[test]
    fn identical_envelopes_are_unchanged() {
        assert_eq!(plan(&old(), &old()), Plan::Unchanged);
    }

    #[test]
    fn comment_and_layout_changes_are_unchanged() {
        let new = envelope(
            &BASE.replace("    mode http\n", "  mode    http   # the default\n\n"),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(plan(&old(), &new), Plan::Unchanged);
    }

    #[test]
    fn a_weight_change_is_a_runtime_set_weight() {
        let new = envelope(
            &BASE.replace("8082 weight 100", "8082 weight 20"),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(
            runtime(&old(), &new).servers,
            vec![ServerChange::SetWeight {
                backend: "g_abc_r0".into(),
                server: "t_2".into(),
                weight: "20".into()
            }]
        );
    }

    #[test]
    fn an_address_change_is_a_runtime_set_addr() {
        let new = envelope(
            &BASE.replace("127.0.0.1:8081", "10.0.0.7:9000"),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(
            runtime(&old(), &new).servers,
            vec![ServerChange::SetAddress {
                backend: "g_abc_r0".into(),
                server: "t_1".into(),
                ip: "10.0.0.7".into(),
                port: 9000
            }]
        );
    }

    #[test]
    fn an_address_by_name_needs_a_reload() {
        let new = envelope(
            &BASE.replace("127.0.0.1:8081", "shop.example:9000"),
            "0:99 g_abc_r0\n",
        );
        assert!(reload_reason(&old(), &new).contains("not an IP address"));
    }

    #[test]
    fn disabling_a_server_is_a_state_change() {
        let new = envelope(
            &BASE.replace("8082 weight 100 check", "8082 weight 100 check disabled"),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(
            runtime(&old(), &new).servers,
            vec![ServerChange::SetState {
                backend: "g_abc_r0".into(),
                server: "t_2".into(),
                ready: false
            }]
        );
    }

    #[test]
    fn filling_a_free_slot_adds_servers_and_swaps_the_map() {
        let new = envelope(
            &BASE.replace(
                "backend g_abc_r1\n    balance roundrobin\n",
                "backend g_abc_r1\n    balance roundrobin\n    server t_3 127.0.0.1:8083 weight 100 check\n",
            ),
            "0:89 g_abc_r0\n90:99 g_abc_r1\n",
        );
        let plan = runtime(&old(), &new);
        assert_eq!(
            plan.servers,
            vec![ServerChange::Add {
                backend: "g_abc_r1".into(),
                server: "t_3".into(),
                spec: "127.0.0.1:8083 weight 100 check".into(),
                check: true,
                enable: true
            }]
        );
        assert_eq!(
            plan.maps,
            vec![MapUpdate {
                file: "abc.weights".into(),
                entries: vec![
                    ("0:89".into(), "g_abc_r0".into()),
                    ("90:99".into(), "g_abc_r1".into())
                ]
            }]
        );
    }

    #[test]
    fn removing_a_server_is_a_runtime_removal() {
        let new = envelope(
            &BASE.replace("    server t_2 127.0.0.1:8082 weight 100 check\n", ""),
            "0:99 g_abc_r0\n",
        );
        assert_eq!(
            runtime(&old(), &new).servers,
            vec![ServerChange::Remove {
                backend: "g_abc_r0".into(),
                server: "t_2".into()
            }]
        );
    }

    #[test]
    fn a_map_only_change_is_runtime() {
        let new = envelope(BASE, "0:49 g_abc_r0\n50:99 g_abc_r1\n");
        let plan = runtime(&old(), &new);
        assert!(plan.servers.is_empty());
        assert_eq!(plan.maps.len(), 1);
    }

    #[test]
    fn a_new_listener_needs_a_reload() {
        let new = envelope(&BASE.replace(":9050", ":9051"), "0:99 g_abc_r0\n");
        assert!(reload_reason(&old(), &new).contains("g_abc"));
    }

    #[test]
    fn a_new_backend_needs_a_reload() {
        let new = envelope(&format!("{BASE}backend g_abc_r2\n"), "0:99 g_abc_r0\n");
        assert!(reload_reason(&old(), &new).contains("sections"));
    }

    #[test]
    fn other_server_parameters_need_a_reload() {
        let new = envelope(
            &BASE.replace("8082 weight 100 check", "8082 weight 100 check inter 2s"),
            "0:99 g_abc_r0\n",
        );
        assert!(reload_reason(&old(), &new).contains("t_2"));
    }

    #[test]
    fn a_changed_non_server_line_needs_a_reload() {
        let new = envelope(
            &BASE.replace("timeout connect 5s", "timeout connect 6s"),
            "0:99 g_abc_r0\n",
        );
        assert!(reload_reason(&old(), &new).contains("defaults"));
    }

    #[test]
    fn a_removed_map_needs_a_reload() {
        let new = Envelope {
            config: BASE.into(),
            ..Envelope::default()
        };
        assert!(reload_reason(&old(), &new).contains("abc.weights"));
    }

    #[test]
    fn a_new_map_file_alone_changes_nothing_in_haproxy() {
        let mut new = old();
        new.maps.insert("unused.map".into(), "a b\n".into());
        assert_eq!(plan(&old(), &new), Plan::Unchanged);
    }

    #[test]
    fn map_lines_with_quotes_or_extra_words_need_a_reload() {
        let new = envelope(BASE, "0:99 \"g_abc_r0\"\n");
        assert!(reload_reason(&old(), &new).contains("plain key"));
        let new = envelope(BASE, "0:99 g_abc_r0 extra\n");
        assert!(reload_reason(&old(), &new).contains("plain key"));
    }

    #[test]
    fn an_added_server_with_a_quoted_parameter_needs_a_reload() {
        let new = envelope(
            &BASE.replace(
                "backend g_abc_r1\n    balance roundrobin\n",
                "backend g_abc_r1\n    balance roundrobin\n    server t_3 127.0.0.1:8083 check-sni \"a;b\"\n",
            ),
            "0:99 g_abc_r0\n",
        );
        assert!(reload_reason(&old(), &new).contains("runtime API"));
    }

    #[test]
    fn duplicate_server_names_need_a_reload() {
        let new = envelope(
            &BASE.replace("server t_2 127.0.0.1:8082", "server t_1 127.0.0.1:8082"),
            "0:99 g_abc_r0\n",
        );
        assert!(reload_reason(&old(), &new).contains("two servers"));
    }

    #[test]
    fn servers_in_frontends_are_ordinary_lines() {
        let old = Config::parse("frontend f\n  server x 1.2.3.4:5\n");
        let (lines, servers) = split_servers(&old.sections[0]).unwrap();
        assert_eq!(lines, vec!["server x 1.2.3.4:5"]);
        assert!(servers.is_empty());
    }

    #[test]
    fn ipv6_addresses_are_ip_literals() {
        assert_eq!(ip_and_port("[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(ip_and_port("127.0.0.1"), None);
        assert_eq!(ip_and_port("127.0.0.1:0"), None);
        assert_eq!(ip_and_port("h:80"), None);
    }
}
