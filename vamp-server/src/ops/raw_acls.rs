//! Raw HAProxy text in what is written through the facade: conditions with raw ACLs (`< … >`) and rewrites
//! are refused when written unless the setting `gateways.allow-raw-acls` is on, and always when they could
//! read files or the environment (`vamp_gateway::haproxy::raw_text`) — so the API answers 400 naming the
//! gateway and the condition instead of accepting what the gateway loop would then leave out.

use vamp_core::model::{Artifact, Blueprint, Deployment, Gateway};
use vamp_core::Result;
use vamp_gateway::haproxy::raw_text;

use crate::vamp::Vamp;

impl Vamp {
    /// Checks the raw HAProxy text `artifact` carries inline: gateways (also those of blueprints, deployments
    /// and their clusters), routes, conditions and rewrites. `Invalid` naming the artifact, route and field.
    pub(crate) fn check_raw_text(&self, artifact: &Artifact) -> Result<()> {
        let allow = self.settings().gateways.allow_raw_acls;
        match artifact {
            Artifact::Gateway(g) => raw_text::check_gateway(g, allow),
            Artifact::Blueprint(b) => check_gateways(blueprint_gateways(b), allow),
            Artifact::Deployment(d) => check_gateways(deployment_gateways(d), allow),
            Artifact::Route(r) => raw_text::check_route(r, allow),
            Artifact::Condition(c) => raw_text::check_condition(c, allow),
            Artifact::Rewrite(r) => raw_text::check_rewrite(r, allow),
            _ => Ok(()),
        }
    }

    /// [`Vamp::check_raw_text`] of a blueprint (a deployment request once resolved).
    pub(crate) fn check_blueprint_raw_text(&self, blueprint: &Blueprint) -> Result<()> {
        check_gateways(
            blueprint_gateways(blueprint),
            self.settings().gateways.allow_raw_acls,
        )
    }
}

fn check_gateways<'a>(gateways: impl Iterator<Item = &'a Gateway>, allow: bool) -> Result<()> {
    for g in gateways {
        raw_text::check_gateway(g, allow)?;
    }
    Ok(())
}

fn blueprint_gateways(b: &Blueprint) -> impl Iterator<Item = &Gateway> {
    b.gateways
        .iter()
        .chain(b.clusters.iter().flat_map(|c| c.gateways.iter()))
}

fn deployment_gateways(d: &Deployment) -> impl Iterator<Item = &Gateway> {
    d.gateways
        .iter()
        .chain(d.clusters.iter().flat_map(|c| c.gateways.iter()))
}
