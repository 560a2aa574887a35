//! Proving configurations and templates against the real `haproxy -c`: the configuration and its map files are
//! written to a fresh temporary directory, and HAProxy checks them with the environment the agent gives it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::{Error, Result};

use super::envelope::Envelope;
use super::samples::every_feature;
use super::HaproxyMarshaller;

/// Checks a user template before it is stored: it must keep to [`super::user_template`]'s allow-list and
/// limits, render [`every_feature`]'s gateways (raw ACLs and rewrites included) into a configuration that keeps
/// to [`super::config_policy`]'s allow-list, and only then, that configuration must pass `haproxy -c` run from
/// `haproxy` (the binary's path). `Invalid` with the message naming the line otherwise; `Unavailable` when
/// HAProxy cannot be run. Blocks for the check (about 0.1 s): call it from a blocking task.
pub fn check_template(template: &str, haproxy: &Path) -> Result<()> {
    let marshaller = HaproxyMarshaller::with_template(template)?
        .with_options(super::HaproxyOptions::default().with_raw_acls(true));
    let text = marshaller.render(&every_feature())?;
    check_config(&text, haproxy).map(drop).map_err(|e| {
        Error::new(
            e.kind(),
            format!("The HAProxy template was refused: {}", e.message()),
        )
    })
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "vamp-haproxy-check-{}-{}-{nanos}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(path.join("maps")).map_err(|e| {
            Error::backend(format!(
                "A temporary directory for haproxy -c could not be created: {e}"
            ))
            .with_source(e)
        })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `haproxy -c` on an envelope text (a configuration with or without the agent trailer), its map files
/// written to `$VAMP_MAPS_DIR` in a temporary directory. Returns HAProxy's output (notices and warnings) when
/// the configuration is valid; `Invalid` with HAProxy's alerts when it is not; `Unavailable` when `haproxy`
/// cannot be run.
pub fn check_config(text: &str, haproxy: &Path) -> Result<String> {
    let envelope = Envelope::parse(text)?;
    let dir = TempDir::new()?;
    let io = |what: &str, e: std::io::Error| {
        Error::backend(format!("{what} could not be written for haproxy -c: {e}")).with_source(e)
    };
    for (name, content) in &envelope.maps {
        std::fs::write(dir.0.join("maps").join(name), content).map_err(|e| io("A map file", e))?;
    }
    let config = dir.0.join("haproxy.cfg");
    std::fs::write(&config, &envelope.config).map_err(|e| io("The configuration", e))?;
    let output = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&config)
        .env("VAMP_MAPS_DIR", dir.0.join("maps"))
        .env("VAMP_RUNTIME_SOCKET", dir.0.join("haproxy.sock"))
        .output()
        .map_err(|e| {
            Error::unavailable(format!("HAProxy ('{}') could not be run: {e}", haproxy.display()))
                .with_source(e)
        })?;
    let mut messages = String::from_utf8_lossy(&output.stdout).into_owned();
    messages.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        return Ok(messages);
    }
    let alerts: Vec<&str> = messages
        .lines()
        .filter(|l| l.contains("[ALERT]") || l.contains("[WARNING]"))
        .collect();
    let detail = if alerts.is_empty() {
        messages.trim().to_string()
    } else {
        alerts.join("\n")
    };
    Err(Error::invalid(format!(
        "haproxy -c refused the configuration:\n{detail}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::BUNDLED_TEMPLATE;

    const HAPROXY: &str = "haproxy";

    #[test]
    fn the_bundled_template_passes_haproxy_check_without_warnings() {
        let text = HaproxyMarshaller::new()
            .with_options(crate::haproxy::HaproxyOptions::default().with_raw_acls(true))
            .render(&every_feature())
            .unwrap();
        let output = check_config(&text, Path::new(HAPROXY)).unwrap();
        assert!(!output.contains("WARNING"), "{output}\n{text}");
        check_template(BUNDLED_TEMPLATE, Path::new(HAPROXY)).unwrap();
    }

    #[test]
    fn a_template_haproxy_refuses_is_invalid_with_its_message() {
        let template = BUNDLED_TEMPLATE.replace("retries 3", "retries 3 extra-word");
        let e = check_template(&template, Path::new(HAPROXY)).unwrap_err();
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
        assert!(e.message().contains("extra-word"), "{}", e.message());
    }

    #[test]
    fn a_template_that_runs_a_program_is_refused_before_haproxy_runs() {
        let template = format!(
            "{}\nprogram shell\n    command /bin/sh -c id\n",
            BUNDLED_TEMPLATE.replace("global\n", "global\n    master-worker\n")
        );
        let e = check_template(&template, Path::new("/nonexistent/haproxy")).unwrap_err();
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
        assert!(e.message().contains("`master-worker`"), "{}", e.message());
    }

    #[test]
    fn a_template_that_does_not_render_is_invalid() {
        let e = check_template("{{#each gateways}}{{/each", Path::new(HAPROXY)).unwrap_err();
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
    }

    #[test]
    fn a_missing_haproxy_is_unavailable() {
        let e = check_config("global\n", Path::new("/nonexistent/haproxy")).unwrap_err();
        assert!(matches!(e.kind(), vamp_core::ErrorKind::Unavailable { .. }));
    }
}
