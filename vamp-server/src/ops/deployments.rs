//! Deployments: create-or-merge (`POST`/`PUT`, §1.4 merge), slice (`DELETE` with a body), and reads with
//! `as_blueprint`. The semantics are `vamp_core::ops::deployment`'s (`attach`, `merge`, `slice`); this file
//! fetches what they need, checks gateway ports against the other deployments and gateways, stores the result
//! with the revision it was read at, archives the request and wakes the loops.

use chrono::Utc;
use vamp_core::dsl::{ArtifactId, DslError, ErrorCode};
use vamp_core::model::{Artifact, Blueprint, Deployment, Gateway, Kind};
use vamp_core::ops::deployment::{as_blueprint, attach, merge, remove_undeployed, slice, slice_request};
use vamp_core::ops::gateways::{check_port_available, check_unique_ports};
use vamp_core::store::{Page, Paged};
use vamp_core::{Error, Result};

use super::archive::ArchiveAction;
use super::artifacts::inline_breeds;
use super::codec::decode;
use super::options::{ReadOptions, WriteOptions};
use crate::vamp::Vamp;

fn request_blueprint(artifact: Artifact) -> Result<Blueprint> {
    match artifact {
        Artifact::Blueprint(b) => Ok(b),
        Artifact::Deployment(d) => Ok(as_blueprint(&d)),
        other => Err(Error::invalid(format!(
            "A deployment request is a blueprint, a blueprint reference or a deployment, not a {}.",
            other.kind()
        ))),
    }
}

impl Vamp {
    /// Creates the deployment `name` or merges into it (`POST /deployments` names it after the blueprint,
    /// `PUT /deployments/{name}` after the path).
    ///
    /// `artifact` is a blueprint, a deployment (converted with `as_blueprint`), or a blueprint reference: a
    /// blueprint without clusters and gateways names a stored blueprint (`NotFound` when there is none). Named
    /// inline breeds are stored as breeds. The blueprint is attached (`attach`: references looked up in the
    /// store, `NotFound` for missing ones) and merged into the existing deployment (`merge`: validation as
    /// §1.4 step 6); explicit gateway ports must be free among the other deployments' gateways and the stored
    /// gateways (`UnavailableGatewayPortError`) and unique in the deployment (`DuplicateGatewayPortError`). A
    /// workflow of the same name is `DeploymentWorkflowNameCollision`.
    ///
    /// Returns the stored inline breeds, then the merged deployment. With `validate_only` nothing is stored. On
    /// success: `archive:create` (new) or `archive:update` with the raw body, and the loops are woken.
    pub async fn deploy(
        &self,
        name: &str,
        artifact: Artifact,
        options: &WriteOptions,
    ) -> Result<Vec<Artifact>> {
        if name.is_empty() {
            return Err(Error::invalid("A deployment needs a name; the name is empty."));
        }
        let blueprint = self
            .resolve_blueprint_reference(request_blueprint(artifact)?)
            .await?;
        self.check_blueprint_raw_text(&blueprint)?;
        if self.inner.artifacts.get(Kind::Workflow, name).await?.is_some() {
            return Err(DslError::new(
                ErrorCode::DeploymentWorkflowNameCollision,
                ArtifactId::new(Kind::Deployment, name),
                "name",
                format!("a workflow is called '{name}': a deployment and a workflow may not share a name"),
            )
            .into());
        }
        let breeds = inline_breeds(&blueprint);
        let source = self.source_for(&blueprint).await?;
        let now = Utc::now();
        let attachment = attach(
            &blueprint,
            name,
            &source,
            &self.settings().deployment.defaults(),
            now,
        )?;
        let guard = self.inner.deployment_lock.lock().await;
        let existing = self.load_deployment(name).await?;
        let merged = merge(existing.as_ref().map(|(_, d)| d), &attachment, now)?;
        check_unique_ports(&ArtifactId::new(Kind::Deployment, name), &merged.gateways)?;
        self.check_gateway_ports_of(&merged).await?;
        let mut out: Vec<Artifact> = breeds.into_iter().map(Artifact::Breed).collect();
        if !options.validate_only {
            for breed in &out {
                self.put_static(breed).await?;
            }
            let revision = existing.as_ref().map(|(r, _)| *r).unwrap_or(0);
            self.store_deployment(&merged, revision).await?;
            drop(guard);
            let action = if existing.is_some() {
                ArchiveAction::Update
            } else {
                ArchiveAction::Create
            };
            let stored = Artifact::Deployment(merged.clone());
            self.archive(Kind::Deployment, name, action, options, Some(&stored))
                .await;
            self.wake_deployments();
        }
        out.push(Artifact::Deployment(merged));
        Ok(out)
    }

    /// Slices the deployment `name` (`DELETE /deployments/{name}` with a body): every service of the request's
    /// clusters whose breed the request names is marked for undeployment and its routes are removed
    /// (`vamp_core::ops::deployment::slice`: `InvalidRouteWeight` when the remaining routes would not carry
    /// 100% — re-weight first; `UnresolvedDependencyError` when a remaining service still needs one removed).
    /// Names the deployment does not have are ignored, so an empty body changes nothing.
    ///
    /// Returns the deployment after the slice; `None` when there is no deployment `name`. With
    /// `validate_only` nothing is stored. On a change: `archive:delete` with the raw body, loops woken. The
    /// services disappear from reads once the deployment loop has undeployed them, and the deployment once no
    /// service is left.
    pub async fn undeploy(
        &self,
        name: &str,
        artifact: Artifact,
        options: &WriteOptions,
    ) -> Result<Option<Artifact>> {
        let request = slice_request(&request_blueprint(artifact)?);
        let guard = self.inner.deployment_lock.lock().await;
        let Some((revision, existing)) = self.load_deployment(name).await? else {
            return Ok(None);
        };
        let sliced = slice(&existing, &request, Utc::now())?;
        if !options.validate_only && sliced != existing {
            self.store_deployment(&sliced, revision).await?;
            drop(guard);
            let stored = Artifact::Deployment(sliced.clone());
            self.archive(
                Kind::Deployment,
                name,
                ArchiveAction::Delete,
                options,
                Some(&stored),
            )
            .await;
            self.wake_deployments();
        }
        Ok(Some(Artifact::Deployment(sliced)))
    }

    /// One page of deployments (see [`Vamp::list_with`]).
    pub(crate) async fn list_deployments(
        &self,
        page: Page,
        options: &ReadOptions,
    ) -> Result<Paged<Artifact>> {
        let stored = self.inner.artifacts.list(Kind::Deployment, page).await?;
        let mut items = Vec::with_capacity(stored.items.len());
        for s in &stored.items {
            let Artifact::Deployment(d) = decode(s)? else {
                continue;
            };
            if let Some(a) = self.present_deployment(d, options).await? {
                items.push(a);
            }
        }
        Ok(Paged {
            items,
            total: stored.total,
            page: stored.page,
            per_page: stored.per_page,
        })
    }

    /// The deployment `name` as the API shows it: without services whose undeployment is done; `None` when
    /// there is none or nothing is left of it.
    pub(crate) async fn get_deployment(&self, name: &str, options: &ReadOptions) -> Result<Option<Artifact>> {
        match self.load_deployment(name).await? {
            Some((_, d)) => self.present_deployment(d, options).await,
            None => Ok(None),
        }
    }

    /// The deployment `name` as stored (with every service's status, instances and health); `None` when there
    /// is none. What `wait_for` predicates and embedders inspect.
    pub async fn deployment(&self, name: &str) -> Result<Option<Deployment>> {
        Ok(self.load_deployment(name).await?.map(|(_, d)| d))
    }

    async fn present_deployment(
        &self,
        deployment: Deployment,
        options: &ReadOptions,
    ) -> Result<Option<Artifact>> {
        let Some(deployment) = remove_undeployed(deployment) else {
            return Ok(None);
        };
        if !options.as_blueprint {
            return Ok(Some(Artifact::Deployment(deployment)));
        }
        let blueprint = Artifact::Blueprint(as_blueprint(&deployment));
        Ok(Some(self.present(blueprint, options).await?))
    }

    async fn resolve_blueprint_reference(&self, blueprint: Blueprint) -> Result<Blueprint> {
        if !blueprint.clusters.is_empty() || !blueprint.gateways.is_empty() {
            return Ok(blueprint);
        }
        match self.inner.artifacts.get(Kind::Blueprint, &blueprint.name).await? {
            Some(stored) => match decode(&stored)? {
                Artifact::Blueprint(b) => Ok(b),
                _ => Err(Error::backend(format!(
                    "The stored blueprint '{}' reads back as another kind.",
                    blueprint.name
                ))),
            },
            None => Err(vamp_core::ops::deployment::source::not_found(
                Kind::Blueprint,
                &blueprint.name,
            )),
        }
    }

    /// Checks that the explicit ports of `deployment`'s gateways are not used by another deployment's gateways
    /// or by a stored gateway.
    async fn check_gateway_ports_of(&self, deployment: &Deployment) -> Result<()> {
        if deployment.gateways.iter().all(|g| g.port.number == 0) {
            return Ok(());
        }
        let mut others: Vec<Gateway> = self.stored_gateways().await?;
        for (_, d) in self.load_deployments().await? {
            if d.name != deployment.name {
                others.extend(d.gateways);
            }
        }
        for g in &deployment.gateways {
            check_port_available(g, &others)?;
        }
        Ok(())
    }
}
