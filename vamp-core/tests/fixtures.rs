//! The original Vamp's 217 reader fixtures (tests/fixtures/vamp, with INDEX.md giving each one's expected outcome)
//! read by this project's DSL. Every fixture gets the outcome the original gave, except the deliberate
//! differences listed in `DIFFERENCES`, each explained in docs/dsl.md.

use std::path::{Path, PathBuf};

use vamp_core::dsl::{self, DslError};
use vamp_core::model::Kind;

/// Fixture → the error code this project gives where the original read it, or `reads` where it refused it.
const DIFFERENCES: &[(&str, &str)] = &[
    ("blueprint/blueprint21.yml", "ConditionSyntaxError"),
    ("breed/breed33.yml", "InvalidArgumentError"),
    ("gateway/gateway11.yml", "IllegalGatewayVirtualHosts"),
    ("workflow/workflow14.yml", "UndefinedWorkflowScheduleError"),
    ("event/query3.yml", "EventQueryTimeError"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vamp")
}

struct Fixture {
    file: String,
    reader: String,
    expected: String,
}

fn index() -> Vec<Fixture> {
    let text = std::fs::read_to_string(root().join("INDEX.md")).expect("INDEX.md");
    text.lines()
        .filter(|l| l.starts_with("| ") && l.contains(".yml"))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            Fixture {
                file: cols[1].to_string(),
                reader: cols[2].to_string(),
                expected: cols[4].to_string(),
            }
        })
        .collect()
}

fn run(f: &Fixture) -> Result<(), DslError> {
    let text = std::fs::read_to_string(root().join(&f.file)).expect("fixture");
    let name = Path::new(&f.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    match f.reader.as_str() {
        "BlueprintReader" => dsl::read(Kind::Blueprint, &text).map(drop),
        "BreedReader" => dsl::read(Kind::Breed, &text).map(drop),
        "GatewayReader" => dsl::read(Kind::Gateway, &text).map(drop),
        "SlaReader" => dsl::read(Kind::Sla, &text).map(drop),
        "WorkflowReader" => dsl::read(Kind::Workflow, &text).map(drop),
        "EventReader" if name.starts_with("query") => dsl::read_event_query(&text).map(drop),
        "EventReader" => dsl::read_event(&text).map(drop),
        "ImportReader" => {
            let doc = dsl::single_document(Kind::Template, &text)?;
            assert!(
                dsl::read::imports_of(&doc).is_some(),
                "{}: no import read",
                f.file
            );
            Ok(())
        }
        "ComposeBlueprintReader" if text.contains("services:") => dsl::read_compose(&text, &name).map(drop),
        "ComposeBlueprintReader" => dsl::read_compose_ports(&text).map(drop),
        "Reader" => {
            let doc = dsl::single_document(Kind::Template, &text)?;
            match name.as_str() {
                "invalid2" => dsl::field_integer(&doc, "integer").map(drop),
                "invalid3" => dsl::field_text(&doc, "root").map(drop),
                _ => Ok(()),
            }
        }
        other => panic!("unknown reader {other}"),
    }
}

fn outcome(r: &Result<(), DslError>) -> String {
    match r {
        Ok(()) => "reads".to_string(),
        Err(e) => format!("error: {}", e.code.name()),
    }
}

#[test]
fn every_fixture_gets_the_original_outcome_or_a_documented_difference() {
    let fixtures = index();
    assert_eq!(fixtures.len(), 217, "INDEX.md lists 217 fixtures");
    let mut mismatches = Vec::new();
    for f in &fixtures {
        let got = run(f);
        let expected = match DIFFERENCES.iter().find(|(file, _)| *file == f.file) {
            Some((_, "reads")) => "reads".to_string(),
            Some((_, code)) => format!("error: {code}"),
            None => f.expected.clone(),
        };
        if outcome(&got) != expected {
            mismatches.push(format!(
                "{}: expected {expected}, got {} ({:?})",
                f.file,
                outcome(&got),
                got.err().map(|e| e.to_string())
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_difference_is_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dsl.md"))
        .expect("docs/dsl.md");
    for (file, _) in DIFFERENCES {
        assert!(
            doc.contains(file),
            "docs/dsl.md does not explain the difference on {file}"
        );
    }
}

#[test]
fn every_error_names_the_artifact_kind() {
    for f in index().iter().filter(|f| f.expected.starts_with("error")) {
        if let Err(e) = run(f) {
            assert!(!e.message.is_empty(), "{}: empty message", f.file);
            assert!(
                e.to_string().contains(&e.artifact.kind.to_string()),
                "{}: {}",
                f.file,
                e
            );
        }
    }
}
