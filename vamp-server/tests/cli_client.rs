//! The CLI client against the real REST API (tests/cli_support): every command through the real `vamp` binary,
//! its output formats and its exit codes (0 ok, 1 refused/failed, 2 usage, 3 unreachable, 4 wait timeout).

mod cli_support;

use cli_support::{code, run_vamp, stderr, stdout, TempDir, TestApi, TestApiOptions};
use serde_json::Value;

const SHOP: &str = r#"---
kind: breed
name: sava:1.0
deployable: magneticio/sava:1.0.0
ports:
  web: 8080/http
---
kind: breed
name: sava:1.1
deployable: magneticio/sava:1.1.0
ports:
  web: 8080/http
---
kind: blueprint
name: shop
gateways:
  9050: sava/web
clusters:
  sava:
    services:
      - breed: sava:1.0
"#;

const CANARY: &str = r#"name: shop
clusters:
  sava:
    services:
      - breed: sava:1.1
"#;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

fn ok(o: &std::process::Output) {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

#[test]
fn multi_document_create_then_list_and_describe_in_every_format() {
    let api = TestApi::start();
    let out = api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]);
    ok(&out);
    assert_eq!(
        stdout(&out),
        "breed 'sava:1.0' created\nbreed 'sava:1.1' created\nblueprint 'shop' created\n"
    );

    let table = api.vamp(&["list", "breeds"]);
    ok(&table);
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DEPLOYABLE"]
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("sava:1.0") && l.ends_with("magneticio/sava:1.0.0")));
    assert_eq!(lines.len(), 3);

    let listed = json(&api.vamp(&["list", "breeds", "-o", "json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let described = json(&api.vamp(&["describe", "blueprint", "shop", "--output", "json"]));
    assert_eq!(described["name"], "shop");
    assert!(described["clusters"]["sava"].is_object());

    let yaml = stdout(&api.vamp(&["describe", "breed", "sava:1.1"]));
    assert!(
        yaml.contains("name: \"sava:1.1\"") || yaml.contains("name: sava:1.1"),
        "{yaml}"
    );
    assert!(yaml.contains("deployable"), "{yaml}");
}

#[test]
fn list_follows_the_servers_paging() {
    let api = TestApi::start();
    let docs: String = (0..45)
        .map(|i| format!("---\nkind: breed\nname: b{i:02}\ndeployable: img/b:{i}\n"))
        .collect();
    ok(&api.vamp_with(&["create", "-f", "-"], Some(&docs), &[]));
    let all = json(&api.vamp(&["list", "breeds", "-o", "json"]));
    assert_eq!(all.as_array().unwrap().len(), 45);
    let second = json(&api.vamp(&["list", "breeds", "-o", "json", "--page", "2", "--per-page", "10"]));
    assert_eq!(second.as_array().unwrap().len(), 10);
}

#[test]
fn deploy_wait_merge_canary_weights_and_undeploy() {
    let api = TestApi::start();
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));

    let deployed = api.vamp(&["deploy", "shop", "--wait", "--timeout", "30s"]);
    ok(&deployed);
    assert!(stdout(&deployed).contains("deployment 'shop' accepted"));
    assert!(
        stderr(&deployed).contains("deployment 'shop' is deployed (1/1 services)"),
        "{}",
        stderr(&deployed)
    );

    let list = stdout(&api.vamp(&["list", "deployments"]));
    let row = list.lines().find(|l| l.starts_with("shop")).unwrap();
    assert!(row.contains("Deployed"), "{list}");

    let merged = api.vamp_with(
        &["merge", "--stdin", "--deployment", "shop", "--wait"],
        Some(CANARY),
        &[],
    );
    ok(&merged);
    assert!(stderr(&merged).contains("(2/2 services)"), "{}", stderr(&merged));

    let weights = api.vamp(&[
        "update-gateway",
        "shop/sava/web",
        "--weights",
        "sava:1.0@90%,sava:1.1@10%",
    ]);
    ok(&weights);
    let gateway = json(&api.vamp(&["describe", "gateway", "shop/sava/web", "-o", "json"]));
    let routes = gateway["routes"].as_object().unwrap();
    let weight_of = |breed: &str| {
        routes
            .iter()
            .find(|(k, _)| k.split('/').any(|s| s == breed))
            .map(|(_, r)| r["weight"].clone())
            .unwrap()
    };
    assert_eq!(weight_of("sava:1.0"), "90%");
    assert_eq!(weight_of("sava:1.1"), "10%");
    let table = stdout(&api.vamp(&["describe", "gateway", "shop/sava/web", "-o", "table"]));
    assert!(
        table.contains("ROUTE") && table.contains("90%") && table.contains("10%"),
        "{table}"
    );

    let condition = api.vamp(&[
        "update-gateway",
        "shop/sava/web",
        "--route",
        "sava:1.1",
        "--condition",
        "User-Agent = Firefox",
        "--strength",
        "50%",
    ]);
    ok(&condition);
    let gateway = json(&api.vamp(&["describe", "gateway", "shop/sava/web", "-o", "json"]));
    let canary = gateway["routes"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.contains("sava:1.1"))
        .unwrap()
        .1
        .clone();
    assert_eq!(canary["condition_strength"], "50%");

    let rebalance = api.vamp(&[
        "update-gateway",
        "shop/sava/web",
        "--weights",
        "sava:1.0@100%,sava:1.1@0%",
    ]);
    ok(&rebalance);
    let sliced = api.vamp(&[
        "undeploy",
        "shop",
        "--service",
        "sava:1.0",
        "--wait",
        "--timeout",
        "30s",
    ]);
    ok(&sliced);
    let left = json(&api.vamp(&["describe", "deployment", "shop", "-o", "json"]));
    let services = left["clusters"]["sava"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["breed"]["name"], "sava:1.1");

    let gone = api.vamp(&["undeploy", "shop", "--wait", "--timeout", "30s"]);
    ok(&gone);
    assert!(
        stderr(&gone).contains("deployment 'shop' is undeployed"),
        "{}",
        stderr(&gone)
    );
    assert_eq!(code(&api.vamp(&["describe", "deployment", "shop"])), 1);
}

#[test]
fn wait_on_a_failing_deployment_exits_1_with_the_reason() {
    let api = TestApi::start_with(TestApiOptions {
        never_starts: true,
        deploy_timeout_s: Some(1),
        ..TestApiOptions::default()
    });
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));
    let out = api.vamp(&[
        "deploy",
        "shop",
        "--deployment",
        "broken",
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("error: deployment 'broken' failed: sava/sava:1.0:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wait_that_runs_out_of_time_exits_4() {
    let api = TestApi::start_with(TestApiOptions {
        never_starts: true,
        deploy_timeout_s: Some(600),
        ..TestApiOptions::default()
    });
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));
    let started = std::time::Instant::now();
    let out = api.vamp(&["deploy", "shop", "--wait", "--timeout", "1s"]);
    assert_eq!(code(&out), 4, "{}\n{}", stdout(&out), stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        stderr(&out).contains("did not converge within 1s (0/1 services done)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_codes_scripts_can_rely_on() {
    let api = TestApi::start();
    let missing = api.vamp(&["describe", "breed", "nope"]);
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing).contains("breed 'nope' does not exist"),
        "{}",
        stderr(&missing)
    );

    let refused = api.vamp_with(
        &["create", "gateway", "--stdin"],
        Some("name: bad\nport: banana\nroutes: {}\n"),
        &[],
    );
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("(HTTP 400)"), "{}", stderr(&refused));

    assert_eq!(code(&api.vamp(&["list"])), 2);
    assert_eq!(code(&api.vamp(&["list", "breeds", "--bogus"])), 2);
    assert_eq!(code(&api.vamp(&["list", "unicorns"])), 2);
    let bad_yaml = api.vamp_with(&["create", "--stdin"], Some("name: [unclosed\n"), &[]);
    assert_eq!(code(&bad_yaml), 2);
    assert!(
        stderr(&bad_yaml).contains("not valid YAML"),
        "{}",
        stderr(&bad_yaml)
    );
    let dir = TempDir::new("missing-file");
    let nofile = api.vamp(&["create", "-f", dir.join("none.yml").to_str().unwrap()]);
    assert_eq!(code(&nofile), 2);

    let port = vamp_core::testkit::servers::free_port().unwrap();
    let unreachable = run_vamp(
        &["list", "breeds", "--url", &format!("http://127.0.0.1:{port}")],
        None,
        &[],
    );
    assert_eq!(code(&unreachable), 3);
    assert!(
        stderr(&unreachable).contains("cannot be reached"),
        "{}",
        stderr(&unreachable)
    );

    let help = api.vamp(&["--help"]);
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("update-gateway"));
}

#[test]
fn the_token_comes_from_the_flag_or_vamp_token() {
    let api = TestApi::start_with(TestApiOptions {
        tokens: vec!["s3cret".into()],
        ..TestApiOptions::default()
    });
    let denied = api.vamp(&["list", "breeds"]);
    assert_eq!(code(&denied), 1);
    assert!(stderr(&denied).contains("HTTP 401"), "{}", stderr(&denied));
    ok(&api.vamp(&["list", "breeds", "--token", "s3cret"]));
    ok(&api.vamp_with(&["list", "breeds"], None, &[("VAMP_TOKEN", "s3cret")]));
}

#[test]
fn emit_publishes_an_event_that_list_events_finds() {
    let api = TestApi::start();
    let out = api.vamp(&[
        "emit",
        "--tag",
        "release:canary",
        "--tag",
        "team:shop",
        "--type",
        "note",
        "{\"step\": 1}",
    ]);
    ok(&out);
    let events = json(&api.vamp(&["list", "events", "--tag", "release:canary", "-o", "json"]));
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["value"]["step"], 1);
    assert_eq!(events[0]["type"], "note");
    let table = stdout(&api.vamp(&["list", "events", "--tag", "team:shop"]));
    assert!(table.starts_with("TIMESTAMP"), "{table}");
    assert_eq!(code(&api.vamp(&["emit", "no tags"])), 2);
}

#[test]
fn generated_skeletons_are_accepted_by_the_server() {
    let api = TestApi::start();
    let breed = api.vamp(&[
        "generate",
        "breed",
        "--name",
        "web:1.0",
        "--deployable",
        "img/web:1.0",
    ]);
    ok(&breed);
    assert!(
        stdout(&breed).starts_with("kind: breed\nname: \"web:1.0\"")
            || stdout(&breed).starts_with("kind: breed\nname: web:1.0"),
        "{}",
        stdout(&breed)
    );
    ok(&api.vamp_with(&["create", "--stdin"], Some(&stdout(&breed)), &[]));
    let blueprint = api.vamp(&[
        "generate",
        "blueprint",
        "--name",
        "web",
        "--breed",
        "web:1.0",
        "--cluster",
        "web",
        "--deployable",
        "img/web:1.0",
    ]);
    ok(&blueprint);
    ok(&api.vamp_with(
        &["create", "--stdin", "--validate-only"],
        Some(&stdout(&blueprint)),
        &[],
    ));
    let gateway = api.vamp(&[
        "generate",
        "gateway",
        "--name",
        "front",
        "--port",
        "9070/http",
        "--route",
        "a/b/c",
        "--route",
        "d/e/f",
    ]);
    ok(&gateway);
    assert!(stdout(&gateway).contains("50%"), "{}", stdout(&gateway));
    let copy = api.vamp(&[
        "generate", "breed", "--source", "web:1.0", "--name", "web:1.1", "-o", "json",
    ]);
    ok(&copy);
    let copy = json(&copy);
    assert_eq!(copy["name"], "web:1.1");
    assert_eq!(copy["kind"], "breed");
}

#[test]
fn delete_removes_artifacts_by_name_and_by_file() {
    let api = TestApi::start();
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));
    ok(&api.vamp(&["delete", "blueprint", "shop"]));
    assert_eq!(code(&api.vamp(&["describe", "blueprint", "shop"])), 1);
    let breeds = "---\nkind: breed\nname: sava:1.0\n---\nkind: breed\nname: sava:1.1\n";
    let out = api.vamp_with(&["delete", "--stdin"], Some(breeds), &[]);
    ok(&out);
    assert_eq!(
        stdout(&out),
        "breed 'sava:1.0' deleted\nbreed 'sava:1.1' deleted\n"
    );
    assert_eq!(
        json(&api.vamp(&["list", "breeds", "-o", "json"])),
        Value::Array(vec![])
    );
}

#[test]
fn update_requires_the_documents_name_to_match() {
    let api = TestApi::start();
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));
    let changed = "name: sava:1.0\ndeployable: magneticio/sava:1.0.9\nports:\n  web: 8080/http\n";
    ok(&api.vamp_with(&["update", "breed", "sava:1.0", "--stdin"], Some(changed), &[]));
    let b = json(&api.vamp(&["describe", "breed", "sava:1.0", "-o", "json"]));
    assert!(b["deployable"].to_string().contains("1.0.9"), "{b}");
    assert_eq!(
        code(&api.vamp_with(&["update", "breed", "other", "--stdin"], Some(changed), &[])),
        2
    );
}

#[test]
fn wait_reports_progress_until_the_services_run() {
    let api = TestApi::start_with(TestApiOptions {
        never_starts: true,
        deploy_timeout_s: Some(600),
        ..TestApiOptions::default()
    });
    ok(&api.vamp_with(&["create", "--stdin"], Some(SHOP), &[]));
    let url = api.url.clone();
    let cli = std::thread::spawn(move || {
        run_vamp(
            &["deploy", "shop", "--wait", "--timeout", "60s"],
            None,
            &[("VAMP_URL", url.as_str())],
        )
    });
    assert!(
        vamp_core::testkit::servers::wait_until(std::time::Duration::from_secs(30), || api.polls("shop")
            >= 2),
        "the CLI did not poll the deployment"
    );
    api.driver.start_all();
    let out = cli.join().unwrap();
    ok(&out);
    let progress = stderr(&out);
    let zero = progress
        .find("waiting for shop: 0/1 services deployed")
        .expect(&progress);
    let done = progress
        .find("deployment 'shop' is deployed (1/1 services)")
        .expect(&progress);
    assert!(zero < done, "{progress}");
}
