//! The Docker driver against Podman's Docker-compatible API (`podman system service`, started by the testkit,
//! shared by the tests of this binary): the driver conformance suite and the scenarios of [`docker_support`]
//! that Podman 4.3 supports. The health-check scenario is left out: Podman runs checks from systemd timers, and
//! without systemd (as here) they never run, so containers with a check stay `starting` (running, not healthy,
//! not deployed).

#[macro_use]
mod docker_support;

use docker_support::{fixture, Leased, Shared};
use vamp_core::testkit::servers::TestServer;

static PODMAN: Shared = Shared::new(TestServer::podman);

vamp_core::driver_conformance!(
    conformance,
    || async { Leased::new(&PODMAN) },
    skip = "podman",
    fixture = fixture()
);

docker_scenarios!(
    PODMAN,
    "podman",
    [
        every_instance_answers_http_on_its_published_loopback_port,
        a_fresh_driver_rebuilds_the_services_from_labels,
        the_docker_dialect_merges_into_the_container_and_vamp_fields_win,
        cpu_and_memory_limits_come_from_the_scale,
        scaling_keeps_containers_and_a_changed_spec_replaces_them,
        zero_instances_keep_the_service_listed_until_undeployed,
        undeploy_leaves_no_container_and_no_record,
        containers_without_the_vamp_labels_are_not_listed,
        a_missing_image_is_invalid_and_names_it,
    ]
);
