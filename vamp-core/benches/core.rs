//! Benchmarks of the core: reading and validating a 1,000-service blueprint, and planning the gateways of 1,000
//! deployments. Run with `cargo bench -p vamp-core --bench core`; figures are recorded in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vamp_core::dsl;

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

criterion_group!(benches, read_and_validate);
criterion_main!(benches);
