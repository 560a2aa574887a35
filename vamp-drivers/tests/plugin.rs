//! The plugin host against real plugin libraries: the example plugin (`examples/driver-plugin`) runs the driver
//! conformance suite through the C boundary and shows that panics and hangs become errors and timeouts; the rogue
//! plugin (`tests/plugin-rogue`) breaks the ABI in the ways the SDK never does; the loader refuses paths outside
//! its directories and libraries with a wrong table.
//!
//! The tests build the plugins themselves: [`plugin`] runs `cargo build -p <package>` with the cargo that runs
//! the tests (`$CARGO`), in this workspace and its target directory, reads the library's path from cargo's JSON
//! messages and copies the library into a directory of its own (a later build with other features must not
//! overwrite a library the test process has mapped). Cargo holds no lock on the target directory while tests
//! run, so the nested build does not wait on the outer one; a build that is up to date takes well under a second.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vamp_core::driver::{ContainerDriver, ServiceId, ServiceSpec};
use vamp_core::model::{Deployable, Scale};
use vamp_core::testkit::driver::DriverFixture;
use vamp_core::testkit::unique;
use vamp_core::ErrorKind;
use vamp_drivers::plugin::PluginDriver;

const EXAMPLE: &str = "vamp-example-driver-plugin";
const ROGUE: &str = "vamp-test-rogue-plugin";

/// The library of `package` built with `features`, copied into a directory holding nothing else; built once per
/// test process.
fn plugin(package: &str, features: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = format!("{package}+{features}");
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(&key) {
        return path.clone();
    }
    let artifact = cargo_build(package, features);
    let name = artifact.file_name().expect("the library has a file name");
    let variant = if features.is_empty() { "default" } else { features };
    let dir = artifact
        .parent()
        .expect("the library is in a directory")
        .join("plugin-tests")
        .join(format!("{package}-{variant}"));
    std::fs::create_dir_all(&dir).expect("the plugin test directory can be created");
    let partial = dir.join(format!("{}.partial", unique("copy")));
    std::fs::copy(&artifact, &partial).expect("the library can be copied");
    let path = dir.join(name);
    std::fs::rename(&partial, &path).expect("the copy can be renamed");
    built.get_or_insert_with(HashMap::new).insert(key, path.clone());
    path
}

/// Runs `cargo build -p package` in this workspace and returns the path of the dynamic library it produced.
fn cargo_build(package: &str, features: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("vamp-drivers sits in the workspace");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .stderr(Stdio::inherit());
    if !features.is_empty() {
        command.args(["--features", features]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().expect("cargo can be run");
    assert!(
        output.status.success(),
        "cargo build -p {package} --features '{features}' failed"
    );
    let target = package.replace('-', "_");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == target)
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .find(|file| file.to_string_lossy().ends_with(std::env::consts::DLL_SUFFIX))
        .unwrap_or_else(|| panic!("cargo build -p {package} reported no dynamic library"))
}

/// The directory a plugin library was copied into: the one directory it may be loaded from.
fn dir_of(library: &Path) -> Vec<PathBuf> {
    vec![library
        .parent()
        .expect("a library is in a directory")
        .to_path_buf()]
}

fn load(package: &str, timeout: Duration) -> PluginDriver {
    let library = plugin(package, "");
    match PluginDriver::load(&library, &dir_of(&library)) {
        Ok(driver) => driver.with_timeout(timeout),
        Err(e) => panic!("{} does not load: {e}", library.display()),
    }
}

fn example() -> PluginDriver {
    load(EXAMPLE, Duration::from_secs(10))
}

fn spec(kind: &str, definition: &str) -> ServiceSpec {
    ServiceSpec::new(
        ServiceId::new(unique("pt"), "shop", "web", "sava"),
        Deployable {
            kind: kind.to_string(),
            definition: definition.to_string(),
        },
        Scale::new(0.1, 64.0, 1),
    )
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("vamp-plugin-test"));
        std::fs::create_dir_all(&dir).expect("a scratch directory can be created");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

vamp_core::driver_conformance!(
    example_plugin_conformance,
    || async { Arc::new(example()) },
    skip = "plugin",
    fixture = DriverFixture {
        deployable: Deployable {
            kind: "echo".to_string(),
            definition: "hello".to_string(),
        },
        settle: Duration::from_secs(10),
        ..DriverFixture::default()
    }
);

#[tokio::test]
async fn the_example_plugin_names_itself_through_the_boundary() {
    let info = example().info().await.unwrap();
    assert_eq!(info.kind, "echo");
    assert_eq!(info.deployable_types, ["echo"]);
}

#[tokio::test]
async fn plugin_errors_keep_their_kind_and_message() {
    let e = example().deploy(&spec("echo", " ")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("empty definition"), "{e}");
}

#[tokio::test]
async fn a_panic_in_the_plugin_is_a_backend_error_and_the_plugin_keeps_serving() {
    let driver = example();
    let e = driver.deploy(&spec("echo", "panic")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.message().contains("panicked in 'deploy'"), "{e}");
    assert!(e.message().contains("asked to panic"), "{e}");
    let ok = spec("echo", "hello");
    driver.deploy(&ok).await.unwrap();
    assert_eq!(driver.list(&ok.id.namespace).await.unwrap().len(), 1);
    driver.undeploy(&ok.id).await.unwrap();
}

#[tokio::test]
async fn a_hanging_plugin_call_times_out_as_retryable_unavailable() {
    let timeout = Duration::from_millis(300);
    let driver = load(EXAMPLE, timeout);
    let started = Instant::now();
    let e = driver.deploy(&spec("echo", "hang")).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unavailable { retryable: true });
    assert!(e.message().contains("did not answer 'deploy'"), "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(driver.info().await.unwrap().kind, "echo");
}

#[tokio::test]
async fn an_answer_arriving_after_the_timeout_is_ignored() {
    let driver = load(EXAMPLE, Duration::from_millis(100));
    let late = spec("echo", "sleep:500");
    let e = driver.deploy(&late).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable { retryable: true });
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver.list(&late.id.namespace).await.unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the late deploy never completed in the plugin"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver.undeploy(&late.id).await.unwrap();
}

#[tokio::test]
async fn loading_the_same_plugin_twice_shares_one_driver() {
    let (first, second) = (example(), example());
    let shared = spec("echo", "hello");
    first.deploy(&shared).await.unwrap();
    assert_eq!(second.list(&shared.id.namespace).await.unwrap().len(), 1);
    second.undeploy(&shared.id).await.unwrap();
}

/// Deploys `definition` to the rogue plugin, expecting an error of `kind` whose message mentions `mentioning`,
/// and then a working `info`: the host survives and keeps serving.
async fn rogue_deploy_fails(definition: &str, kind: ErrorKind, mentioning: &str) {
    let driver = load(ROGUE, Duration::from_millis(500));
    let e = driver.deploy(&spec("rogue", definition)).await.unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    assert!(e.message().contains(mentioning), "{e}");
    assert_eq!(
        driver.info().await.unwrap().kind,
        "rogue",
        "the host stopped serving after '{definition}'"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_backend_error() {
    rogue_deploy_fails("garbage", ErrorKind::Backend, "answered 'deploy' with garbage").await;
}

#[tokio::test]
async fn an_error_that_is_not_json_is_a_backend_error() {
    rogue_deploy_fails("error-garbage", ErrorKind::Backend, "not a valid message").await;
}

#[tokio::test]
async fn a_payload_length_at_a_null_pointer_is_a_backend_error() {
    rogue_deploy_fails("null-payload", ErrorKind::Backend, "null pointer").await;
}

#[tokio::test]
async fn an_unknown_status_is_a_backend_error() {
    rogue_deploy_fails("unknown-status", ErrorKind::Backend, "unknown status 77").await;
}

#[tokio::test]
async fn a_message_of_a_later_wire_version_is_a_backend_error() {
    rogue_deploy_fails("future-message", ErrorKind::Backend, "version 2").await;
}

const TIMED_OUT: ErrorKind = ErrorKind::Unavailable { retryable: true };

#[tokio::test]
async fn a_call_that_never_completes_times_out() {
    rogue_deploy_fails("hang", TIMED_OUT, "did not answer 'deploy'").await;
}

#[tokio::test]
async fn a_call_that_never_returns_times_out_without_blocking_the_caller() {
    rogue_deploy_fails("block", TIMED_OUT, "did not answer 'deploy'").await;
}

#[tokio::test]
async fn a_second_completion_of_one_call_is_ignored() {
    let driver = load(ROGUE, Duration::from_secs(5));
    driver.deploy(&spec("rogue", "twice")).await.unwrap();
    driver.deploy(&spec("rogue", "fine")).await.unwrap();
}

fn refusal(library: &Path, allowed: &[PathBuf]) -> vamp_core::Error {
    match PluginDriver::load(library, allowed) {
        Ok(_) => panic!("{} was loaded, but must be refused", library.display()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
            e
        }
    }
}

#[test]
fn a_table_of_another_abi_version_is_refused_before_use() {
    let library = plugin(ROGUE, "wrong-abi-version");
    let e = refusal(&library, &dir_of(&library));
    assert!(e.message().contains("ABI version 99"), "{e}");
}

#[test]
fn a_table_smaller_than_version_one_is_refused_before_use() {
    let library = plugin(ROGUE, "short-table");
    let e = refusal(&library, &dir_of(&library));
    assert!(e.message().contains("smaller than"), "{e}");
}

#[test]
fn a_library_without_the_entry_symbol_is_refused() {
    let library = plugin(ROGUE, "missing-entry");
    let e = refusal(&library, &dir_of(&library));
    assert!(e.message().contains("vamp_driver_plugin_v1"), "{e}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let scratch = Scratch::new();
    let fake = scratch.0.join("libfake.so");
    std::fs::write(&fake, "not a library").unwrap();
    let e = refusal(&fake, std::slice::from_ref(&scratch.0));
    assert!(e.message().contains("could not be loaded"), "{e}");
}

#[test]
fn a_plugin_outside_the_allowed_directories_is_refused() {
    let library = plugin(EXAMPLE, "");
    let elsewhere = Scratch::new();
    let e = refusal(&library, std::slice::from_ref(&elsewhere.0));
    assert!(
        e.message().contains("outside the configured plugin directories"),
        "{e}"
    );
}

#[test]
fn a_plugin_is_refused_when_no_directory_is_configured() {
    let e = refusal(&plugin(EXAMPLE, ""), &[]);
    assert!(e.message().contains("no plugin directory"), "{e}");
}

#[test]
fn a_path_climbing_out_of_an_allowed_directory_is_refused() {
    let library = plugin(EXAMPLE, "");
    let allowed = Scratch::new();
    let depth = allowed.0.components().count();
    let climbing = (0..depth)
        .fold(allowed.0.clone(), |p, _| p.join(".."))
        .join(library.strip_prefix("/").unwrap_or(&library));
    assert!(climbing.exists(), "{}", climbing.display());
    let e = refusal(&climbing, std::slice::from_ref(&allowed.0));
    assert!(e.message().contains("outside"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_an_allowed_directory_is_refused() {
    let library = plugin(EXAMPLE, "");
    let allowed = Scratch::new();
    let link = allowed.0.join("libsneaky.so");
    std::os::unix::fs::symlink(&library, &link).unwrap();
    let e = refusal(&link, std::slice::from_ref(&allowed.0));
    assert!(e.message().contains("resolved to"), "{e}");
}

#[test]
fn a_missing_plugin_file_is_refused() {
    let allowed = Scratch::new();
    let e = refusal(&allowed.0.join("libabsent.so"), std::slice::from_ref(&allowed.0));
    assert!(e.message().contains("cannot be found"), "{e}");
}
