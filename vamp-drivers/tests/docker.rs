//! The Docker driver against a real dockerd (started by the testkit, shared by the tests of this binary and
//! stopped when the last one finishes): the driver conformance suite, the scenarios of [`docker_support`] (real
//! HTTP to every instance, labels rebuilding the state in a fresh driver, the docker dialect, limits, health
//! checks, rolling replacement and scaling), and a daemon that is down.

#[macro_use]
mod docker_support;

use docker_support::{fixture, spec, Leased, Shared};
use vamp_core::driver::{ContainerDriver, ServiceId};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::unique;
use vamp_drivers::docker::DockerDriver;

static DOCKERD: Shared = Shared::new(TestServer::dockerd);

vamp_core::driver_conformance!(
    conformance,
    || async { Leased::new(&DOCKERD) },
    skip = "docker",
    fixture = fixture()
);

docker_scenarios!(
    DOCKERD,
    "docker",
    [
        every_instance_answers_http_on_its_published_loopback_port,
        a_fresh_driver_rebuilds_the_services_from_labels,
        the_docker_dialect_merges_into_the_container_and_vamp_fields_win,
        an_unknown_dialect_key_is_invalid_before_anything_runs,
        cpu_and_memory_limits_come_from_the_scale,
        health_checks_run_inside_the_container,
        scaling_keeps_containers_and_a_changed_spec_replaces_them,
        zero_instances_keep_the_service_listed_until_undeployed,
        undeploy_leaves_no_container_and_no_record,
        containers_without_the_vamp_labels_are_not_listed,
        a_missing_image_is_invalid_and_names_it,
    ]
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_is_down_is_a_retryable_unavailable_naming_the_socket() {
    let dir = std::env::temp_dir().join(unique("vamp-docker-down"));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let absent = dir.join("absent.sock");
    let stale = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind a socket"));
    for socket in [absent, stale] {
        let driver =
            DockerDriver::connect(&format!("docker://{}", socket.display())).expect("connect does no I/O");
        let id = ServiceId::new("ns", "shop", "web", "sava");
        let errors = [
            driver.info().await.err(),
            driver.list("ns").await.err(),
            driver.deploy(&spec("ns", "sava", 1)).await.err(),
            driver.undeploy(&id).await.err(),
        ];
        for e in errors {
            let e = e.expect("a call to a daemon that is down must fail");
            assert!(e.is_retryable(), "not retryable: {e} ({:?})", e.kind());
            assert!(
                e.message().contains(&socket.display().to_string()),
                "the error does not name the socket: {e}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
