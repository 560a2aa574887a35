//! Validation of a canary policy against the gateway it runs on (`CanaryPolicyError`, naming the artifact and
//! the field): an HTTP gateway, two different inline routes of it without conditions, no other route carrying
//! weight, steps strictly ascending in 1%..=100%, an interval of 1 s to 10 min, at least 10 requests per side, a
//! confidence in (0.5, 1) and positive ceilings.
//!
//! A policy runs on a user gateway ([`validate_canary`]: its routes are route paths) or on a deployment's
//! cluster gateway (`check_cluster_canary`: the cluster's gateway settings name routes and the policy's two
//! routes by service (breed) name, and the services are the cluster's).

use crate::dsl::error::{ArtifactId, DslError, ErrorCode};
use crate::model::{CanaryPolicy, Gateway, GatewayRoute, Kind, Protocol, Ref, Route, RoutePath};
use crate::ops::gateways::breed_of_route;

/// The longest interval: a judgement reads the last interval from the metrics source, whose agents keep 15
/// minutes by default.
pub const MAX_INTERVAL_S: u64 = 600;
/// The fewest requests per side a policy may ask for: a floor against judging a process's first, cold requests
/// (the bounds themselves are valid at any sample size).
pub const MIN_MIN_REQUESTS: u64 = 10;

/// Checks `gw.canary`, if any, against `gw` (a user gateway, or the internal gateway of a cluster as planned,
/// its routes full paths). Errors name the gateway and the field (`canary.steps[1]`).
pub fn validate_canary(gw: &Gateway) -> Result<(), DslError> {
    check_canary(gw, &ArtifactId::new(Kind::Gateway, gw.name.clone()), "")
}

/// A `CanaryPolicyError` about `artifact` at the field `<base>.<field>`.
fn policy_error(artifact: &ArtifactId, base: String) -> impl Fn(&str, String) -> DslError + '_ {
    move |field, message| {
        DslError::new(
            ErrorCode::CanaryPolicyError,
            artifact.clone(),
            join(&base, field),
            message,
        )
    }
}

/// Checks `gw.canary`, if any. Errors name `artifact` and the field under `path`.
pub(crate) fn check_canary(gw: &Gateway, artifact: &ArtifactId, path: &str) -> Result<(), DslError> {
    let Some(policy) = &gw.canary else {
        return Ok(());
    };
    let err = policy_error(artifact, join(path, "canary"));
    if gw.port.protocol != Protocol::Http {
        return Err(err(
            "",
            "a canary is judged on HTTP status codes and latencies; this gateway is TCP".to_string(),
        ));
    }
    check_routes(gw, policy, &err)?;
    check_steps(policy, &err)?;
    check_numbers(policy, &err)
}

/// Checks the canary policy of a cluster's gateway settings `setting` (keyed by the port name `setting.name`),
/// if any: its two routes name different services among `services` (the cluster's services on that port, by
/// breed name; a full path `deployment/cluster/breed/port` names its breed), the settings route them inline and
/// without a condition, no other service's route carries weight, and the numbers are in bounds. `protocol` is
/// the port's, when known. Errors name `artifact` and the field under `path` (e.g.
/// `clusters.sava.gateways.web.canary.canary`).
pub(crate) fn check_cluster_canary(
    cluster: &str,
    setting: &Gateway,
    services: &[&str],
    protocol: Option<Protocol>,
    artifact: &ArtifactId,
    path: &str,
) -> Result<(), DslError> {
    let Some(policy) = &setting.canary else {
        return Ok(());
    };
    let err = policy_error(artifact, join(path, "canary"));
    if protocol == Some(Protocol::Tcp) {
        return Err(err(
            "",
            format!(
                "a canary is judged on HTTP status codes and latencies; port '{}' of cluster '{cluster}' is TCP",
                setting.name
            ),
        ));
    }
    let settings_route = |breed: &str| setting.routes.iter().find(|r| breed_of_route(&r.path.0) == breed);
    let find = |field: &str, path: &RoutePath| -> Result<String, DslError> {
        let breed = breed_of_route(&path.0);
        if !services.contains(&breed) {
            return Err(err(
                field,
                format!(
                    "'{}' is not a service of cluster '{cluster}' on port '{}'; its services there are: {}",
                    path.0,
                    setting.name,
                    if services.is_empty() {
                        "none".to_string()
                    } else {
                        services.join(", ")
                    }
                ),
            ));
        }
        if let Some(route) = settings_route(breed) {
            check_route_form(&route.route, breed, field, &err)?;
        }
        Ok(breed.to_string())
    };
    let baseline = find("baseline", &policy.baseline)?;
    let canary = find("canary", &policy.canary)?;
    if baseline == canary {
        return Err(err(
            "canary",
            format!("the canary '{canary}' is also the baseline; compare two different services"),
        ));
    }
    for r in &setting.routes {
        let breed = breed_of_route(&r.path.0);
        if breed == baseline || breed == canary {
            continue;
        }
        if let Ref::Inline(route) = &r.route {
            if route.condition.is_none() && route.weight.is_some_and(|w| w.0 > 0) {
                return Err(err(
                    "",
                    format!(
                        "service '{breed}' has weight {}; the canary splits all weighted traffic between '{baseline}' and '{canary}', so give the other services 0% (or a condition)",
                        route.weight.map(|w| w.to_string()).unwrap_or_default(),
                    ),
                ));
            }
        }
    }
    check_steps(policy, &err)?;
    check_numbers(policy, &err)
}

/// A route the canary loop sets the weight of: inline and without a condition.
fn check_route_form(
    route: &Ref<Route>,
    path: &str,
    field: &str,
    err: &impl Fn(&str, String) -> DslError,
) -> Result<(), DslError> {
    match route {
        Ref::Named(name) => Err(err(
            field,
            format!(
                "route '{path}' refers to the stored route '{name}'; give it inline, since the canary loop sets its weight"
            ),
        )),
        Ref::Inline(r) if r.condition.is_some() => Err(err(
            field,
            format!(
                "route '{path}' has a condition; a canary moves traffic by weight only, so remove the condition or compare other routes"
            ),
        )),
        Ref::Inline(_) => Ok(()),
    }
}

fn join(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty()) {
        (_, true) => path.to_string(),
        (true, false) => key.to_string(),
        (false, false) => format!("{path}.{key}"),
    }
}

fn check_routes(
    gw: &Gateway,
    policy: &CanaryPolicy,
    err: &impl Fn(&str, String) -> DslError,
) -> Result<(), DslError> {
    let find = |field: &str, path: &RoutePath| -> Result<&GatewayRoute, DslError> {
        let route = gw.route(&path.0).ok_or_else(|| {
            let known: Vec<&str> = gw.routes.iter().map(|r| r.path.0.as_str()).collect();
            err(
                field,
                format!(
                    "route '{}' is not a route of gateway '{}'; its routes are: {}",
                    path.0,
                    gw.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        check_route_form(&route.route, &path.0, field, err)?;
        Ok(route)
    };
    find("baseline", &policy.baseline)?;
    find("canary", &policy.canary)?;
    if policy.baseline == policy.canary {
        return Err(err(
            "canary",
            format!(
                "the canary route '{}' is also the baseline; compare two different routes",
                policy.canary.0
            ),
        ));
    }
    for r in &gw.routes {
        if r.path == policy.baseline || r.path == policy.canary {
            continue;
        }
        if let Ref::Inline(route) = &r.route {
            if route.condition.is_none() && route.weight.is_some_and(|w| w.0 > 0) {
                return Err(err(
                    "",
                    format!(
                        "route '{}' has weight {}; the canary splits all weighted traffic between '{}' and '{}', so give the other routes 0% (or a condition)",
                        r.path.0,
                        route.weight.map(|w| w.to_string()).unwrap_or_default(),
                        policy.baseline.0,
                        policy.canary.0
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_steps(policy: &CanaryPolicy, err: &impl Fn(&str, String) -> DslError) -> Result<(), DslError> {
    if policy.steps.is_empty() {
        return Err(err(
            "steps",
            "give at least one step, e.g. [10%, 50%, 100%]".to_string(),
        ));
    }
    let mut previous = 0u8;
    for (i, step) in policy.steps.iter().enumerate() {
        if step.0 == 0 || step.0 <= previous {
            return Err(err(
                &format!("steps[{i}]"),
                format!(
                    "step {step} must be above {previous}%: steps are strictly ascending weights in 1%..100%"
                ),
            ));
        }
        previous = step.0;
    }
    Ok(())
}

fn check_numbers(policy: &CanaryPolicy, err: &impl Fn(&str, String) -> DslError) -> Result<(), DslError> {
    if !(1..=MAX_INTERVAL_S).contains(&policy.interval.0) {
        return Err(err(
            "interval",
            format!(
                "the interval is {}; use 1s to {MAX_INTERVAL_S}s (the metrics source keeps the last 15 minutes)",
                policy.interval
            ),
        ));
    }
    if policy.min_requests < MIN_MIN_REQUESTS {
        return Err(err(
            "min_requests",
            format!(
                "min_requests is {}; ask for at least {MIN_MIN_REQUESTS} requests per side, or the statistics would guess",
                policy.min_requests
            ),
        ));
    }
    if !(policy.confidence > 0.5 && policy.confidence < 1.0) {
        return Err(err(
            "confidence",
            format!(
                "the confidence is {}; use a number above 0.5 and below 1, e.g. 0.95",
                policy.confidence
            ),
        ));
    }
    if policy.max_p99.is_some_and(|m| m.0 == 0) {
        return Err(err(
            "max_p99",
            "a p99 ceiling of 0ms fails every canary; give a positive duration or leave it out".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::dsl::{self, DslError, ErrorCode};
    use crate::model::Kind;

    fn read(routes: &str, canary: &str) -> Result<(), DslError> {
        dsl::read(
            Kind::Gateway,
            &format!("name: shop\nport: 9050\nroutes:\n{routes}canary:\n{canary}"),
        )
        .map(drop)
    }

    const TWO: &str = "  a/web: {weight: 100%}\n  b/web: {weight: 0%}\n";
    const AB: &str = "  baseline: a/web\n  canary: b/web\n";

    fn refused(routes: &str, canary: &str, path: &str, says: &str) {
        let e = read(routes, canary).unwrap_err();
        assert_eq!(e.code, ErrorCode::CanaryPolicyError, "{e}");
        assert_eq!(e.path, path, "{e}");
        assert_eq!(e.artifact.name, "shop", "{e}");
        assert!(e.message.contains(says), "{e}");
    }

    #[test]
    fn a_policy_between_two_weighted_routes_is_valid() {
        read(TWO, AB).unwrap();
        read(
            "  a/web: {weight: 100%}\n  b/web: {weight: 0%}\n  c/web: {condition: has cookie beta}\n",
            AB,
        )
        .unwrap();
    }

    #[test]
    fn routes_must_exist_and_differ() {
        refused(
            TWO,
            "  baseline: a/web\n  canary: c/web\n",
            "canary.canary",
            "not a route of gateway 'shop'",
        );
        refused(
            TWO,
            "  baseline: z/web\n  canary: b/web\n",
            "canary.baseline",
            "its routes are: a/web, b/web",
        );
        refused(
            TWO,
            "  baseline: a/web\n  canary: a/web\n",
            "canary.canary",
            "also the baseline",
        );
    }

    #[test]
    fn the_two_routes_are_inline_and_unconditional() {
        refused(
            "  a/web: {weight: 100%}\n  b/web: stored-route\n",
            AB,
            "canary.canary",
            "give it inline",
        );
        refused(
            "  a/web: {weight: 100%}\n  b/web: {weight: 0%, condition: has cookie beta}\n",
            AB,
            "canary.canary",
            "has a condition",
        );
    }

    #[test]
    fn no_other_route_may_carry_weight() {
        refused(
            "  a/web: {weight: 50%}\n  b/web: {weight: 0%}\n  c/web: {weight: 50%}\n",
            AB,
            "canary",
            "route 'c/web' has weight 50%",
        );
    }

    #[test]
    fn steps_ascend_strictly_within_one_to_a_hundred() {
        refused(
            TWO,
            &format!("{AB}  steps: [10%, 10%]\n"),
            "canary.steps[1]",
            "strictly ascending",
        );
        refused(
            TWO,
            &format!("{AB}  steps: [50%, 20%]\n"),
            "canary.steps[1]",
            "above 50%",
        );
        refused(
            TWO,
            &format!("{AB}  steps: [0%, 20%]\n"),
            "canary.steps[0]",
            "above 0%",
        );
        refused(
            TWO,
            &format!("{AB}  steps: []\n"),
            "canary.steps",
            "at least one step",
        );
    }

    #[test]
    fn numbers_are_bounded() {
        refused(
            TWO,
            &format!("{AB}  interval: 0s\n"),
            "canary.interval",
            "use 1s to 600s",
        );
        refused(
            TWO,
            &format!("{AB}  interval: 1h\n"),
            "canary.interval",
            "use 1s to 600s",
        );
        refused(
            TWO,
            &format!("{AB}  min_requests: 3\n"),
            "canary.min_requests",
            "at least 10",
        );
        refused(
            TWO,
            &format!("{AB}  confidence: 0.5\n"),
            "canary.confidence",
            "above 0.5 and below 1",
        );
        refused(
            TWO,
            &format!("{AB}  confidence: 1\n"),
            "canary.confidence",
            "above 0.5 and below 1",
        );
        refused(TWO, &format!("{AB}  max_p99: 0ms\n"), "canary.max_p99", "0ms");
    }

    #[test]
    fn tcp_gateways_cannot_run_a_canary() {
        let e = dsl::read(
            Kind::Gateway,
            &format!("name: shop\nport: 9050/tcp\nroutes:\n{TWO}canary:\n{AB}"),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str()),
            (ErrorCode::CanaryPolicyError, "canary")
        );
    }

    #[test]
    fn internal_gateways_run_a_canary_between_their_services() {
        let mut gw = crate::model::Gateway::new("shop/sava/web", crate::model::GatewayPort::default());
        gw.routes = vec![
            crate::model::GatewayRoute::new("shop/sava/sava:1.0/web"),
            crate::model::GatewayRoute::new("shop/sava/sava:1.1/web"),
        ];
        gw.canary = Some(crate::model::CanaryPolicy::new(
            "shop/sava/sava:1.0/web",
            "shop/sava/sava:1.1/web",
        ));
        super::super::gateway::validate_gateway(&gw).unwrap();
        gw.canary = Some(crate::model::CanaryPolicy::new(
            "shop/sava/sava:1.0/web",
            "shop/sava/sava:1.2/web",
        ));
        let e = super::super::gateway::validate_gateway(&gw).unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str()),
            (ErrorCode::CanaryPolicyError, "canary.canary")
        );
        assert_eq!(e.artifact.name, "shop/sava/web");
    }
}
