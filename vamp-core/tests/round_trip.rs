//! Read → write → read is identity: every fixture the DSL reads, written back as canonical YAML and as JSON,
//! reads back to the same artifact.

use std::path::{Path, PathBuf};

use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vamp")
}

fn kind_of(dir: &str) -> Option<Kind> {
    Some(match dir {
        "blueprint" => Kind::Blueprint,
        "breed" => Kind::Breed,
        "gateway" => Kind::Gateway,
        "sla" => Kind::Sla,
        "workflow" => Kind::Workflow,
        _ => return None,
    })
}

fn readable() -> Vec<(String, Artifact)> {
    let mut out = Vec::new();
    for dir in ["blueprint", "breed", "gateway", "sla", "workflow"] {
        let kind = kind_of(dir).expect("kind");
        for entry in std::fs::read_dir(root().join(dir)).expect("dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            if let Ok(a) = dsl::read(kind, &text) {
                out.push((path.display().to_string(), a));
            }
        }
    }
    out
}

#[test]
fn yaml_round_trip_is_identity() {
    let all = readable();
    assert!(all.len() >= 129, "only {} fixtures read", all.len());
    for (file, a) in all {
        let yaml = dsl::to_yaml(&a).expect("write");
        let back = dsl::read(a.kind(), &yaml).unwrap_or_else(|e| panic!("{file}: {e}\n{yaml}"));
        assert_eq!(back, a, "{file}\n{yaml}");
    }
}

#[test]
fn json_round_trip_is_identity() {
    for (file, a) in readable() {
        let json = dsl::to_json_string(&a).expect("write");
        let back = dsl::read(a.kind(), &json).unwrap_or_else(|e| panic!("{file}: {e}\n{json}"));
        assert_eq!(back, a, "{file}\n{json}");
    }
}

#[test]
fn canonical_form_is_a_fixed_point() {
    for (file, a) in readable() {
        let once = dsl::to_yaml(&a).expect("write");
        let twice = dsl::to_yaml(&dsl::read(a.kind(), &once).expect("read")).expect("write");
        assert_eq!(once, twice, "{file}");
    }
}

#[test]
fn events_round_trip() {
    let text = "tags: [deployments:shop, release]\ntype: release\nvalue: {version: 2.2}\ntimestamp: 2017-06-01T10:00:00Z\n";
    let e = dsl::read_event(text).expect("read");
    let json = dsl::to_json_string(&Artifact::Event(e.clone())).expect("write");
    let back = dsl::read_event(&json).expect("read back");
    assert_eq!(back, e);
}

#[test]
fn compose_blueprint_round_trips() {
    let text = std::fs::read_to_string(root().join("compose/compose3.yml")).expect("read");
    let (bp, notes) = dsl::read_compose(&text, "wordpress").expect("compose");
    assert!(notes.iter().any(|n| n.contains("volumes")), "{notes:?}");
    let a = Artifact::Blueprint(bp);
    let back = dsl::read(Kind::Blueprint, &dsl::to_yaml(&a).expect("write")).expect("read");
    assert_eq!(back, a);
}

#[test]
fn multi_document_yaml_with_kind_reads_every_artifact() {
    let text = "---\nkind: breeds\nname: a:1\ndeployable: a\n---\nkind: scale\nname: small\ncpu: 0.2\nmemory: 256MB\n---\nkind: condition\nname: ff\ncondition: user-agent == Firefox\n";
    let all = dsl::read_all(text).expect("read");
    let kinds: Vec<Kind> = all.iter().map(Artifact::kind).collect();
    assert_eq!(kinds, vec![Kind::Breed, Kind::Scale, Kind::Condition]);
}

#[test]
fn deployments_round_trip_with_status_instances_and_interpolated_environment() {
    use chrono::TimeZone;
    use vamp_core::model::*;
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let bp = dsl::read_blueprint(
        "name: shop\ngateways:\n  9050/http: frontend/web\nclusters:\n  frontend:\n    gateways:\n      web:\n        sticky: route\n        routes:\n          web:1.0: {weight: 100%}\n    services:\n      breed:\n        name: web:1.0\n        deployable: {type: process, definition: ./web}\n        ports: {web: 8080/http}\n        environment_variables:\n          DB[DATABASE_URL]: $db.host\n          MODE: fast\n        dependencies: {db: db:1.0}\n  db: db:1.0\n",
    )
    .expect("blueprint");
    let cluster = &bp.clusters[0];
    let breed = cluster.services[0].breed.inline().expect("inline").clone();
    let mut env = breed.environment_variables.clone();
    env[0].interpolated = Some("127.0.0.1".into());
    let service = DeploymentService {
        status: ServiceStatus::initiated(Intention::Deployment, now)
            .with_phase(Phase::Failed("timed out".into()), now),
        breed,
        environment_variables: env,
        scale: Some(Scale::new(0.5, 256.0, 2)),
        instances: vec![Instance {
            name: "web-1".into(),
            host: "127.0.0.1".into(),
            ports: [("web".to_string(), 31001u16)].into_iter().collect(),
            deployed: true,
        }],
        arguments: vec![Argument {
            key: "privileged".into(),
            value: "false".into(),
        }],
        health_checks: None,
        network: Some("BRIDGE".into()),
        dependencies: [("db".to_string(), "db".to_string())].into_iter().collect(),
        dialects: Default::default(),
        health: Some(Health {
            staged: 0,
            running: 2,
            healthy: 2,
            unhealthy: 0,
        }),
    };
    let mut gw = bp.gateways[0].clone();
    gw.name = "shop/9050".into();
    let d = Deployment {
        name: "shop".into(),
        metadata: Default::default(),
        clusters: vec![DeploymentCluster {
            name: "frontend".into(),
            metadata: Default::default(),
            services: vec![service],
            gateways: cluster.gateways.clone(),
            health_checks: None,
            network: None,
            sla: None,
            dialects: Default::default(),
        }],
        gateways: vec![gw],
        environment_variables: vec![EnvironmentVariable::new("frontend.MODE", Some("slow".into()))],
        dialects: Default::default(),
    };
    let a = Artifact::Deployment(d);
    for text in [
        dsl::to_yaml(&a).expect("yaml"),
        dsl::to_json_string(&a).expect("json"),
    ] {
        let back = dsl::read(Kind::Deployment, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, a, "{text}");
    }
}
