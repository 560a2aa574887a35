//! Attacks on the API of a default `vamp serve`: an unauthenticated write that would run a shell command, a web
//! page's cross-site request (a CORS "simple request"), DNS rebinding, and an open API on a public address. Each
//! must fail as an attack; the operator's own ways in (the created token, token files, the CLI) must work.

use std::time::Duration;

use vamp_core::testkit::servers::wait_until;

use crate::serve::Serve;

/// A deployment whose only service is a shell command that leaves a mark in `marker`.
fn shell_deployment(marker: &str) -> String {
    format!(
        "name: pwned\nclusters:\n  evil:\n    services:\n      breed:\n        name: evil\n        deployable:\n          \
         type: command\n          definition: \"sh -c 'id > {marker}'\"\n"
    )
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_default_server_refuses_an_unauthenticated_shell_command_and_says_where_its_token_is() {
    let serve = Serve::start(&[], &[]);
    let marker = serve.data.0.join("pwned");
    let deployment = shell_deployment(marker.to_str().unwrap());
    for content_type in ["application/x-yaml", "text/plain"] {
        let (status, body) = serve.http(
            "POST",
            "/api/v1/deployments",
            &[("Host", "127.0.0.1"), ("Content-Type", content_type)],
            &deployment,
        );
        assert_eq!(status, 401, "{content_type}: {body}");
        assert!(body.contains("token"), "{body}");
    }
    let (status, _) = serve.http("GET", "/api/v1/deployments", &[("Host", "127.0.0.1")], "");
    assert_eq!(status, 401, "reads need the token too");

    let token_file = serve.data_dir().join("api-token");
    let announced = wait_until(Duration::from_secs(10), || {
        serve
            .lines()
            .iter()
            .any(|l| l.contains("admin token") && l.contains(token_file.to_str().unwrap()))
    });
    assert!(
        announced,
        "the server says where its token is: {:?}",
        serve.lines()
    );
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        assert_eq!(mode(&token_file), 0o600, "the token file is the owner's only");
        assert_eq!(
            mode(&serve.data_dir()),
            0o700,
            "the data directory is the owner's only"
        );
        assert_eq!(
            mode(&serve.data_dir().join("vamp.db")),
            0o600,
            "the database is the owner's only"
        );
    }
    let bearer = format!("Bearer {token}");
    let (status, body) = serve.http(
        "GET",
        "/api/v1/deployments",
        &[("Host", "127.0.0.1"), ("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.trim(), "[]", "the refused write stored nothing");
    assert!(!marker.exists(), "the shell command never ran");
    assert!(
        !serve.lines().iter().any(|l| l.contains(&token)),
        "the token itself is not printed"
    );
}

#[test]
fn the_cli_on_this_machine_uses_the_created_token() {
    let serve = Serve::start(&[], &[]);
    let data_dir = serve.data_dir();
    assert!(wait_until(Duration::from_secs(10), || data_dir
        .join("api-token")
        .exists()));
    let url = format!("http://127.0.0.1:{}", serve.port);
    let cli = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vamp"));
        cmd.args(["list", "breeds", "--url", &url])
            .current_dir(&serve.data.0);
        for (k, _) in std::env::vars() {
            if k.starts_with("VAMP_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied()).output().unwrap()
    };
    let found = cli(&[("VAMP_DATA_DIR", data_dir.to_str().unwrap())]);
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let from_cwd = cli(&[]);
    assert!(
        from_cwd.status.success(),
        "./vamp-data/api-token from the working directory: {}",
        String::from_utf8_lossy(&from_cwd.stderr)
    );
    let wrong = cli(&[("VAMP_TOKEN", "not-the-token")]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not valid"));
}

#[test]
fn an_open_api_still_refuses_cross_site_requests_and_dns_rebinding() {
    let serve = Serve::start(&["--insecure-open-api"], &[]);
    let host = format!("127.0.0.1:{}", serve.port);
    let breed = "name: evil\ndeployable:\n  type: command\n  definition: id\n";
    let simple = serve.http(
        "POST",
        "/api/v1/breeds",
        &[
            ("Host", &host),
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        breed,
    );
    assert_eq!(
        simple.0, 403,
        "a page of another origin cannot write: {}",
        simple.1
    );
    let form = serve.http(
        "POST",
        "/api/v1/breeds",
        &[
            ("Host", &host),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        breed,
    );
    assert_eq!(form.0, 415, "a form post is not a document: {}", form.1);
    let rebinding = serve.http(
        "POST",
        "/api/v1/breeds",
        &[
            ("Host", &format!("attacker.example:{}", serve.port)),
            ("Content-Type", "application/x-yaml"),
        ],
        breed,
    );
    assert_eq!(
        rebinding.0, 421,
        "a rebound name is not this server: {}",
        rebinding.1
    );
    let read_rebound = serve.http("GET", "/api/v1/breeds", &[("Host", "attacker.example")], "");
    assert_eq!(read_rebound.0, 421, "nor can a rebound page read");

    let same_origin = serve.http(
        "POST",
        "/api/v1/breeds",
        &[
            ("Host", &host),
            ("Origin", &format!("http://{host}")),
            ("Content-Type", "application/x-yaml"),
        ],
        breed,
    );
    assert_eq!(
        same_origin.0, 201,
        "the web UI of this server may write: {}",
        same_origin.1
    );
    let (status, body) = serve.http(
        "GET",
        "/api/v1/breeds",
        &[("Host", &format!("localhost:{}", serve.port))],
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("evil"), "only the same-origin write landed: {body}");
    assert!(
        serve.lines().iter().any(|l| l.contains("the API is open")),
        "an open API is announced: {:?}",
        serve.lines()
    );
}

#[test]
fn an_open_api_on_a_public_address_is_refused_at_start() {
    let mut serve = Serve::spawn(&["--listen", "0.0.0.0:0", "--insecure-open-api"], &[]);
    let code = serve.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(2), "{:?}", serve.lines());
    assert!(
        serve
            .lines()
            .iter()
            .any(|l| l.contains("api.insecure-open") && l.contains("loopback")),
        "{:?}",
        serve.lines()
    );
}

#[test]
fn tokens_come_from_files_and_the_environment() {
    let dir = crate::support::TempDir::new("security-tokens");
    let admin = dir.0.join("admin-tokens");
    let read = dir.0.join("read-tokens");
    std::fs::write(&admin, "# admins\nfile-admin\n").unwrap();
    std::fs::write(&read, "file-reader\n").unwrap();
    let serve = Serve::start(
        &["--api-token-file", admin.to_str().unwrap()],
        &[
            ("VAMP_API_READ_TOKEN_FILE", read.to_str().unwrap()),
            ("VAMP_API_TOKENS", "env-admin"),
        ],
    );
    let call = |method: &str, token: &str| {
        serve
            .http(
                method,
                "/api/v1/breeds",
                &[
                    ("Host", "127.0.0.1"),
                    ("Authorization", &format!("Bearer {token}")),
                    ("Content-Type", "application/x-yaml"),
                ],
                if method == "POST" {
                    "name: b\ndeployable: magneticio/sava:1.0.0\n"
                } else {
                    ""
                },
            )
            .0
    };
    assert_eq!(call("GET", "file-admin"), 200);
    assert_eq!(call("GET", "env-admin"), 200);
    assert_eq!(call("GET", "file-reader"), 200);
    assert_eq!(call("POST", "file-reader"), 403);
    assert_eq!(call("POST", "file-admin"), 201);
    assert!(
        !serve.data_dir().join("api-token").exists(),
        "no token is created when tokens are configured"
    );
}
