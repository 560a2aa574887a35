//! Reads a blueprint, validates it, and prints what Vamp would do with it: the deployment it becomes, the order
//! its clusters start in, the gateways it gets (ports, weights, virtual hosts) and the first actions of the
//! deployment loop. Everything here is `vamp-core`'s pure logic; nothing is started.
//!
//! `cargo run -p vamp-examples --bin plan -- examples/blueprints/shop.yml`

use std::process::ExitCode;

use chrono::Utc;
use vamp_core::dsl;
use vamp_core::model::{Deployment, Ref};
use vamp_core::ops::deployment::{attach, merge, DeploymentDefaults, MapSource};
use vamp_core::ops::gateways::plan::{plan_gateways, GatewayPlanConfig, GatewayPlanInput};
use vamp_core::ops::reconcile::{plan, ReconcileConfig};
use vamp_core::resolve::cluster_order;

fn run(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let blueprint = dsl::read_blueprint(&text).map_err(|e| e.to_string())?;
    println!(
        "blueprint '{}' is valid: {} clusters, {} gateways",
        blueprint.name,
        blueprint.clusters.len(),
        blueprint.gateways.len()
    );

    let now = Utc::now();
    let attachment = attach(
        &blueprint,
        &blueprint.name,
        &MapSource::new(),
        &DeploymentDefaults::default(),
        now,
    )
    .map_err(|e| e.to_string())?;
    let deployment = merge(None, &attachment, now).map_err(|e| e.to_string())?;
    print_deployment(&deployment);

    let order = cluster_order(&deployment).map_err(|c| format!("dependency cycle: {c}"))?;
    println!("\nstart order:");
    for (i, layer) in order.iter().enumerate() {
        println!("  {}. {}", i + 1, layer.join(", "));
    }

    let config = GatewayPlanConfig::default();
    let deployments = [deployment];
    let gateways = plan_gateways(&GatewayPlanInput {
        deployments: &deployments,
        gateways: &[],
        previous: &[],
        config: &config,
    })
    .map_err(|e| e.to_string())?;
    println!("\ngateways:");
    for planned in &gateways.gateways {
        let g = &planned.gateway;
        let kind = if planned.internal { "internal" } else { "external" };
        let sticky = g
            .sticky
            .map(|s| format!(", sticky {s:?}").to_lowercase())
            .unwrap_or_default();
        println!("  {} ({kind}) on port {}{sticky}", g.name, g.port);
        for r in &g.routes {
            let (weight, condition) = match &r.route {
                Ref::Inline(route) => (
                    route.weight.map(|w| w.to_string()).unwrap_or_default(),
                    route.condition.as_ref().map(|c| match c {
                        Ref::Inline(c) => format!(
                            " if {} ({})",
                            c.definition,
                            route.condition_strength.unwrap_or_default()
                        ),
                        Ref::Named(n) => format!(" if condition '{n}'"),
                    }),
                ),
                Ref::Named(n) => (format!("route '{n}'"), None),
            };
            println!("    -> {} {weight}{}", r.path, condition.unwrap_or_default());
        }
        if !g.virtual_hosts.is_empty() {
            println!("    virtual hosts: {}", g.virtual_hosts.join(", "));
        }
    }
    for held in &gateways.held_back {
        println!("  held back: {held}");
    }

    println!("\nfirst pass of the deployment loop (nothing running yet):");
    for action in plan(&deployments, &[], now, &ReconcileConfig::default()) {
        println!("  {action}");
    }
    Ok(())
}

fn print_deployment(d: &Deployment) {
    println!("\ndeployment '{}':", d.name);
    for c in &d.clusters {
        for s in &c.services {
            let scale = s.scale.as_ref().map(|x| x.to_string()).unwrap_or_default();
            println!(
                "  {}/{}: {} [{:?}/{}] {scale}",
                c.name,
                s.breed.name,
                s.breed.deployable.definition,
                s.status.intention,
                s.status.phase.name()
            );
            for (alias, cluster) in &s.dependencies {
                println!("    depends on {alias} -> cluster {cluster}");
            }
        }
    }
}

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/blueprints/shop.yml".to_string());
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
