//! Where [`attach`](super::attach()) looks up the artifacts a blueprint references by name.
//!
//! The lookup is synchronous so that the operations stay pure: a caller backed by an asynchronous store first
//! collects the names with [`references`], fetches them, and hands the results over in a [`MapSource`].

use std::collections::HashMap;

use crate::model::{
    Blueprint, Breed, Condition, Escalation, EscalationKind, Kind, Ref, Rewrite, Route, Scale, Sla,
};
use crate::Error;

/// Looks up stored artifacts by name. `None` means "no such artifact"; the caller turns it into
/// [`not_found`].
pub trait ArtifactSource {
    /// The stored breed called `name`.
    fn breed(&self, name: &str) -> Option<Breed>;
    /// The stored scale called `name`.
    fn scale(&self, name: &str) -> Option<Scale>;
    /// The stored SLA called `name`.
    fn sla(&self, name: &str) -> Option<Sla>;
    /// The stored escalation called `name`.
    fn escalation(&self, name: &str) -> Option<Escalation>;
    /// The stored route called `name`.
    fn route(&self, name: &str) -> Option<Route>;
    /// The stored condition called `name`.
    fn condition(&self, name: &str) -> Option<Condition>;
    /// The stored rewrite called `name`.
    fn rewrite(&self, name: &str) -> Option<Rewrite>;
}

/// The error for a reference to an artifact that does not exist.
///
/// It is a [`crate::ErrorKind::NotFound`] error (HTTP 404), like the original's `ArtifactNotFound`, and keeps its
/// sentence: `Artifact cannot be found: '<name>'.`, followed by the kind and what to do.
pub fn not_found(kind: Kind, name: &str) -> Error {
    Error::not_found(format!(
        "Artifact cannot be found: '{name}'. No {kind} with that name is stored; create it first or give it inline."
    ))
}

/// An [`ArtifactSource`] over in-memory maps keyed by artifact name, for tests and embedders.
#[derive(Debug, Clone, Default)]
pub struct MapSource {
    /// Breeds by name.
    pub breeds: HashMap<String, Breed>,
    /// Scales by name.
    pub scales: HashMap<String, Scale>,
    /// SLAs by name.
    pub slas: HashMap<String, Sla>,
    /// Escalations by name.
    pub escalations: HashMap<String, Escalation>,
    /// Routes by name.
    pub routes: HashMap<String, Route>,
    /// Conditions by name.
    pub conditions: HashMap<String, Condition>,
    /// Rewrites by name.
    pub rewrites: HashMap<String, Rewrite>,
}

impl MapSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `breed` stored under its name.
    pub fn with_breed(mut self, breed: Breed) -> Self {
        self.breeds.insert(breed.name.clone(), breed);
        self
    }

    /// With `scale` stored under `name` (a stored scale's own name may be empty).
    pub fn with_scale(mut self, name: impl Into<String>, scale: Scale) -> Self {
        self.scales.insert(name.into(), scale);
        self
    }

    /// With `sla` stored under `name`.
    pub fn with_sla(mut self, name: impl Into<String>, sla: Sla) -> Self {
        self.slas.insert(name.into(), sla);
        self
    }

    /// With `escalation` stored under `name`.
    pub fn with_escalation(mut self, name: impl Into<String>, escalation: Escalation) -> Self {
        self.escalations.insert(name.into(), escalation);
        self
    }

    /// With `route` stored under `name`.
    pub fn with_route(mut self, name: impl Into<String>, route: Route) -> Self {
        self.routes.insert(name.into(), route);
        self
    }

    /// With `condition` stored under `name`.
    pub fn with_condition(mut self, name: impl Into<String>, condition: Condition) -> Self {
        self.conditions.insert(name.into(), condition);
        self
    }

    /// With `rewrite` stored under `name`.
    pub fn with_rewrite(mut self, name: impl Into<String>, rewrite: Rewrite) -> Self {
        self.rewrites.insert(name.into(), rewrite);
        self
    }
}

impl ArtifactSource for MapSource {
    fn breed(&self, name: &str) -> Option<Breed> {
        self.breeds.get(name).cloned()
    }
    fn scale(&self, name: &str) -> Option<Scale> {
        self.scales.get(name).cloned()
    }
    fn sla(&self, name: &str) -> Option<Sla> {
        self.slas.get(name).cloned()
    }
    fn escalation(&self, name: &str) -> Option<Escalation> {
        self.escalations.get(name).cloned()
    }
    fn route(&self, name: &str) -> Option<Route> {
        self.routes.get(name).cloned()
    }
    fn condition(&self, name: &str) -> Option<Condition> {
        self.conditions.get(name).cloned()
    }
    fn rewrite(&self, name: &str) -> Option<Rewrite> {
        self.rewrites.get(name).cloned()
    }
}

/// Every artifact `blueprint` references by name, as `(kind, name)`, each once, in the order first met.
///
/// Covers breeds and scales of services, SLAs of clusters and the escalations written inside inline SLAs,
/// routes of cluster and blueprint gateways, and the conditions and rewrites of inline routes. A caller fetches
/// these, then the references inside what it fetched (a stored route's condition, a stored SLA's escalations),
/// before calling [`attach`](super::attach()).
pub fn references(blueprint: &Blueprint) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = Vec::new();
    let mut add = |kind: Kind, name: &str| {
        if !out.iter().any(|(k, n)| *k == kind && n == name) {
            out.push((kind, name.to_string()));
        }
    };
    for cluster in &blueprint.clusters {
        for service in &cluster.services {
            if let Ref::Named(n) = &service.breed {
                add(Kind::Breed, n);
            }
            if let Some(Ref::Named(n)) = &service.scale {
                add(Kind::Scale, n);
            }
        }
        match &cluster.sla {
            Some(Ref::Named(n)) => add(Kind::Sla, n),
            Some(Ref::Inline(sla)) => escalation_references(&sla.escalations, &mut add),
            None => {}
        }
        for gateway in &cluster.gateways {
            route_references(gateway, &mut add);
        }
    }
    for gateway in &blueprint.gateways {
        route_references(gateway, &mut add);
    }
    out
}

fn escalation_references(escalations: &[Ref<Escalation>], add: &mut impl FnMut(Kind, &str)) {
    for e in escalations {
        match e {
            Ref::Named(n) => add(Kind::Escalation, n),
            Ref::Inline(Escalation {
                kind: EscalationKind::ToAll(children) | EscalationKind::ToOne(children),
                ..
            }) => escalation_references(children, add),
            Ref::Inline(_) => {}
        }
    }
}

fn route_references(gateway: &crate::model::Gateway, add: &mut impl FnMut(Kind, &str)) {
    for route in &gateway.routes {
        match &route.route {
            Ref::Named(n) => add(Kind::Route, n),
            Ref::Inline(r) => {
                if let Some(Ref::Named(n)) = &r.condition {
                    add(Kind::Condition, n);
                }
                for rewrite in &r.rewrites {
                    if let Ref::Named(n) = rewrite {
                        add(Kind::Rewrite, n);
                    }
                }
            }
        }
    }
}
