//! Artifacts of every kind through one set of methods: `list`, `get`, `create`, `update`, `delete`. The static
//! kinds (breeds, blueprints, SLAs, scales, escalations, routes, conditions, rewrites, templates) are stored as
//! given; gateways, workflows and deployments are dispatched to their own operations.

use vamp_core::dsl::{DslError, ErrorCode};
use vamp_core::model::{Artifact, Blueprint, Kind, Ref};
use vamp_core::store::{Page, Paged};
use vamp_core::{Error, Result};

use super::archive::ArchiveAction;
use super::codec::{decode, encode};
use super::options::{ReadOptions, WriteOptions};
use crate::vamp::Vamp;

/// The inline breeds of `blueprint` that carry a name: they are stored with it (§3.4).
pub(crate) fn inline_breeds(blueprint: &Blueprint) -> Vec<vamp_core::model::Breed> {
    let mut out: Vec<vamp_core::model::Breed> = Vec::new();
    for cluster in &blueprint.clusters {
        for service in &cluster.services {
            if let Ref::Inline(b) = &service.breed {
                if !b.name.is_empty() && !out.iter().any(|o| o.name == b.name) {
                    out.push(b.clone());
                }
            }
        }
    }
    out
}

fn events_are_not_artifacts() -> Error {
    Error::invalid(
        "Events are not stored as artifacts; publish them with publish() and read them with query().",
    )
}

impl Vamp {
    /// One page of the artifacts of `kind`, sorted by name, with the total count. Deployments and gateways
    /// come from [`Vamp::list_with`]'s special cases; events are queried with [`Vamp::query`] (`Invalid`).
    pub async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Artifact>> {
        self.list_with(kind, page, &ReadOptions::default()).await
    }

    /// [`Vamp::list`] with read options.
    ///
    /// * Deployments: services whose undeployment is done are left out; `as_blueprint` writes each as the
    ///   blueprint that recreates it.
    /// * Gateways: the gateways as the gateway loop plans them — user gateways, deployment gateways
    ///   (`deployment/port`) and internal gateways (`deployment/cluster/port`) with their assigned ports and
    ///   route targets — plus stored gateways the plan holds back, as stored.
    /// * Blueprints (and deployments as blueprints): `expand_references` / `only_references`.
    pub async fn list_with(&self, kind: Kind, page: Page, options: &ReadOptions) -> Result<Paged<Artifact>> {
        match kind {
            Kind::Deployment => self.list_deployments(page, options).await,
            Kind::Gateway => self.list_gateways(page).await,
            Kind::Event => Err(events_are_not_artifacts()),
            _ => {
                let stored = self.inner.artifacts.list(kind, page).await?;
                let mut items = Vec::with_capacity(stored.items.len());
                for s in &stored.items {
                    items.push(self.present(decode(s)?, options).await?);
                }
                Ok(Paged {
                    items,
                    total: stored.total,
                    page: stored.page,
                    per_page: stored.per_page,
                })
            }
        }
    }

    /// The artifact `name` of `kind`; `None` when there is none.
    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Artifact>> {
        self.get_with(kind, name, &ReadOptions::default()).await
    }

    /// [`Vamp::get`] with read options (see [`Vamp::list_with`]).
    pub async fn get_with(&self, kind: Kind, name: &str, options: &ReadOptions) -> Result<Option<Artifact>> {
        match kind {
            Kind::Deployment => self.get_deployment(name, options).await,
            Kind::Gateway => self.get_gateway(name).await,
            Kind::Event => Err(events_are_not_artifacts()),
            _ => match self.inner.artifacts.get(kind, name).await? {
                Some(stored) => Ok(Some(self.present(decode(&stored)?, options).await?)),
                None => Ok(None),
            },
        }
    }

    /// Creates (POST) an artifact; returns what was stored, or with `validate_only` what would be.
    ///
    /// * Static kinds are upserts, as in the original: a create of an existing name overwrites it. A blueprint's
    ///   named inline breeds are stored too and come first in the result (`[breeds…, blueprint]`).
    /// * A gateway (`202` in the API) is normalised (weights filled in, strengths defaulted) and refused with
    ///   `UnavailableGatewayPortError` when any gateway already uses its explicit port — even a gateway of the
    ///   same name; internal gateway names are refused (`InternalGatewayCreateError`).
    /// * A workflow (`202`) is refused while a non-suspended workflow of that name exists.
    /// * A deployment is [`Vamp::deploy`] under its own name.
    /// * Events are published with [`Vamp::publish`] (`Invalid` here).
    ///
    /// Every successful write publishes an `archive:create` event whose value is `options.source`.
    pub async fn create(&self, artifact: Artifact, options: &WriteOptions) -> Result<Vec<Artifact>> {
        self.write(artifact, options, ArchiveAction::Create).await
    }

    /// Updates (PUT) an artifact; the same as [`Vamp::create`] except that a gateway may keep its own port
    /// (and an internal or deployment gateway changes the routing of its deployment: weights, conditions,
    /// strengths, rewrites, sticky, virtual hosts — not its set of routes, `InternalGatewayUpdateError`), and
    /// the event is `archive:update`. The API checks that the body's name matches the path
    /// (`vamp_core::dsl::validate::name_matches`) before calling this.
    pub async fn update(&self, artifact: Artifact, options: &WriteOptions) -> Result<Vec<Artifact>> {
        self.write(artifact, options, ArchiveAction::Update).await
    }

    async fn write(
        &self,
        artifact: Artifact,
        options: &WriteOptions,
        action: ArchiveAction,
    ) -> Result<Vec<Artifact>> {
        if artifact.name().is_empty() {
            return Err(DslError::about(
                ErrorCode::MissingPathValueError,
                artifact.kind(),
                "",
                "name",
                "the artifact needs a name",
            )
            .into());
        }
        self.check_raw_text(&artifact)?;
        match artifact {
            Artifact::Deployment(d) => {
                let name = d.name.clone();
                self.deploy(&name, Artifact::Deployment(d), options).await
            }
            Artifact::Gateway(g) => Ok(vec![Artifact::Gateway(
                self.write_gateway(g, options, action == ArchiveAction::Create)
                    .await?,
            )]),
            Artifact::Workflow(w) => Ok(vec![Artifact::Workflow(self.write_workflow(w, options).await?)]),
            Artifact::Event(_) => Err(events_are_not_artifacts()),
            Artifact::Blueprint(b) => {
                let mut out: Vec<Artifact> = inline_breeds(&b).into_iter().map(Artifact::Breed).collect();
                out.push(Artifact::Blueprint(b));
                if options.validate_only {
                    return Ok(out);
                }
                for a in &out {
                    self.put_static(a).await?;
                }
                if let Some(Artifact::Blueprint(b)) = out.last() {
                    self.archive(Kind::Blueprint, &b.name, action, options, out.last())
                        .await;
                }
                Ok(out)
            }
            other => {
                if !options.validate_only {
                    self.put_static(&other).await?;
                    self.archive(other.kind(), other.name(), action, options, Some(&other))
                        .await;
                }
                Ok(vec![other])
            }
        }
    }

    pub(crate) async fn put_static(&self, artifact: &Artifact) -> Result<u64> {
        self.inner
            .artifacts
            .put(artifact.kind(), artifact.name(), encode(artifact)?, None)
            .await
    }

    /// Deletes an artifact; says whether it existed.
    ///
    /// * Static kinds are removed (`archive:delete`).
    /// * A gateway is removed; an internal gateway whose deployment exists is refused
    ///   (`InternalGatewayRemoveError`).
    /// * A workflow is not removed at once: its status becomes `stopping` and the workflow loop removes it.
    /// * A deployment has every service marked for undeployment (a full slice); the deployment disappears once
    ///   the deployment loop has undeployed them. (The REST API's `DELETE /deployments/{name}` with a body is
    ///   [`Vamp::undeploy`]; with an empty body it deletes nothing.)
    pub async fn delete(&self, kind: Kind, name: &str, options: &WriteOptions) -> Result<bool> {
        match kind {
            Kind::Deployment => {
                let Some((_, deployment)) = self.load_deployment(name).await? else {
                    return Ok(false);
                };
                let blueprint = vamp_core::ops::deployment::as_blueprint(&deployment);
                self.undeploy(name, Artifact::Blueprint(blueprint), options)
                    .await?;
                Ok(true)
            }
            Kind::Gateway => self.delete_gateway(name, options).await,
            Kind::Workflow => self.stop_workflow(name, options).await,
            Kind::Event => Err(events_are_not_artifacts()),
            _ => {
                if options.validate_only {
                    return Ok(self.inner.artifacts.get(kind, name).await?.is_some());
                }
                let existed = self.inner.artifacts.delete(kind, name).await?;
                if existed {
                    self.archive(kind, name, ArchiveAction::Delete, options, None)
                        .await;
                }
                Ok(existed)
            }
        }
    }

    /// Applies read options to an artifact read from the store.
    pub(crate) async fn present(&self, artifact: Artifact, options: &ReadOptions) -> Result<Artifact> {
        match artifact {
            Artifact::Blueprint(b) if options.expand_references => {
                Ok(Artifact::Blueprint(self.expand_blueprint(b).await?))
            }
            Artifact::Blueprint(b) if options.only_references => Ok(Artifact::Blueprint(only_references(b))),
            other => Ok(other),
        }
    }

    /// `blueprint` with its references to stored breeds, scales and SLAs and routes inlined; references to
    /// artifacts that do not exist stay references.
    pub(crate) async fn expand_blueprint(&self, mut blueprint: Blueprint) -> Result<Blueprint> {
        let source = self.source_for(&blueprint).await?;
        for cluster in &mut blueprint.clusters {
            for service in &mut cluster.services {
                if let Ref::Named(n) = &service.breed {
                    if let Some(b) = source.breeds.get(n) {
                        service.breed = Ref::Inline(b.clone());
                    }
                }
                if let Some(Ref::Named(n)) = &service.scale {
                    if let Some(s) = source.scales.get(n) {
                        service.scale = Some(Ref::Inline(s.clone()));
                    }
                }
            }
            if let Some(Ref::Named(n)) = &cluster.sla {
                if let Some(s) = source.slas.get(n) {
                    cluster.sla = Some(Ref::Inline(s.clone()));
                }
            }
            for gateway in &mut cluster.gateways {
                for route in &mut gateway.routes {
                    if let Ref::Named(n) = &route.route {
                        if let Some(r) = source.routes.get(n) {
                            route.route = Ref::Inline(r.clone());
                        }
                    }
                }
            }
        }
        for gateway in &mut blueprint.gateways {
            for route in &mut gateway.routes {
                if let Ref::Named(n) = &route.route {
                    if let Some(r) = source.routes.get(n) {
                        route.route = Ref::Inline(r.clone());
                    }
                }
            }
        }
        Ok(blueprint)
    }
}

/// `blueprint` with every named inline breed replaced by a reference to it.
pub(crate) fn only_references(mut blueprint: Blueprint) -> Blueprint {
    for cluster in &mut blueprint.clusters {
        for service in &mut cluster.services {
            if let Ref::Inline(b) = &service.breed {
                if !b.name.is_empty() {
                    service.breed = Ref::Named(b.name.clone());
                }
            }
        }
    }
    blueprint
}
