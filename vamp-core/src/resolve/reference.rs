//! The value-reference grammar: how a trait value such as `jdbc://$db.host:$db.ports.pg/shop` splits into literal
//! text and references, reproducing the original's parser (`ValueResolverParser.scala`) rule for rule.
//!
//! * `$$` is a literal `$`.
//! * `$name…` (bare) or `${ name… }` (braced, white space allowed inside the braces) is a reference. A name part is
//!   one or more characters other than ` \n\r\t\f/[].{}:;,$`; parts are joined by `.`.
//! * The first form that matches wins, in this order:
//!   `scheme://part(.part)*` → [`Reference::Global`], `cluster.group.name` → [`Reference::Trait`],
//!   `cluster.host` → [`Reference::Host`], `name` → [`Reference::Local`]. Whatever follows the matched reference is
//!   text again, so `$a.b` is the local reference `a` followed by the text `.b`.
//!
//! Differences from the original, on purpose: a three-part reference with an unknown group (`$a.b.c`) is an
//! error here, where the original silently turned it into the text `a.b.c`; and `$a.hostname` is the local
//! reference `a` followed by `.hostname`, where the original read a host reference followed by `name`.

use std::fmt;
use std::ops::Range;

use indexmap::IndexMap;

use crate::dsl::{ArtifactId, DslError, ErrorCode};

/// The characters that end a bare name part.
const TERMINATORS: &[char] = &[
    ' ', '\n', '\r', '\t', '\u{c}', '/', '[', ']', '.', '{', '}', ':', ';', ',', '$',
];

/// White space allowed between `${`, the reference and `}`.
const BRACE_SPACE: &[char] = &[' ', '\n', '\r', '\t', '\u{c}'];

/// The group of a three-part trait reference `cluster.group.name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraitGroup {
    /// `ports`: the cluster's internal gateway port for a breed port.
    Ports,
    /// `environment_variables`: an environment variable of the cluster's services.
    EnvironmentVariables,
    /// `constants`: a constant of the cluster's breeds.
    Constants,
    /// `hosts`: the cluster's host (`cluster.hosts.host`).
    Hosts,
}

impl TraitGroup {
    /// Every group, in the order error messages list them.
    pub const ALL: [TraitGroup; 4] = [
        TraitGroup::Ports,
        TraitGroup::EnvironmentVariables,
        TraitGroup::Constants,
        TraitGroup::Hosts,
    ];

    /// The group as written in a reference.
    pub fn as_str(self) -> &'static str {
        match self {
            TraitGroup::Ports => "ports",
            TraitGroup::EnvironmentVariables => "environment_variables",
            TraitGroup::Constants => "constants",
            TraitGroup::Hosts => "hosts",
        }
    }

    /// The group written `text`; `None` for anything else (groups are case-sensitive, as in the original).
    pub fn parse(text: &str) -> Option<TraitGroup> {
        TraitGroup::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

impl fmt::Display for TraitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// `$cluster.group.name`, e.g. `$db.ports.pg`. In a breed, `cluster` is a dependency alias until the
    /// deployment maps it to a cluster name.
    Trait {
        /// The cluster (or dependency alias).
        cluster: String,
        /// The group.
        group: TraitGroup,
        /// The trait's name inside the group.
        name: String,
    },
    /// `$cluster.host`: where the cluster is reachable (the gateway agent host).
    Host(String),
    /// `$name`: a variable or constant of the same service (in workflows also `workflow`, `namespace`, `data`).
    Local(String),
    /// `${scheme://path}`: a value from outside the model; `conf`, `config` and `configuration` read the
    /// configuration.
    Global {
        /// The scheme before `://`.
        scheme: String,
        /// The dotted path after `://`.
        path: String,
    },
}

impl Reference {
    /// The cluster (or alias) the reference is about; `None` for local and global references.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Reference::Trait { cluster, .. } | Reference::Host(cluster) => Some(cluster),
            Reference::Local(_) | Reference::Global { .. } => None,
        }
    }

    /// The same reference about another cluster; local and global references are returned unchanged.
    pub fn with_cluster(&self, new_cluster: &str) -> Reference {
        match self {
            Reference::Trait { group, name, .. } => Reference::Trait {
                cluster: new_cluster.to_string(),
                group: *group,
                name: name.clone(),
            },
            Reference::Host(_) => Reference::Host(new_cluster.to_string()),
            other => other.clone(),
        }
    }

    /// The reference without `$`, as the original names it: `db.ports.pg`, `db.host`, `x`, `config://a.b`.
    pub fn name(&self) -> String {
        match self {
            Reference::Trait { cluster, group, name } => format!("{cluster}.{group}.{name}"),
            Reference::Host(cluster) => format!("{cluster}.host"),
            Reference::Local(name) => name.clone(),
            Reference::Global { scheme, path } => format!("{scheme}://{path}"),
        }
    }
}

impl fmt::Display for Reference {
    /// The reference as written in the braced form, which reads back to the same reference wherever it stands:
    /// `${db.ports.pg}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}}", self.name())
    }
}

/// A piece of a parsed value: literal text (with `$$` already turned into `$`) or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// A reference.
    Reference(Reference),
}

/// A malformed value: where (1-based character position inside the value) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct ReferenceError {
    /// 1-based position, in characters, of the offending character inside the value.
    pub position: usize,
    /// What is wrong and how to write it instead.
    pub message: String,
}

impl ReferenceError {
    /// The error as a DSL error (`ParserError`) about `artifact` at field `path`.
    pub fn into_dsl(self, artifact: ArtifactId, path: impl Into<String>) -> DslError {
        DslError::new(
            ErrorCode::ParserError,
            artifact,
            path,
            format!(
                "Malformed value reference at character {}: {}",
                self.position, self.message
            ),
        )
    }
}

/// Parses a value into text and references. Adjacent text is joined into one [`Part::Text`]; an empty value has
/// no parts. Fails on a `$` that starts no reference, an unclosed or malformed `${…}`, and a three-part reference
/// whose group is not `ports`, `environment_variables`, `constants` or `hosts`.
pub fn parse_value(text: &str) -> Result<Vec<Part>, ReferenceError> {
    Ok(parse_spanned(text)?.into_iter().map(|(part, _)| part).collect())
}

/// The references of a value, in order. A value that does not parse has none here; validators call
/// [`parse_value`] to report why.
pub fn references(text: &str) -> Vec<Reference> {
    parse_value(text)
        .map(|parts| {
            parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Reference(r) => Some(r),
                    Part::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A unit of resolution: text, one reference, or the pair `$c.host:$c.ports.p` that is resolved as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// Literal text.
    Text(&'a str),
    /// A reference resolved on its own.
    Reference(&'a Reference),
    /// `$cluster.host:$cluster.ports.port` (same cluster on both sides): resolved to the address of the cluster
    /// gateway for `port`, `host:port`, as one value.
    HostPort {
        /// The cluster (or alias).
        cluster: &'a str,
        /// The breed port name.
        port: &'a str,
    },
}

/// When `parts` starts with `$c.host`, the text `:` and `$c.ports.p` (the same `c`), the cluster and the port:
/// the original resolves that pattern as one unit. The `:` must be the whole text between the two references.
pub fn host_port_at(parts: &[Part]) -> Option<(&str, &str)> {
    match parts {
        [Part::Reference(Reference::Host(host)), Part::Text(colon), Part::Reference(Reference::Trait {
            cluster,
            group: TraitGroup::Ports,
            name,
        }), ..]
            if colon == ":" && host == cluster =>
        {
            Some((cluster.as_str(), name.as_str()))
        }
        _ => None,
    }
}

/// The units of resolution of parsed parts: every `$c.host:$c.ports.p` becomes one [`Unit::HostPort`].
pub fn units(parts: &[Part]) -> Vec<Unit<'_>> {
    let mut out = Vec::with_capacity(parts.len());
    let mut rest = parts;
    while let Some((first, tail)) = rest.split_first() {
        if let Some((cluster, port)) = host_port_at(rest) {
            out.push(Unit::HostPort { cluster, port });
            rest = rest.get(3..).unwrap_or_default();
            continue;
        }
        out.push(match first {
            Part::Text(t) => Unit::Text(t),
            Part::Reference(r) => Unit::Reference(r),
        });
        rest = tail;
    }
    out
}

/// Rewrites the cluster part of every trait and host reference whose cluster is a key of `clusters` to the mapped
/// name, leaving everything else byte for byte as written. Used to turn dependency aliases into cluster names
/// (`$db.host` → `$shop-db.host`). A rewritten reference keeps the form, bare or braced, it was written in; a
/// cluster name with a character that ends a name part (`.`, `:`, …) cannot be referenced in either form.
pub fn rewrite_clusters(text: &str, clusters: &IndexMap<String, String>) -> Result<String, ReferenceError> {
    let mut out = String::with_capacity(text.len());
    let mut written = 0;
    for (part, span) in parse_spanned(text)? {
        let Part::Reference(reference) = part else {
            continue;
        };
        let Some(new_cluster) = reference.cluster().and_then(|c| clusters.get(c)) else {
            continue;
        };
        let replaced = reference.with_cluster(new_cluster);
        out.push_str(text.get(written..span.start).unwrap_or_default());
        let braced = text.get(span.clone()).is_some_and(|s| s.starts_with("${"));
        if braced {
            out.push_str(&replaced.to_string());
        } else {
            out.push('$');
            out.push_str(&replaced.name());
        }
        written = span.end;
    }
    out.push_str(text.get(written..).unwrap_or_default());
    Ok(out)
}

/// Parses `text` into parts, each with the byte range it was read from (for a reference: from `$` to its end).
fn parse_spanned(text: &str) -> Result<Vec<(Part, Range<usize>)>, ReferenceError> {
    Scanner::new(text).parse()
}

/// A cursor over the characters of a value, remembering each character's byte offset.
struct Scanner<'a> {
    text: &'a str,
    chars: Vec<char>,
    offsets: Vec<usize>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let (offsets, chars): (Vec<usize>, Vec<char>) = text.char_indices().unzip();
        Scanner { text, chars, offsets }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn byte(&self, i: usize) -> usize {
        self.offsets.get(i).copied().unwrap_or(self.text.len())
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.text
            .get(self.byte(from)..self.byte(to))
            .unwrap_or_default()
            .to_string()
    }

    fn starts_with(&self, i: usize, s: &str) -> bool {
        self.text
            .get(self.byte(i)..)
            .is_some_and(|rest| rest.starts_with(s))
    }

    /// The end of the name part starting at `i` (equal to `i` when there is none).
    fn part_end(&self, i: usize) -> usize {
        let mut j = i;
        while self.at(j).is_some_and(|c| !TERMINATORS.contains(&c)) {
            j += 1;
        }
        j
    }

    fn skip_space(&self, i: usize) -> usize {
        let mut j = i;
        while self.at(j).is_some_and(|c| BRACE_SPACE.contains(&c)) {
            j += 1;
        }
        j
    }

    fn error(&self, i: usize, message: impl Into<String>) -> ReferenceError {
        ReferenceError {
            position: i + 1,
            message: message.into(),
        }
    }

    fn parse(&self) -> Result<Vec<(Part, Range<usize>)>, ReferenceError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut text_start = 0;
        let mut i = 0;
        while let Some(c) = self.at(i) {
            if c != '$' {
                text.push(c);
                i += 1;
                continue;
            }
            if self.at(i + 1) == Some('$') {
                text.push('$');
                i += 2;
                continue;
            }
            let (reference, end) = if self.at(i + 1) == Some('{') {
                self.braced(i)?
            } else {
                self.bare(i)?
            };
            if !text.is_empty() {
                parts.push((
                    Part::Text(std::mem::take(&mut text)),
                    self.byte(text_start)..self.byte(i),
                ));
            }
            parts.push((Part::Reference(reference), self.byte(i)..self.byte(end)));
            i = end;
            text_start = end;
        }
        if !text.is_empty() {
            parts.push((Part::Text(text), self.byte(text_start)..self.text.len()));
        }
        Ok(parts)
    }

    /// `$name…` at `dollar`; returns the reference and the index after it.
    fn bare(&self, dollar: usize) -> Result<(Reference, usize), ReferenceError> {
        self.variable(dollar + 1)?.ok_or_else(|| {
            self.error(
                dollar,
                "'$' must start a reference (`$name`, `$cluster.host`, `${…}`); write '$$' for a literal '$'",
            )
        })
    }

    /// `${ name… }` at `dollar`; returns the reference and the index after `}`.
    fn braced(&self, dollar: usize) -> Result<(Reference, usize), ReferenceError> {
        let start = self.skip_space(dollar + 2);
        let Some((reference, end)) = self.variable(start)? else {
            return Err(match self.at(start) {
                Some('}') => self.error(start, "empty reference '${}'; write '$$' for a literal '$'"),
                Some(c) => self.error(
                    start,
                    format!("unexpected '{c}' after '${{'; expected a reference name"),
                ),
                None => self.error(dollar, "'${' is not closed; expected a reference name and '}'"),
            });
        };
        let close = self.skip_space(end);
        match self.at(close) {
            Some('}') => Ok((reference, close + 1)),
            Some(c) => Err(self.error(
                close,
                format!(
                    "unexpected '{c}' in '${{{}…}}'; a braced reference holds one of `name`, `cluster.host`, \
                     `cluster.group.name` or `scheme://path` and then '}}'",
                    reference.name()
                ),
            )),
            None => Err(self.error(
                dollar,
                format!("'${{{}' is not closed; add '}}'", reference.name()),
            )),
        }
    }

    /// The longest reference starting at `i` by the grammar's rules, or `None` when no name part starts there.
    fn variable(&self, i: usize) -> Result<Option<(Reference, usize)>, ReferenceError> {
        let first_end = self.part_end(i);
        if first_end == i {
            return Ok(None);
        }
        let first = self.slice(i, first_end);
        if self.starts_with(first_end, "://") {
            let path_start = first_end + 3;
            let mut end = self.part_end(path_start);
            if end > path_start {
                while self.at(end) == Some('.') && self.part_end(end + 1) > end + 1 {
                    end = self.part_end(end + 1);
                }
                return Ok(Some((
                    Reference::Global {
                        scheme: first,
                        path: self.slice(path_start, end),
                    },
                    end,
                )));
            }
        }
        if self.at(first_end) == Some('.') {
            let second_start = first_end + 1;
            let second_end = self.part_end(second_start);
            if second_end > second_start {
                let second = self.slice(second_start, second_end);
                if self.at(second_end) == Some('.') {
                    let third_start = second_end + 1;
                    let third_end = self.part_end(third_start);
                    if third_end > third_start {
                        let group = TraitGroup::parse(&second).ok_or_else(|| {
                            self.error(
                                second_start,
                                format!(
                                    "unknown group '{second}' in reference '{first}.{second}.{}'; expected one of \
                                     ports, environment_variables, constants, hosts",
                                    self.slice(third_start, third_end)
                                ),
                            )
                        })?;
                        let name = self.slice(third_start, third_end);
                        return Ok(Some((
                            Reference::Trait {
                                cluster: first,
                                group,
                                name,
                            },
                            third_end,
                        )));
                    }
                }
                if second == "host" {
                    return Ok(Some((Reference::Host(first), second_end)));
                }
            }
        }
        Ok(Some((Reference::Local(first), first_end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Part {
        Part::Text(s.to_string())
    }

    fn reference(r: Reference) -> Part {
        Part::Reference(r)
    }

    fn ports(cluster: &str, name: &str) -> Reference {
        Reference::Trait {
            cluster: cluster.into(),
            group: TraitGroup::Ports,
            name: name.into(),
        }
    }

    #[test]
    fn plain_text_is_one_part_and_empty_text_none() {
        assert_eq!(parse_value("plain value").unwrap(), vec![text("plain value")]);
        assert_eq!(parse_value("").unwrap(), vec![]);
    }

    #[test]
    fn double_dollar_is_a_literal_dollar_joined_with_its_text() {
        assert_eq!(
            parse_value("cost: 5$$ each").unwrap(),
            vec![text("cost: 5$ each")]
        );
        assert_eq!(parse_value("$$db.host").unwrap(), vec![text("$db.host")]);
    }

    #[test]
    fn three_parts_make_a_trait_reference_for_each_group() {
        for group in TraitGroup::ALL {
            let parsed = parse_value(&format!("$db.{group}.x")).unwrap();
            assert_eq!(
                parsed,
                vec![reference(Reference::Trait {
                    cluster: "db".into(),
                    group,
                    name: "x".into()
                })]
            );
        }
    }

    #[test]
    fn two_parts_ending_in_host_make_a_host_reference() {
        assert_eq!(
            parse_value("$db.host").unwrap(),
            vec![reference(Reference::Host("db".into()))]
        );
    }

    #[test]
    fn one_part_is_a_local_reference_and_a_dot_ends_it() {
        assert_eq!(
            parse_value("$x").unwrap(),
            vec![reference(Reference::Local("x".into()))]
        );
        assert_eq!(
            parse_value("$a.b").unwrap(),
            vec![reference(Reference::Local("a".into())), text(".b")]
        );
        assert_eq!(
            parse_value("$a.hostname").unwrap(),
            vec![reference(Reference::Local("a".into())), text(".hostname")]
        );
    }

    #[test]
    fn every_terminator_ends_a_bare_reference() {
        for t in [
            ' ', '\n', '\r', '\t', '\u{c}', '/', '[', ']', '{', '}', ':', ';', ',',
        ] {
            let parsed = parse_value(&format!("$x{t}rest")).unwrap();
            assert_eq!(
                parsed,
                vec![reference(Reference::Local("x".into())), text(&format!("{t}rest"))],
                "{t:?}"
            );
        }
        assert_eq!(
            parse_value("$x$y").unwrap(),
            vec![
                reference(Reference::Local("x".into())),
                reference(Reference::Local("y".into()))
            ]
        );
    }

    #[test]
    fn global_reference_keeps_dots_in_its_path() {
        let expected = vec![reference(Reference::Global {
            scheme: "config".into(),
            path: "vamp.gateway-driver.host".into(),
        })];
        assert_eq!(
            parse_value("${config://vamp.gateway-driver.host}").unwrap(),
            expected
        );
        assert_eq!(
            parse_value("${ config://vamp.gateway-driver.host }").unwrap(),
            expected
        );
    }

    #[test]
    fn braced_form_joins_reference_and_following_text() {
        assert_eq!(
            parse_value("${x}y").unwrap(),
            vec![reference(Reference::Local("x".into())), text("y")]
        );
        assert_eq!(
            parse_value("http://${db.host}:${db.ports.web}/api").unwrap(),
            vec![
                text("http://"),
                reference(Reference::Host("db".into())),
                text(":"),
                reference(ports("db", "web")),
                text("/api")
            ]
        );
    }

    #[test]
    fn unknown_group_is_an_error_at_the_group() {
        let e = parse_value("x=$db.port.web").unwrap_err();
        assert_eq!(e.position, 7);
        assert!(e.message.contains("unknown group 'port'"), "{}", e.message);
    }

    #[test]
    fn lone_dollar_is_an_error_at_the_dollar() {
        assert_eq!(parse_value("5$").unwrap_err().position, 2);
        assert_eq!(parse_value("a $ b").unwrap_err().position, 3);
        assert!(parse_value("$.x").unwrap_err().message.contains("'$$'"));
    }

    #[test]
    fn braced_errors_say_where() {
        assert_eq!(parse_value("ab${").unwrap_err().position, 3);
        assert_eq!(parse_value("${}").unwrap_err().position, 3);
        let unclosed = parse_value("${db.host").unwrap_err();
        assert_eq!(unclosed.position, 1);
        assert!(unclosed.message.contains("not closed"));
        let stray = parse_value("${a.b}").unwrap_err();
        assert_eq!(stray.position, 4);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(parse_value("é€$").unwrap_err().position, 3);
    }

    #[test]
    fn host_and_port_of_one_cluster_are_one_unit() {
        let parts = parse_value("$db.host:$db.ports.pg").unwrap();
        assert_eq!(host_port_at(&parts), Some(("db", "pg")));
        assert_eq!(
            units(&parts),
            vec![Unit::HostPort {
                cluster: "db",
                port: "pg"
            }]
        );
    }

    #[test]
    fn host_and_port_of_different_clusters_stay_apart() {
        let parts = parse_value("$db.host:$cache.ports.pg").unwrap();
        assert_eq!(host_port_at(&parts), None);
        assert_eq!(units(&parts).len(), 3);
        let spaced = parse_value("$db.host : $db.ports.pg").unwrap();
        assert_eq!(host_port_at(&spaced), None);
    }

    #[test]
    fn references_lists_only_references() {
        assert_eq!(
            references("jdbc://$db.host:$db.ports.pg/${config://a.b}$$"),
            vec![
                Reference::Host("db".into()),
                ports("db", "pg"),
                Reference::Global {
                    scheme: "config".into(),
                    path: "a.b".into()
                }
            ]
        );
        assert!(references("$").is_empty());
    }

    #[test]
    fn rewrite_changes_only_mapped_clusters() {
        let aliases = IndexMap::from([("db".to_string(), "shop-db".to_string())]);
        assert_eq!(
            rewrite_clusters("$db.host:${db.ports.pg} $cache.host $db $$db.host", &aliases).unwrap(),
            "$shop-db.host:${shop-db.ports.pg} $cache.host $db $$db.host"
        );
        assert!(rewrite_clusters("$db.x.y", &aliases).is_err());
    }

    #[test]
    fn display_is_the_braced_form_and_reads_back() {
        for r in [
            ports("db", "pg"),
            Reference::Host("db".into()),
            Reference::Local("x".into()),
            Reference::Global {
                scheme: "conf".into(),
                path: "a.b".into(),
            },
        ] {
            assert_eq!(
                parse_value(&r.to_string()).unwrap(),
                vec![Part::Reference(r.clone())]
            );
        }
    }
}
