//! `vamp serve`'s configuration: defaults < file (YAML or JSON) < `VAMP_*` environment < flags, and errors that
//! name the setting and where its value came from (exit code 2 from the binary).

mod cli_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use cli_support::{code, run_vamp, stderr, TempDir};
use vamp_server::cli::exit::CliError;
use vamp_server::cli::serve_config;
use vamp_server::config::ServeConfig;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn load(args: &[&str], vars: &[(&str, &str)]) -> Result<ServeConfig, CliError> {
    serve_config(args, env(vars))
}

fn message(r: Result<ServeConfig, CliError>) -> String {
    match r {
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{e}");
            e.to_string()
        }
        Ok(c) => panic!("accepted: {c:?}"),
    }
}

const FILE: &str = r#"
listen: 127.0.0.1:9001
data-dir: /var/lib/vamp-file
namespace: file-ns
kv: memory://
gateways:
  bind: 0.0.0.0
  port-range: 41000-41999
agent:
  enabled: false
  haproxy: /opt/haproxy
synchronization:
  period-ms: 1000
ha:
  etcd: [file:2379]
api:
  tokens:
    admin: [file-token]
"#;

#[test]
fn no_configuration_is_the_embedded_default() {
    let c = load(&[], &[]).unwrap();
    assert_eq!(c, ServeConfig::default());
    assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(c.data_dir, PathBuf::from("./vamp-data"));
    assert_eq!(c.persistence_url(), "sqlite://./vamp-data/vamp.db");
    assert_eq!(c.kv, "memory://");
    assert_eq!(c.driver_url(), "process://./vamp-data/processes");
    assert_eq!(c.gateways.bind, "127.0.0.1");
    assert!(c.agent.enabled);
    assert!(!c.ha.enabled());
}

#[test]
fn file_then_env_then_flags_each_override_the_one_before() {
    let dir = TempDir::new("layers");
    let file = dir.join("vamp.yml");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();

    let from_file = load(&["--config", file], &[]).unwrap();
    assert_eq!(from_file.listen.port(), 9001);
    assert_eq!(from_file.namespace, "file-ns");
    assert_eq!(from_file.gateways.bind, "0.0.0.0");
    assert_eq!(from_file.gateways.port_range.to_string(), "41000-41999");
    assert!(!from_file.agent.enabled);
    assert_eq!(from_file.synchronization.period_ms, 1000);
    assert_eq!(from_file.ha.etcd, vec!["file:2379"]);
    assert_eq!(from_file.api.tokens.admin, vec!["file-token"]);
    assert_eq!(from_file.persistence_url(), "sqlite:///var/lib/vamp-file/vamp.db");

    let vars = [
        ("VAMP_CONFIG", file),
        ("VAMP_LISTEN", "127.0.0.1:9002"),
        ("VAMP_NAMESPACE", "env-ns"),
        ("VAMP_EMBEDDED_AGENT", "true"),
        ("VAMP_HA_ETCD", "env1:2379, env2:2379"),
        ("VAMP_DRIVER_URL", "memory://"),
    ];
    let from_env = load(&[], &vars).unwrap();
    assert_eq!(from_env.listen.port(), 9002);
    assert_eq!(from_env.namespace, "env-ns");
    assert!(from_env.agent.enabled);
    assert_eq!(from_env.ha.etcd, vec!["env1:2379", "env2:2379"]);
    assert_eq!(from_env.driver_url(), "memory://");
    assert_eq!(
        from_env.gateways.bind, "0.0.0.0",
        "keys the environment does not set keep the file's value"
    );
    assert_eq!(from_env.data_dir, PathBuf::from("/var/lib/vamp-file"));

    let from_flags = load(
        &[
            "--listen",
            "127.0.0.1:9003",
            "--ha-etcd",
            "flag:2379",
            "--gateway-bind",
            "127.0.0.2",
            "--data-dir",
            "/tmp/flag-dir",
        ],
        &vars,
    )
    .unwrap();
    assert_eq!(from_flags.listen.port(), 9003);
    assert_eq!(
        from_flags.ha.etcd,
        vec!["flag:2379"],
        "a list from flags replaces the environment's"
    );
    assert_eq!(from_flags.gateways.bind, "127.0.0.2");
    assert_eq!(from_flags.namespace, "env-ns");
    assert_eq!(from_flags.persistence_url(), "sqlite:///tmp/flag-dir/vamp.db");
    assert_eq!(from_flags.candidate(), "127.0.0.1:9003");
    assert_eq!(from_flags.election(), "env-ns");
}

#[test]
fn a_json_file_works_too() {
    let dir = TempDir::new("json");
    let file = dir.join("vamp.json");
    std::fs::write(
        &file,
        r#"{"listen": "0.0.0.0:7000", "api": {"cors": {"origins": ["https://ui.example"]}}}"#,
    )
    .unwrap();
    let c = load(&["--config", file.to_str().unwrap()], &[]).unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
    assert_eq!(c.api.cors.origins, vec!["https://ui.example"]);
}

#[test]
fn bad_values_name_the_setting_and_their_origin() {
    let dir = TempDir::new("bad");
    let file = dir.join("vamp.yml");
    std::fs::write(&file, "listen: nowhere\n").unwrap();
    let m = message(load(&["--config", file.to_str().unwrap()], &[]));
    assert!(m.contains("'listen'") && m.contains("vamp.yml"), "{m}");

    let m = message(load(&[], &[("VAMP_EMBEDDED_AGENT", "maybe")]));
    assert!(
        m.contains("agent.enabled") && m.contains("VAMP_EMBEDDED_AGENT"),
        "{m}"
    );

    let m = message(load(&["--listen", "localhost"], &[]));
    assert!(m.contains("'listen'") && m.contains("--listen"), "{m}");

    std::fs::write(&file, "gateways:\n  port-range: 5000-4000\n").unwrap();
    let m = message(load(&["--config", file.to_str().unwrap()], &[]));
    assert!(m.contains("gateways.port-range"), "{m}");

    std::fs::write(&file, "lisen: 127.0.0.1:1\n").unwrap();
    let m = message(load(&["--config", file.to_str().unwrap()], &[]));
    assert!(m.contains("lisen"), "{m}");

    let m = message(load(&["--driver", "ftp://x"], &[]));
    assert!(m.contains("'driver'") && m.contains("--driver"), "{m}");

    let m = message(load(&[], &[("VAMP_KV_URL", "etcd://")]));
    assert!(m.contains("'kv'") && m.contains("VAMP_KV_URL"), "{m}");

    let m = message(load(&["--ha-etcd", "e:2379", "--ha-lease-ttl", "1"], &[]));
    assert!(m.contains("ha.lease-ttl-s"), "{m}");

    let m = message(load(&["--tls-cert", "/c.pem"], &[]));
    assert!(m.contains("api.tls"), "{m}");

    let m = message(load(
        &["--config", dir.join("missing.yml").to_str().unwrap()],
        &[],
    ));
    assert!(m.contains("cannot be read"), "{m}");

    std::fs::write(&file, "listen: [unclosed\n").unwrap();
    let m = message(load(&["--config", file.to_str().unwrap()], &[]));
    assert!(m.contains("not valid YAML"), "{m}");
}

#[test]
fn the_binary_exits_2_on_bad_configuration() {
    let out = run_vamp(&["serve", "--listen", "nowhere"], None, &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("'listen'"), "{}", stderr(&out));
    let out = run_vamp(&["serve"], None, &[("VAMP_NAMESPACE", "no spaces please")]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("namespace"), "{}", stderr(&out));
}

#[test]
fn the_documented_settings_table_is_the_settings_list() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/server.md")).unwrap();
    let table = vamp_server::config::settings_table();
    assert!(
        doc.contains(&table),
        "docs/server.md must hold the settings table exactly as generated:\n{table}"
    );
}

#[test]
fn the_documented_example_configuration_is_accepted() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/server.md")).unwrap();
    let section = doc.find("### Configuration layers").unwrap();
    let start = section + doc[section..].find("```yaml\n").unwrap() + "```yaml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let dir = TempDir::new("doc-example");
    let file = dir.join("vamp.yml");
    std::fs::write(&file, example).unwrap();
    let c = load(&["--config", file.to_str().unwrap()], &[]).unwrap();
    assert_eq!(c.ha.etcd, vec!["etcd1:2379", "etcd2:2379"]);
    assert_eq!(c.api.tokens.read_only, vec!["r3ad"]);
    assert_eq!(c.api.tls.unwrap().key, PathBuf::from("/etc/vamp/key.pem"));
    assert_eq!(c.deployment.memory_mb, 1024.0);
    assert_eq!(c.agent.stats_bind, "127.0.0.1:1988");
}
