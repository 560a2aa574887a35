//! Fuzzes the DSL reader: any UTF-8 text is read into documents or refused with an error, never a panic, a hang
//! or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vamp_core::dsl::parse_documents(text);
    }
});
