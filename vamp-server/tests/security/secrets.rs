//! Attacks on what the server keeps and prints: another local user reading the data directory (the database and
//! its WAL, which hold breeds' environment values), a persistence password in the startup log or an error, and
//! tokens visible in `ps`.

use std::time::Duration;

use vamp_core::testkit::servers::{wait_until, TestServer};

use crate::serve::Serve;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn no_other_user_can_read_the_data_directory_the_database_or_its_wal() {
    let serve = Serve::start(&[], &[("VAMP_API_TOKENS", "admin")]);
    let breed = "name: db-client\ndeployable: magneticio/sava:1.0.0\nenvironment_variables:\n  DB_PASSWORD: s3cret-value\n";
    let (status, body) = serve.http(
        "POST",
        "/api/v1/breeds",
        &[
            ("Host", "127.0.0.1"),
            ("Authorization", "Bearer admin"),
            ("Content-Type", "application/x-yaml"),
        ],
        breed,
    );
    assert_eq!(status, 201, "{body}");
    let data = serve.data_dir();
    assert_eq!(mode(&data), 0o700);
    let mut checked = 0;
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let path = entry.path();
        if path.is_file() {
            assert_eq!(mode(&path) & 0o077, 0, "{} is readable by others", path.display());
            checked += 1;
        }
    }
    assert!(
        data.join("vamp.db-wal").exists(),
        "the write went through the WAL"
    );
    assert!(checked >= 2, "the database and its WAL were checked");
}

#[test]
fn a_persistence_password_is_never_printed() {
    let mut postgres = TestServer::postgres().expect("PostgreSQL must be installed (apt: postgresql)");
    postgres.start().unwrap();
    let url = format!(
        "postgres://postgres:hunter2-secret@127.0.0.1:{}/postgres",
        postgres.port()
    );
    let serve = Serve::start(
        &["--persistence", &url, "--log-level", "info"],
        &[("VAMP_API_TOKENS", "admin")],
    );
    let started = wait_until(Duration::from_secs(30), || {
        serve.lines().iter().any(|l| l.contains("vamp serve starting"))
    });
    assert!(started, "{:?}", serve.lines());
    let lines = serve.lines();
    assert!(lines.iter().all(|l| !l.contains("hunter2-secret")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("postgres:***@")), "{lines:?}");

    let mut refused = Serve::spawn(
        &["--persistence", "postgres://vamp:hunter3-secret@127.0.0.1:1/vamp"],
        &[("VAMP_API_TOKENS", "admin")],
    );
    assert!(refused.wait_exit(Duration::from_secs(60)).is_some_and(|c| c != 0));
    let lines = refused.lines();
    assert!(lines.iter().all(|l| !l.contains("hunter3-secret")), "{lines:?}");
}

#[test]
fn tokens_from_files_or_the_environment_stay_out_of_ps_and_flags_are_warned_about() {
    let serve = Serve::start(&[], &[("VAMP_API_TOKENS", "env-token-not-in-ps")]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", serve.child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("env-token-not-in-ps"));
    assert!(!serve.lines().iter().any(|l| l.contains("visible to every user")));

    let flagged = Serve::start(&["--api-token", "flag-token"], &[]);
    let warned = wait_until(Duration::from_secs(10), || {
        flagged
            .lines()
            .iter()
            .any(|l| l.contains("visible to every user"))
    });
    assert!(warned, "{:?}", flagged.lines());
}
