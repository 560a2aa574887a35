//! Catalogue cases raised by operations (merge, slice, gateway planning, workflow updates, resolution) rather
//! than by reading.

use chrono::Utc;
use vamp_core::dsl::{self, DslError};
use vamp_core::model::{Deployment, Gateway, GatewayPort};
use vamp_core::ops::deployment::{attach, merge, slice, slice_request, DeploymentDefaults, MapSource};
use vamp_core::ops::gateways::ports::{assign_ports, check_port_available, PortAllocator, PortRange};
use vamp_core::ops::gateways::protections::{
    check_gateway_create, check_gateway_remove, check_gateway_update,
};
use vamp_core::ops::workflows::check_workflow_update;
use vamp_core::resolve::{resolve_environment, Strictness, Values};

use super::{call_case, Case};

fn workflow(text: &str) -> vamp_core::model::Workflow {
    dsl::read_workflow(text).expect("workflow")
}

fn attached(name: &str, text: &str) -> Result<Deployment, DslError> {
    let bp = dsl::read_deployment_request(text)?;
    let source = MapSource::new().with_breed(dsl::read_breed(
        "name: db:1.0\ndeployable: db\nports: {pg: 5432/tcp}\n",
    )?);
    attach(&bp, name, &source, &DeploymentDefaults::default(), Utc::now())
        .map_err(|e| e.dsl().cloned().unwrap_or_else(|| panic!("attach failed: {e}")))
}

fn deployed(name: &str, text: &str) -> Result<Deployment, DslError> {
    merge(None, &attached(name, text)?, Utc::now())
}

fn gateway(text: &str) -> Gateway {
    dsl::read_gateway(text).expect("gateway")
}

pub fn cases() -> Vec<Case> {
    vec![
        call_case!(
            NonUniqueBreedReferenceError,
            "clusters.b.services[0].breed",
            "PUT /deployments/shop {clusters: {b: web:1.0}} into a deployment running web:1.0 in cluster a",
            || {
                let first = deployed(
                    "shop",
                    "name: shop\nclusters:\n  a:\n    breed: {name: web:1.0, deployable: web}\n",
                )?;
                let again = attached(
                    "shop",
                    "name: shop\nclusters:\n  b:\n    breed: {name: web:1.0, deployable: web}\n",
                )?;
                merge(Some(&first), &again, Utc::now()).map(drop)
            }
        ),
        call_case!(
            UnresolvedDependencyError,
            "clusters.web.services[0].breed.dependencies.cache",
            "deploying web:1.0, which depends on cache:1.0, with no cluster running it",
            || {
                deployed("shop", "name: shop\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, dependencies: {cache: cache:1.0}}\n").map(drop)
            }
        ),
        call_case!(
            UnresolvedVariableValueError,
            "clusters.web.services[0].environment_variables.API_KEY",
            "deploying a breed with `API_KEY: ~` that no scope gives a value",
            || {
                deployed("shop", "name: shop\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, environment_variables: {API_KEY: ~}}\n").map(drop)
            }
        ),
        call_case!(
            UnresolvedEnvironmentValueError,
            "clusters.web.services[0].environment_variables.DB",
            "resolving `DB: $db.ports.pg` strictly before the db gateway has a port",
            || {
                let d = deployed(
                    "shop",
                    "name: shop\nclusters:\n  web:\n    breed: {name: web:1.0, deployable: web, environment_variables: {DB: $db.ports.pg}, dependencies: {db: db:1.0}}\n  db: db:1.0\n",
                )?;
                let cluster = d.cluster("web").expect("web");
                resolve_environment(
                    &d,
                    cluster,
                    &cluster.services[0],
                    &Values::new(),
                    Strictness::Strict,
                )
                .map(drop)
            }
        ),
        call_case!(
            UnsupportedRouteWeight,
            "clusters.web.gateways.http",
            "merging a cluster whose routes total 50%",
            || {
                deployed(
                "shop",
                "name: shop\nclusters:\n  web:\n    gateways:\n      http:\n        routes:\n          web:1.0: {weight: 30%}\n          web:2.0: {weight: 20%}\n    services:\n      - breed: {name: web:1.0, deployable: web, ports: {http: 8080}}\n      - breed: {name: web:2.0, deployable: web, ports: {http: 8080}}\n",
            )
            .map(drop)
            }
        ),
        call_case!(
            InvalidRouteWeight,
            "clusters.web.gateways.http",
            "DELETE web:1.0 (weight 90%) from a cluster where web:2.0 has 10%",
            || {
                let d = deployed(
                    "shop",
                    "name: shop\nclusters:\n  web:\n    gateways:\n      http:\n        routes:\n          web:1.0: {weight: 90%}\n          web:2.0: {weight: 10%}\n    services:\n      - breed: {name: web:1.0, deployable: web, ports: {http: 8080}}\n      - breed: {name: web:2.0, deployable: web, ports: {http: 8080}}\n",
                )?;
                let request = dsl::read_deployment_request("name: shop\nclusters:\n  web: web:1.0\n")?;
                slice(&d, &slice_request(&request), Utc::now()).map(drop)
            }
        ),
        call_case!(
            UnavailableGatewayPortError,
            "port",
            "creating gateway `b` on port 9050, which gateway `a` uses",
            || {
                let a = gateway("name: a\nport: 9050\nroutes: {x/web: {weight: 100%}}\n");
                let b = gateway("name: b\nport: 9050\nroutes: {y/web: {weight: 100%}}\n");
                check_port_available(&b, [&a])
            }
        ),
        call_case!(
            NoAvailablePortError,
            "port",
            "assigning a port to a second gateway when the range is 40000-40000",
            || {
                let mut gws = vec![
                    Gateway::new("a", GatewayPort::default()),
                    Gateway::new("b", GatewayPort::default()),
                ];
                let mut ports = PortAllocator::new(PortRange {
                    lower: 40000,
                    upper: 40000,
                });
                match assign_ports(&mut gws, |_| None, &mut ports).into_iter().next() {
                    Some((_, e)) => Err(e),
                    None => Ok(()),
                }
            }
        ),
        call_case!(
            InternalGatewayCreateError,
            "name",
            "POST /gateways {name: shop/web/http, …}",
            || check_gateway_create(&gateway(
                "name: shop/web/http\nport: 0\nroutes: {shop/web/web:1.0/http: {weight: 100%}}\n"
            ))
        ),
        call_case!(
            InternalGatewayUpdateError,
            "routes",
            "PUT /gateways/shop%2Fweb%2Fhttp adding a route",
            || {
                let existing = gateway(
                    "name: shop/web/http\nport: 40001\nroutes: {shop/web/web:1.0/http: {weight: 100%}}\n",
                );
                let requested = gateway(
                    "name: shop/web/http\nport: 40001\nroutes:\n  shop/web/web:1.0/http: {weight: 50%}\n  shop/web/web:2.0/http: {weight: 50%}\n",
                );
                check_gateway_update(Some(&existing), &requested, |_| true)
            }
        ),
        call_case!(
            InternalGatewayRemoveError,
            "",
            "DELETE /gateways/shop%2Fweb%2Fhttp while deployment shop exists",
            || check_gateway_remove("shop/web/http", |_| true)
        ),
        call_case!(
            DeploymentWorkflowNameCollision,
            "name",
            "creating workflow `shop` while a deployment `shop` exists",
            || {
                check_workflow_update(
                    None,
                    &workflow("name: shop\nbreed: metrics\nschedule: daemon\n"),
                    true,
                )
            }
        ),
        call_case!(
            WorkflowUpdateError,
            "status",
            "updating workflow `metrics` while it is running",
            || {
                let running = workflow("name: metrics\nbreed: metrics\nschedule: daemon\nstatus: running\n");
                check_workflow_update(Some(&running), &running, false)
            }
        ),
    ]
}
