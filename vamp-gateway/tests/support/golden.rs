//! Golden files under `tests/golden/`: a rendered configuration is compared byte for byte with its file, and
//! every golden configuration must pass the real `haproxy -c` without warnings. `VAMP_UPDATE_GOLDEN=1`
//! rewrites the files instead of comparing.

use std::path::{Path, PathBuf};

use vamp_gateway::haproxy::check_config;

use super::haproxy::haproxy_binary;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.cfg"))
}

/// Asserts `text` equals the golden file `name` (or rewrites it with `VAMP_UPDATE_GOLDEN=1`), then that HAProxy
/// accepts it.
pub fn assert_golden(name: &str, text: &str) {
    let path = golden_path(name);
    if std::env::var("VAMP_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, text).unwrap();
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "golden file {} ({e}); run with VAMP_UPDATE_GOLDEN=1",
                path.display()
            )
        });
        assert!(
            expected == text,
            "{name}: the rendering differs from {} (VAMP_UPDATE_GOLDEN=1 rewrites it):\n{text}",
            path.display()
        );
    }
    assert_haproxy_accepts(name, text);
}

/// Asserts that rendering `gateways` through handlebars with the bundled template (made to differ by a trailing
/// template comment, so the hand-written fast path is not taken) gives `text`.
pub fn assert_handlebars_agrees(gateways: &[vamp_core::model::Gateway], text: &str) {
    use vamp_core::gateway::GatewayMarshaller;
    use vamp_gateway::haproxy::{HaproxyMarshaller, BUNDLED_TEMPLATE};
    let template = format!("{BUNDLED_TEMPLATE}{{{{!-- rendered by handlebars --}}}}");
    let slow = HaproxyMarshaller::with_template(&template)
        .unwrap()
        .with_options(vamp_gateway::haproxy::HaproxyOptions::default().with_raw_acls(true));
    assert_eq!(
        slow.render(gateways).unwrap(),
        text,
        "handlebars and the fast path disagree"
    );
}

/// Asserts `haproxy -c` accepts the envelope text without a warning.
pub fn assert_haproxy_accepts(name: &str, text: &str) {
    match check_config(text, &haproxy_binary()) {
        Ok(output) => assert!(
            !output.contains("[WARNING]"),
            "{name}: haproxy -c warns:\n{output}\n{text}"
        ),
        Err(e) => panic!("{name}: {}\n{text}", e.message()),
    }
}
