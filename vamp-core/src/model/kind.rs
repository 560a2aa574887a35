//! The kinds of artifact Vamp stores, with their singular and plural names as the API and the DSL spell them.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// An artifact kind. `kind:` in the DSL and the `/api/v1/{kind}` path accept the singular and the plural name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// A service definition.
    Breed,
    /// How services fit together.
    Blueprint,
    /// What runs.
    Deployment,
    /// How traffic reaches services.
    Gateway,
    /// A stored route.
    Route,
    /// A stored routing condition.
    Condition,
    /// A stored path rewrite.
    Rewrite,
    /// A stored scale.
    Scale,
    /// A stored service level agreement.
    Sla,
    /// A stored escalation.
    Escalation,
    /// A script or container run on a schedule.
    Workflow,
    /// Something that happened.
    Event,
    /// A definition other artifacts import.
    Template,
    /// Internal: the canary loop's checkpoint of a canary's interval in progress
    /// (`ops::canary::Progress`), kept in the artifact store so that it survives a restart and a change of
    /// leader. Not an artifact users read or write: it is not in [`Kind::ALL`], so it has no API path and no
    /// DSL.
    CanaryProgress,
}

impl Kind {
    /// Every kind users read and write, in the order the API lists them (internal kinds such as
    /// [`Kind::CanaryProgress`] are not among them).
    pub const ALL: [Kind; 13] = [
        Kind::Breed,
        Kind::Blueprint,
        Kind::Deployment,
        Kind::Gateway,
        Kind::Route,
        Kind::Condition,
        Kind::Rewrite,
        Kind::Scale,
        Kind::Sla,
        Kind::Escalation,
        Kind::Workflow,
        Kind::Event,
        Kind::Template,
    ];

    /// The singular name, as written in `kind:`.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Breed => "breed",
            Kind::Blueprint => "blueprint",
            Kind::Deployment => "deployment",
            Kind::Gateway => "gateway",
            Kind::Route => "route",
            Kind::Condition => "condition",
            Kind::Rewrite => "rewrite",
            Kind::Scale => "scale",
            Kind::Sla => "sla",
            Kind::Escalation => "escalation",
            Kind::Workflow => "workflow",
            Kind::Event => "event",
            Kind::Template => "template",
            Kind::CanaryProgress => "canary-progress",
        }
    }

    /// The plural name, as used in API paths, store keys and event tags.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Breed => "breeds",
            Kind::Blueprint => "blueprints",
            Kind::Deployment => "deployments",
            Kind::Gateway => "gateways",
            Kind::Route => "routes",
            Kind::Condition => "conditions",
            Kind::Rewrite => "rewrites",
            Kind::Scale => "scales",
            Kind::Sla => "slas",
            Kind::Escalation => "escalations",
            Kind::Workflow => "workflows",
            Kind::Event => "events",
            Kind::Template => "templates",
            Kind::CanaryProgress => "canary-progress",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// Accepts the singular or plural name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.singular() == lower || k.plural() == lower)
            .ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.plural()).collect();
                Error::invalid(format!(
                    "Unexpected resource: '{s}'. Known kinds: {}.",
                    known.join(", ")
                ))
            })
    }
}
