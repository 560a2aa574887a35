//! The `ArtifactSource` that `attach` looks references up in, filled from the artifact store: the references of
//! a blueprint, then the references inside what was fetched (a stored route's condition and rewrites, a stored
//! SLA's escalations), so `attach` itself stays synchronous and pure.

use std::collections::HashSet;

use vamp_core::model::{Artifact, Blueprint, Escalation, EscalationKind, Kind, Ref};
use vamp_core::ops::deployment::{references, MapSource};
use vamp_core::Result;

use super::codec::decode;
use crate::vamp::Vamp;

fn escalation_refs(escalations: &[Ref<Escalation>], out: &mut Vec<(Kind, String)>) {
    for e in escalations {
        match e {
            Ref::Named(n) => out.push((Kind::Escalation, n.clone())),
            Ref::Inline(Escalation {
                kind: EscalationKind::ToAll(children) | EscalationKind::ToOne(children),
                ..
            }) => escalation_refs(children, out),
            Ref::Inline(_) => {}
        }
    }
}

impl Vamp {
    /// A [`MapSource`] holding every stored artifact `blueprint` references, directly or through what it
    /// references. Missing artifacts are simply absent: `attach` reports them as `NotFound`.
    pub(crate) async fn source_for(&self, blueprint: &Blueprint) -> Result<MapSource> {
        let mut source = MapSource::new();
        let mut queue = references(blueprint);
        let mut seen: HashSet<(Kind, String)> = HashSet::new();
        while let Some((kind, name)) = queue.pop() {
            if !seen.insert((kind, name.clone())) {
                continue;
            }
            let Some(stored) = self.inner.artifacts.get(kind, &name).await? else {
                continue;
            };
            match decode(&stored)? {
                Artifact::Breed(b) => {
                    source.breeds.insert(name, b);
                }
                Artifact::Scale(s) => {
                    source.scales.insert(name, s);
                }
                Artifact::Sla(s) => {
                    escalation_refs(&s.escalations, &mut queue);
                    source.slas.insert(name, s);
                }
                Artifact::Escalation(e) => {
                    escalation_refs(std::slice::from_ref(&Ref::Inline(e.clone())), &mut queue);
                    source.escalations.insert(name, e);
                }
                Artifact::Route(r) => {
                    if let Some(Ref::Named(n)) = &r.condition {
                        queue.push((Kind::Condition, n.clone()));
                    }
                    for rewrite in &r.rewrites {
                        if let Ref::Named(n) = rewrite {
                            queue.push((Kind::Rewrite, n.clone()));
                        }
                    }
                    source.routes.insert(name, r);
                }
                Artifact::Condition(c) => {
                    source.conditions.insert(name, c);
                }
                Artifact::Rewrite(r) => {
                    source.rewrites.insert(name, r);
                }
                _ => {}
            }
        }
        Ok(source)
    }
}
