//! Canaries on a deployment's cluster gateways. The policy and the weights live in the cluster's gateway
//! settings (`DeploymentCluster::gateways`, keyed by port name; routes and the policy's two routes by service
//! breed name), as a user writes them in a blueprint or through `PUT /gateways/<deployment>/<cluster>/<port>`.
//! The canary loop judges the cluster's internal gateway `deployment/cluster/port` as it is planned — routes as
//! full paths `deployment/cluster/breed/port`, which is how the metrics name them, and weights filled in — and
//! writes its decisions back into the settings. Pure: deployment in, views or the changed deployment out.

use crate::model::{Deployment, Gateway, GatewayRoute, Percentage, Ref, Route};
use crate::ops::gateways::{breed_of_route, fill_weights, internal_gateway_name, internal_gateways};
use crate::{Error, Result};

/// A canary on the gateway of one port of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCanary {
    /// The cluster.
    pub cluster: String,
    /// The breed port name.
    pub port: String,
    /// The internal gateway `deployment/cluster/port` as judged: weights filled in, the policy's routes as full
    /// paths.
    pub gateway: Gateway,
}

/// The gateways of `deployment`'s clusters that carry a canary policy, whatever its status, in cluster and port
/// order (see [`ClusterCanary::gateway`]). Services being undeployed are not routes of them.
pub fn cluster_canaries(deployment: &Deployment) -> Vec<ClusterCanary> {
    let any = deployment
        .clusters
        .iter()
        .any(|c| c.gateways.iter().any(|g| g.canary.is_some()));
    if !any {
        return Vec::new();
    }
    let prefix = format!("{}/", deployment.name);
    internal_gateways(deployment, |_| None)
        .into_iter()
        .filter(|g| g.canary.is_some())
        .filter_map(|mut gateway| {
            let (cluster, port) = gateway.name.strip_prefix(&prefix)?.split_once('/')?;
            let (cluster, port) = (cluster.to_string(), port.to_string());
            fill_weights(&mut gateway.routes);
            Some(ClusterCanary {
                cluster,
                port,
                gateway,
            })
        })
        .collect()
}

/// The canary of `deployment`'s cluster gateway named `gateway` (`deployment/cluster/port`), if it has one.
pub fn cluster_canary(deployment: &Deployment, gateway: &str) -> Option<ClusterCanary> {
    cluster_canaries(deployment)
        .into_iter()
        .find(|c| c.gateway.name == gateway)
}

/// Writes what the canary loop decided into `deployment`: `after` is the judged view of a cluster canary (see
/// [`cluster_canaries`]) with the decision applied — the baseline's and the canary's weights and the policy's
/// status. Both routes get an inline weight in the cluster's settings (a route the settings do not have yet is
/// added), and the settings' policy takes the status. Nothing else changes.
///
/// Fails with `NotFound` when the deployment no longer has that cluster gateway or policy, and with `Invalid`
/// when the settings give one of the two routes by reference (validation keeps that from being stored).
pub fn write_cluster_canary(deployment: &mut Deployment, after: &Gateway) -> Result<()> {
    let Some(policy) = &after.canary else {
        return Err(Error::invalid(format!(
            "Gateway '{}' has no canary policy to write.",
            after.name
        )));
    };
    let message = format!(
        "The canary of gateway '{}' is gone from deployment '{}'.",
        after.name, deployment.name
    );
    let gone = || Error::not_found(message.clone());
    let prefix = format!("{}/", deployment.name);
    let (cluster_name, port) = after
        .name
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(gone)?;
    let full = internal_gateway_name(&deployment.name, cluster_name, port);
    let cluster = deployment.cluster_mut(cluster_name).ok_or_else(gone)?;
    let setting = cluster
        .gateways
        .iter_mut()
        .find(|g| g.name == port || g.name == full)
        .ok_or_else(gone)?;
    let kept = setting.canary.as_mut().ok_or_else(gone)?;
    kept.status = policy.status;
    for path in [&policy.baseline, &policy.canary] {
        let weight = after
            .route(&path.0)
            .and_then(GatewayRoute::inline)
            .and_then(|r| r.weight);
        set_weight(setting, breed_of_route(&path.0), weight)?;
    }
    Ok(())
}

fn set_weight(setting: &mut Gateway, breed: &str, weight: Option<Percentage>) -> Result<()> {
    let name = setting.name.clone();
    match setting
        .routes
        .iter_mut()
        .find(|r| breed_of_route(&r.path.0) == breed)
    {
        Some(route) => match &mut route.route {
            Ref::Inline(r) => r.weight = weight,
            Ref::Named(stored) => {
                return Err(Error::invalid(format!(
                    "The route of '{breed}' on port '{name}' refers to the stored route '{stored}'; a canary sets \
                     the weights of inline routes only."
                )))
            }
        },
        None => {
            let mut route = GatewayRoute::new(breed);
            route.route = Ref::Inline(Route {
                weight,
                ..Route::default()
            });
            setting.routes.push(route);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl;
    use crate::model::{Artifact, CanaryStatus, Kind};

    const DEPLOYMENT: &str = r#"
name: shop
clusters:
  sava:
    services:
      - status: {intention: Deployment, since: "2024-01-01T00:00:00Z", phase: {name: Done, since: "2024-01-01T00:00:00Z"}}
        breed: {name: "sava:1.0", deployable: "process://sava", ports: {web: 8080/http}}
      - status: {intention: Deployment, since: "2024-01-01T00:00:00Z", phase: {name: Done, since: "2024-01-01T00:00:00Z"}}
        breed: {name: "sava:1.1", deployable: "process://sava", ports: {web: 8080/http}}
    gateways:
      web:
        routes:
          "sava:1.0": {weight: 100%}
        canary: {baseline: "sava:1.0", canary: "sava:1.1", interval: 2s}
"#;

    fn deployment() -> Deployment {
        match dsl::read(Kind::Deployment, DEPLOYMENT).unwrap() {
            Artifact::Deployment(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn weight(g: &Gateway, path: &str) -> Option<u8> {
        g.route(path)
            .and_then(GatewayRoute::inline)
            .and_then(|r| r.weight)
            .map(|w| w.0)
    }

    #[test]
    fn a_cluster_canary_is_judged_on_the_internal_gateway_with_full_paths_and_filled_weights() {
        let canaries = cluster_canaries(&deployment());
        assert_eq!(canaries.len(), 1);
        let c = &canaries[0];
        assert_eq!((c.cluster.as_str(), c.port.as_str()), ("sava", "web"));
        assert_eq!(c.gateway.name, "shop/sava/web");
        let policy = c.gateway.canary.as_ref().unwrap();
        assert_eq!(policy.baseline.0, "shop/sava/sava:1.0/web");
        assert_eq!(policy.canary.0, "shop/sava/sava:1.1/web");
        assert_eq!(weight(&c.gateway, "shop/sava/sava:1.0/web"), Some(100));
        assert_eq!(weight(&c.gateway, "shop/sava/sava:1.1/web"), Some(0));
        assert_eq!(cluster_canary(&deployment(), "shop/sava/web").as_ref(), Some(c));
        assert_eq!(cluster_canary(&deployment(), "shop/other/web"), None);
    }

    #[test]
    fn decisions_are_written_into_the_cluster_settings_by_breed_name() {
        let mut d = deployment();
        let mut after = cluster_canary(&d, "shop/sava/web").unwrap().gateway;
        for r in &mut after.routes {
            let w = if r.path.0.contains("1.1") { 25 } else { 75 };
            r.route = Ref::Inline(Route {
                weight: Some(Percentage(w)),
                ..Route::default()
            });
        }
        write_cluster_canary(&mut d, &after).unwrap();
        let setting = &d.cluster("sava").unwrap().gateways[0];
        assert_eq!(weight(setting, "sava:1.0"), Some(75));
        assert_eq!(
            weight(setting, "sava:1.1"),
            Some(25),
            "a route the settings lacked is added"
        );
        assert_eq!(setting.canary.as_ref().unwrap().baseline.0, "sava:1.0");
        crate::ops::deployment::validate(&d).unwrap();
        let judged = cluster_canary(&d, "shop/sava/web").unwrap().gateway;
        assert_eq!(
            (
                weight(&judged, "shop/sava/sava:1.0/web"),
                weight(&judged, "shop/sava/sava:1.1/web")
            ),
            (Some(75), Some(25))
        );

        let mut promoted = judged.clone();
        if let Some(p) = promoted.canary.as_mut() {
            p.status = CanaryStatus::Promoted;
        }
        write_cluster_canary(&mut d, &promoted).unwrap();
        let setting = &d.cluster("sava").unwrap().gateways[0];
        assert_eq!(setting.canary.as_ref().unwrap().status, CanaryStatus::Promoted);
    }

    #[test]
    fn a_deployment_whose_canary_does_not_fit_its_cluster_is_invalid() {
        let mut d = deployment();
        let policy = d.cluster_mut("sava").unwrap().gateways[0]
            .canary
            .as_mut()
            .unwrap();
        policy.canary = crate::model::RoutePath("sava:2.0".into());
        let e = crate::ops::deployment::validate(&d).unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str(), e.artifact.name.as_str()),
            (
                crate::dsl::ErrorCode::CanaryPolicyError,
                "clusters.sava.gateways.web.canary.canary",
                "shop"
            )
        );
        assert!(
            e.message.contains("its services there are: sava:1.0, sava:1.1"),
            "{e}"
        );
        let mut d = deployment();
        d.cluster_mut("sava").unwrap().gateways[0].routes[0].route = Ref::Inline(Route {
            weight: Some(Percentage(100)),
            condition: Some(Ref::Named("beta".into())),
            ..Route::default()
        });
        let e = crate::ops::deployment::validate(&d).unwrap_err();
        assert_eq!(e.path, "clusters.sava.gateways.web.canary.baseline", "{e}");
        assert!(e.message.contains("has a condition"), "{e}");
    }

    #[test]
    fn a_vanished_canary_is_not_found() {
        let mut d = deployment();
        let after = cluster_canary(&d, "shop/sava/web").unwrap().gateway;
        d.cluster_mut("sava").unwrap().gateways[0].canary = None;
        let e = write_cluster_canary(&mut d, &after).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        let mut renamed = after.clone();
        renamed.name = "shop/other/web".into();
        assert_eq!(
            write_cluster_canary(&mut deployment(), &renamed)
                .unwrap_err()
                .kind(),
            crate::ErrorKind::NotFound
        );
    }
}
