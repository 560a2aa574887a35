//! Fuzzes the DSL reader: any UTF-8 text is read as every artifact kind, as a multi-document body, as an event,
//! an event query and a compose file, and is either refused with an error or read — never a panic, a hang or a
//! stack overflow. Whatever reads must survive the round trip: written in canonical YAML and JSON, it reads
//! back to an equal artifact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind};

fn round_trip(a: &Artifact) {
    let yaml = dsl::to_yaml(a).expect("an artifact that was read can be written");
    let back = dsl::read(a.kind(), &yaml).unwrap_or_else(|e| panic!("canonical YAML does not read back: {e}\n{yaml}"));
    assert_eq!(&back, a, "YAML round trip changed the artifact\n{yaml}");
    let json = dsl::to_json_string(a).expect("an artifact that was read can be written");
    let back = dsl::read(a.kind(), &json).unwrap_or_else(|e| panic!("canonical JSON does not read back: {e}\n{json}"));
    assert_eq!(&back, a, "JSON round trip changed the artifact\n{json}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in Kind::ALL {
        if kind == Kind::Event {
            continue;
        }
        if let Ok(a) = dsl::read(kind, text) {
            round_trip(&a);
        }
    }
    if let Ok(all) = dsl::read_all(text) {
        for a in all.iter().filter(|a| a.kind() != Kind::Event) {
            round_trip(a);
        }
    }
    let _ = dsl::read_event(text);
    let _ = dsl::read_event_query(text);
    let _ = dsl::read_compose(text, "fuzz");
});
