//! Benchmarks of the core: reading and validating a 1,000-service blueprint, and planning the gateways of 1,000
//! deployments. Run with `cargo bench -p vamp-core --bench core`; figures are recorded in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vamp_core::dsl;
use vamp_core::model::Deployment;
use vamp_core::ops::deployment::{attach, merge, DeploymentDefaults, MapSource};
use vamp_core::ops::gateways::plan::{plan_gateways, GatewayPlanConfig, GatewayPlanInput};

/// A blueprint of `n` clusters, each one inline breed with two ports, environment with a dependency reference,
/// a scale, and a cluster gateway with a weighted route; plus 10 external gateways.
pub fn big_blueprint(n: usize) -> String {
    let mut s = String::from("name: big\ngateways:\n");
    for g in 0..10 {
        s.push_str(&format!("  {}/http: c{g}/web\n", 9000 + g));
    }
    s.push_str("clusters:\n");
    for i in 0..n {
        let dep = if i > 0 {
            format!("\n          dependencies: {{up: svc{}:1.0}}", i - 1)
        } else {
            String::new()
        };
        let env = if i > 0 {
            "\n          environment_variables: {UP: \"$up.host:$up.ports.web\", MODE: fast}"
        } else {
            ""
        };
        s.push_str(&format!(
            "  c{i}:\n    gateways:\n      web:\n        routes:\n          svc{i}:1.0: {{weight: 100%}}\n    services:\n      - breed:\n          name: svc{i}:1.0\n          deployable: {{type: process, definition: ./svc --id {i}}}\n          ports: {{web: 8080/http, admin: 9090/tcp}}{env}{dep}\n        scale: {{cpu: 0.1, memory: 64MB, instances: 2}}\n"
        ));
    }
    s
}

fn read_and_validate(c: &mut Criterion) {
    let text = big_blueprint(1000);
    c.bench_function(
        "baseline: YAML parse only of the same text, 1,000 services",
        |b| b.iter(|| dsl::parse_documents(&text).expect("yaml")),
    );
    c.bench_function("read+validate blueprint, 1,000 services", |b| {
        b.iter(|| dsl::read_blueprint(&text).expect("valid blueprint"))
    });
    let bp = dsl::read_blueprint(&text).expect("valid");
    let artifact = vamp_core::model::Artifact::Blueprint(bp);
    c.bench_function("write blueprint as YAML, 1,000 services", |b| {
        b.iter_batched(
            || artifact.clone(),
            |a| dsl::to_yaml(&a).expect("yaml"),
            BatchSize::SmallInput,
        )
    });
}

/// 1,000 deployments of a two-cluster blueprint (a frontend of two versions sharing a port, a database), each
/// with its own external gateway: 3,000 gateways.
fn thousand_deployments() -> Vec<Deployment> {
    let now = chrono::Utc::now();
    (0..1000)
        .map(|i| {
            let text = format!(
                "name: shop{i}\ngateways:\n  {}/http: frontend/web\nclusters:\n  frontend:\n    gateways:\n      web:\n        routes:\n          fe{i}:1.0: {{weight: 90%}}\n          fe{i}:1.1: {{weight: 10%, condition: has cookie beta}}\n    services:\n      - breed: {{name: fe{i}:1.0, deployable: fe, ports: {{web: 8080/http}}, dependencies: {{db: db{i}:1.0}}}}\n      - breed: {{name: fe{i}:1.1, deployable: fe, ports: {{web: 8080/http}}, dependencies: {{db: db{i}:1.0}}}}\n  db:\n    breed: {{name: db{i}:1.0, deployable: db, ports: {{pg: 5432/tcp}}}}\n",
                10_000 + i
            );
            let bp = dsl::read_blueprint(&text).expect("valid blueprint");
            let a = attach(&bp, &bp.name, &MapSource::new(), &DeploymentDefaults::default(), now).expect("attach");
            merge(None, &a, now).expect("merge")
        })
        .collect()
}

fn plan_gateways_for_1000_deployments(c: &mut Criterion) {
    let deployments = thousand_deployments();
    let config = GatewayPlanConfig::default();
    let first = plan_gateways(&GatewayPlanInput {
        deployments: &deployments,
        gateways: &[],
        previous: &[],
        config: &config,
    })
    .expect("plan");
    assert_eq!(first.gateways.len(), 3000);
    assert!(first.held_back.is_empty(), "{:?}", first.held_back.first());
    c.bench_function(
        "plan gateways, 1,000 deployments (3,000 gateways), from scratch",
        |b| {
            b.iter(|| {
                plan_gateways(&GatewayPlanInput {
                    deployments: &deployments,
                    gateways: &[],
                    previous: &[],
                    config: &config,
                })
            })
        },
    );
    c.bench_function(
        "plan gateways, 1,000 deployments (3,000 gateways), steady state",
        |b| {
            b.iter(|| {
                plan_gateways(&GatewayPlanInput {
                    deployments: &deployments,
                    gateways: &[],
                    previous: &first.gateways,
                    config: &config,
                })
            })
        },
    );
}

criterion_group!(benches, read_and_validate, plan_gateways_for_1000_deployments);
criterion_main!(benches);
