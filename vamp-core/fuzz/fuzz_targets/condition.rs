//! Fuzzes the condition language: any UTF-8 text either fails to parse with an error, or parses to a tree whose
//! canonical text parses back to the same tree, and whose normal form is computed or refused as too complex,
//! never a panic, a hang or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vamp_core::condition::{compile, normal_form, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = parse(text) {
        let _ = normal_form(&expr);
        let canonical = expr.to_string();
        match parse(&canonical) {
            Ok(again) => assert_eq!(
                again, expr,
                "canonical text {canonical:?} of {text:?} parses differently"
            ),
            Err(e) => panic!("canonical text {canonical:?} of {text:?} does not parse: {e}"),
        }
    }
    let _ = compile(text);
});
