//! Interpolation: replacing the references of a value by what a [`ValueSource`] says they are.
//!
//! Strictness is a parameter. [`Strictness::Lenient`] is the original's behaviour: a reference nobody can resolve
//! becomes empty text, silently, so `jdbc://$db.host:$db.ports.pg/shop` may reach a container as
//! `jdbc://:/shop`. [`Strictness::Strict`] refuses instead and names every unresolved reference, which is what a
//! caller wants once it knows all values should exist (after the dependencies' gateways have ports). A malformed
//! value is an error in both modes, as in the original.

use std::fmt;

use indexmap::IndexMap;

use super::reference::{parse_value, units, Reference, ReferenceError, TraitGroup, Unit};
use crate::dsl::{ArtifactId, DslError, ErrorCode};

/// What to do with a reference no source can resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strictness {
    /// Resolve it to empty text (the original's behaviour).
    #[default]
    Lenient,
    /// Fail with [`InterpolationError::Unresolved`] naming it.
    Strict,
}

/// Where the values of references come from. Every method answers `None` for "not known"; the interpolation
/// decides, by its [`Strictness`], what that means.
///
/// `cluster` is a cluster name. References written with dependency aliases are mapped to cluster names by wrapping
/// a source in [`Aliased`].
pub trait ValueSource {
    /// `$cluster.host` (and `$cluster.hosts.host`): where the cluster is reachable — in a deployment, the gateway
    /// agent host (`vamp.gateway-driver.host`).
    fn host(&self, cluster: &str) -> Option<String>;

    /// `$cluster.ports.port`: in a deployment, the port of the internal cluster gateway `deployment/cluster/port`,
    /// not the container port.
    fn port(&self, cluster: &str, port: &str) -> Option<u16>;

    /// `$cluster.environment_variables.name`.
    fn environment(&self, cluster: &str, name: &str) -> Option<String>;

    /// `$cluster.constants.name`.
    fn constant(&self, cluster: &str, name: &str) -> Option<String>;

    /// `$name`: a variable or constant of the service being resolved (or a workflow value).
    fn local(&self, name: &str) -> Option<String>;

    /// `${scheme://path}`.
    fn global(&self, scheme: &str, path: &str) -> Option<String>;

    /// `$cluster.host:$cluster.ports.port` resolved as one unit: the address of the cluster gateway. The default
    /// joins [`ValueSource::host`] and [`ValueSource::port`]; a source that knows the gateway's service address
    /// overrides it.
    fn host_port(&self, cluster: &str, port: &str) -> Option<String> {
        Some(format!("{}:{}", self.host(cluster)?, self.port(cluster, port)?))
    }
}

/// The value of one reference, or `None` when `source` does not know it. `$c.hosts.host` is the host of `c`; any
/// other name in the `hosts` group is unknown.
pub fn resolve(reference: &Reference, source: &dyn ValueSource) -> Option<String> {
    match reference {
        Reference::Trait { cluster, group, name } => match group {
            TraitGroup::Ports => source.port(cluster, name).map(|p| p.to_string()),
            TraitGroup::EnvironmentVariables => source.environment(cluster, name),
            TraitGroup::Constants => source.constant(cluster, name),
            TraitGroup::Hosts => (name == "host").then(|| source.host(cluster)).flatten(),
        },
        Reference::Host(cluster) => source.host(cluster),
        Reference::Local(name) => source.local(name),
        Reference::Global { scheme, path } => source.global(scheme, path),
    }
}

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// The value is malformed.
    #[error(transparent)]
    Syntax(#[from] ReferenceError),
    /// Strict interpolation met references no source resolves; each as written in braced form
    /// (`${db.ports.web}`), in order of appearance.
    #[error("cannot resolve {}", .references.join(", "))]
    Unresolved {
        /// The unresolved references.
        references: Vec<String>,
    },
}

impl InterpolationError {
    /// The error as a DSL error about `artifact` at `path`: `ParserError` for a malformed value,
    /// `UnresolvedEnvironmentValueError` for unresolved references.
    pub fn into_dsl(self, artifact: ArtifactId, path: impl Into<String>) -> DslError {
        match self {
            InterpolationError::Syntax(e) => e.into_dsl(artifact, path),
            InterpolationError::Unresolved { references } => DslError::new(
                ErrorCode::UnresolvedEnvironmentValueError,
                artifact,
                path,
                format!(
                    "Cannot resolve {}: no cluster, dependency, variable or configuration value provides it. Check \
                     the breed's dependencies and the names referenced, or resolve leniently to get empty text.",
                    references.join(", ")
                ),
            ),
        }
    }
}

/// Interpolates `text`: `$$` becomes `$`, every reference its value, and every `$c.host:$c.ports.p` the cluster
/// gateway address from [`ValueSource::host_port`].
pub fn interpolate(
    text: &str,
    source: &dyn ValueSource,
    strictness: Strictness,
) -> Result<String, InterpolationError> {
    let parts = parse_value(text)?;
    let mut out = String::with_capacity(text.len());
    let mut unresolved = Vec::new();
    for unit in units(&parts) {
        let (value, written) = match unit {
            Unit::Text(t) => {
                out.push_str(t);
                continue;
            }
            Unit::Reference(r) => (resolve(r, source), r.to_string()),
            Unit::HostPort { cluster, port } => (
                source.host_port(cluster, port),
                format!("${{{cluster}.host}}:${{{cluster}.ports.{port}}}"),
            ),
        };
        match value {
            Some(v) => out.push_str(&v),
            None => unresolved.push(written),
        }
    }
    if strictness == Strictness::Strict && !unresolved.is_empty() {
        return Err(InterpolationError::Unresolved {
            references: unresolved,
        });
    }
    Ok(out)
}

/// A source that reads references written with dependency aliases: a cluster that is a key of `aliases` is asked
/// for under the mapped cluster name; other clusters, locals and globals pass through unchanged.
pub struct Aliased<'a> {
    inner: &'a dyn ValueSource,
    aliases: &'a IndexMap<String, String>,
}

impl<'a> Aliased<'a> {
    /// `inner`, read through `aliases` (alias → cluster name).
    pub fn new(inner: &'a dyn ValueSource, aliases: &'a IndexMap<String, String>) -> Self {
        Aliased { inner, aliases }
    }

    fn cluster<'c>(&'c self, cluster: &'c str) -> &'c str {
        self.aliases.get(cluster).map_or(cluster, String::as_str)
    }
}

impl fmt::Debug for Aliased<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aliased")
            .field("aliases", self.aliases)
            .finish_non_exhaustive()
    }
}

impl ValueSource for Aliased<'_> {
    fn host(&self, cluster: &str) -> Option<String> {
        self.inner.host(self.cluster(cluster))
    }

    fn port(&self, cluster: &str, port: &str) -> Option<u16> {
        self.inner.port(self.cluster(cluster), port)
    }

    fn environment(&self, cluster: &str, name: &str) -> Option<String> {
        self.inner.environment(self.cluster(cluster), name)
    }

    fn constant(&self, cluster: &str, name: &str) -> Option<String> {
        self.inner.constant(self.cluster(cluster), name)
    }

    fn local(&self, name: &str) -> Option<String> {
        self.inner.local(name)
    }

    fn global(&self, scheme: &str, path: &str) -> Option<String> {
        self.inner.global(scheme, path)
    }

    fn host_port(&self, cluster: &str, port: &str) -> Option<String> {
        self.inner.host_port(self.cluster(cluster), port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Knows cluster `db` (host 10.0.0.2, port `pg` 40001), local `x`, and `config://vamp.name`.
    struct Fixed;

    impl ValueSource for Fixed {
        fn host(&self, cluster: &str) -> Option<String> {
            (cluster == "db").then(|| "10.0.0.2".to_string())
        }
        fn port(&self, cluster: &str, port: &str) -> Option<u16> {
            (cluster == "db" && port == "pg").then_some(40001)
        }
        fn environment(&self, cluster: &str, name: &str) -> Option<String> {
            (cluster == "db" && name == "USER").then(|| "shop".to_string())
        }
        fn constant(&self, cluster: &str, name: &str) -> Option<String> {
            (cluster == "db" && name == "SCHEMA").then(|| "public".to_string())
        }
        fn local(&self, name: &str) -> Option<String> {
            (name == "x").then(|| "local-x".to_string())
        }
        fn global(&self, scheme: &str, path: &str) -> Option<String> {
            (scheme == "config" && path == "vamp.name").then(|| "vamp".to_string())
        }
    }

    #[test]
    fn every_reference_form_is_resolved() {
        let out = interpolate(
            "$db.host,$db.ports.pg,$db.environment_variables.USER,$db.constants.SCHEMA,$db.hosts.host,$x,${config://vamp.name},$$",
            &Fixed,
            Strictness::Strict,
        )
        .unwrap();
        assert_eq!(out, "10.0.0.2,40001,shop,public,10.0.0.2,local-x,vamp,$");
    }

    #[test]
    fn host_port_pair_uses_the_host_port_method() {
        struct Gateway;
        impl ValueSource for Gateway {
            fn host(&self, _: &str) -> Option<String> {
                Some("vga".into())
            }
            fn port(&self, _: &str, _: &str) -> Option<u16> {
                Some(40001)
            }
            fn environment(&self, _: &str, _: &str) -> Option<String> {
                None
            }
            fn constant(&self, _: &str, _: &str) -> Option<String> {
                None
            }
            fn local(&self, _: &str) -> Option<String> {
                None
            }
            fn global(&self, _: &str, _: &str) -> Option<String> {
                None
            }
            fn host_port(&self, cluster: &str, port: &str) -> Option<String> {
                Some(format!("gw-{cluster}-{port}:1"))
            }
        }
        assert_eq!(
            interpolate("$db.host:$db.ports.pg", &Gateway, Strictness::Strict).unwrap(),
            "gw-db-pg:1"
        );
        assert_eq!(
            interpolate("$db.host $db.ports.pg", &Gateway, Strictness::Strict).unwrap(),
            "vga 40001"
        );
    }

    #[test]
    fn lenient_resolves_the_unknown_to_empty_text() {
        let out = interpolate(
            "jdbc://$cache.host:$cache.ports.pg/$y,$db.host",
            &Fixed,
            Strictness::Lenient,
        )
        .unwrap();
        assert_eq!(out, "jdbc:///,10.0.0.2");
    }

    #[test]
    fn strict_names_every_unresolved_reference() {
        let err = interpolate(
            "$db.host $cache.host $db.ports.web $y",
            &Fixed,
            Strictness::Strict,
        )
        .unwrap_err();
        assert_eq!(
            err,
            InterpolationError::Unresolved {
                references: vec!["${cache.host}".into(), "${db.ports.web}".into(), "${y}".into()]
            }
        );
        let dsl = err.into_dsl(ArtifactId::new(crate::model::Kind::Deployment, "shop"), "x");
        assert_eq!(dsl.code, ErrorCode::UnresolvedEnvironmentValueError);
        assert!(dsl.message.contains("${cache.host}"), "{}", dsl.message);
    }

    #[test]
    fn only_host_is_known_in_the_hosts_group() {
        assert_eq!(
            interpolate("$db.hosts.other", &Fixed, Strictness::Lenient).unwrap(),
            ""
        );
    }

    #[test]
    fn malformed_values_fail_in_both_modes() {
        for strictness in [Strictness::Lenient, Strictness::Strict] {
            let err = interpolate("a $ b", &Fixed, strictness).unwrap_err();
            assert!(
                matches!(
                    err,
                    InterpolationError::Syntax(ReferenceError { position: 3, .. })
                ),
                "{err:?}"
            );
        }
    }

    #[test]
    fn aliases_map_to_cluster_names() {
        let aliases = IndexMap::from([("database".to_string(), "db".to_string())]);
        let source = Aliased::new(&Fixed, &aliases);
        let out = interpolate(
            "$database.host:$database.ports.pg $x",
            &source,
            Strictness::Strict,
        )
        .unwrap();
        assert_eq!(out, "10.0.0.2:40001 local-x");
    }
}
