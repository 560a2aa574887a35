//! The suite macros: each expands into a module of one `#[test]` per conformance case of its trait, for a
//! backend made by a given constructor.
//!
//! Every macro takes the module name, then the constructor (a closure returning a future of an `Arc` of the
//! backend; it is called once per case), then optionally `skip = "<backend>"` (the name `VAMP_TEST_SKIP` must
//! hold to skip the suite). The driver macro also takes an optional `fixture = <DriverFixture>`.
//! The generated module imports its parent's names (`use super::*`), so the constructor may use them.

/// Expands into a module `$name` with one test per case. The entry point of every suite macro.
#[doc(hidden)]
#[macro_export]
macro_rules! __vamp_conformance_tests {
    ($suite:ident, $name:ident, $skip:tt, $subject:ident = $make:expr => $args:tt, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::testkit::run_case(
                        &$skip,
                        concat!(stringify!($suite), "::", stringify!($case)),
                        async {
                            let $subject = ($make)().await;
                            $crate::testkit::$suite::$case $args.await;
                        },
                    );
                }
            )*
        }
    };
}

/// Runs the [`KeyValueStore`](crate::kv::KeyValueStore) suite ([`crate::testkit::kv`]):
/// `kv_conformance!(etcd, || async { Arc::new(connect().await) }, skip = "etcd");`
#[macro_export]
macro_rules! kv_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(,)?) => {
        $crate::__vamp_conformance_tests!(kv, $name, [$($skip)?], subject = $make => (&*subject), [
            get_of_an_absent_key_is_none,
            set_then_get_returns_the_value_and_version,
            versions_increase_with_every_set,
            versions_increase_across_delete_and_set,
            delete_says_whether_the_key_existed,
            delete_of_a_never_set_key_is_false,
            delete_leaves_children_in_place,
            children_are_the_sorted_direct_names,
            children_of_a_leaf_are_empty,
            children_forget_a_subtree_without_values,
            children_match_whole_segments,
            values_are_bytes,
            a_large_value_round_trips,
            watch_starts_with_the_current_value,
            watch_of_an_absent_key_starts_without_value,
            watch_sees_a_later_set,
            watch_sees_a_delete,
            watch_delivers_the_final_value_of_a_burst,
            watch_ignores_other_keys,
            every_watcher_sees_the_change,
            keys_are_validated,
        ]);
    };
}

/// Runs the [`ArtifactStore`](crate::store::ArtifactStore) suite ([`crate::testkit::artifacts`]). The
/// constructor must return a fresh, empty store on every call (the listing cases count what is stored).
#[macro_export]
macro_rules! artifact_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(,)?) => {
        $crate::__vamp_conformance_tests!(artifacts, $name, [$($skip)?], subject = $make => (&*subject), [
            get_of_an_absent_artifact_is_none,
            put_then_get_returns_the_document,
            revisions_increase_by_one_per_put,
            a_stale_expected_revision_is_a_conflict,
            the_current_expected_revision_writes,
            expected_revision_zero_only_creates,
            kinds_do_not_share_names,
            delete_says_whether_the_artifact_existed,
            list_is_sorted_by_name_with_the_total,
            list_pages_cover_every_artifact_once,
            list_leaves_out_deleted_artifacts,
            history_lists_every_revision_oldest_first,
            history_survives_delete_and_revisions_continue,
            documents_round_trip_unchanged,
            an_empty_name_is_invalid,
            concurrent_conditional_puts_have_one_winner,
        ]);
    };
}

/// Runs the [`EventStore`](crate::store::EventStore) suite ([`crate::testkit::events`]). The constructor must
/// return a fresh, empty store on every call (the prune cases delete and count every old event in the store).
#[macro_export]
macro_rules! event_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(,)?) => {
        $crate::__vamp_conformance_tests!(events, $name, [$($skip)?], subject = $make => (&*subject), [
            publish_assigns_distinct_ids,
            publish_expands_tags,
            publish_keeps_value_and_timestamp,
            publish_refuses_an_invalid_type,
            publish_refuses_an_event_without_tags,
            query_requires_every_tag,
            query_filters_by_type,
            query_filters_by_time_range,
            query_resolves_relative_time_bounds,
            query_pages_newest_first,
            query_breaks_timestamp_ties_by_publication,
            aggregates_over_the_value,
            aggregates_over_a_dotted_field,
            aggregates_of_nothing,
            subscribe_delivers_matching_events_published_after,
            subscribe_keeps_publication_order,
            prune_deletes_exactly_the_events_before_the_bound,
            prune_is_idempotent,
            prune_of_an_empty_store_is_zero,
            prune_does_not_hand_out_ids_again,
            prune_leaves_subscriptions_working,
        ]);
    };
}

/// Runs the [`ContainerDriver`](crate::driver::ContainerDriver) suite ([`crate::testkit::driver`]), with
/// [`DriverFixture::default`](crate::testkit::driver::DriverFixture) unless `fixture = ...` is given.
#[macro_export]
macro_rules! driver_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(, fixture = $fixture:expr)? $(,)?) => {
        $crate::__vamp_conformance_tests!(driver, $name, [$($skip)?], subject = $make =>
            (&*subject, &$crate::testkit::driver::fixture_or_default([$($fixture)?])), [
            info_names_the_driver,
            list_of_an_unused_namespace_is_empty,
            deploy_then_list_reports_the_service,
            deploy_then_list_reports_the_health_checks_or_none,
            deploy_is_idempotent,
            deploy_updates_environment_and_scale,
            instances_reach_the_requested_scale,
            undeploy_removes_the_service,
            undeploy_of_an_absent_service_is_ok,
            list_is_scoped_to_its_namespace,
            services_are_told_apart_by_cluster_and_service,
            list_is_sorted_by_service_id,
            an_unknown_deployable_type_is_unsupported,
        ]);
    };
}

/// Runs the [`MetricsSource`](crate::metrics::MetricsSource) suite ([`crate::testkit::metrics`]); the
/// constructor returns something that is both a source and a [`MetricsRecorder`](crate::metrics::MetricsRecorder).
#[macro_export]
macro_rules! metrics_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(,)?) => {
        $crate::__vamp_conformance_tests!(metrics, $name, [$($skip)?], subject = $make => (&*subject, &*subject), [
            an_unknown_gateway_has_an_empty_window,
            a_zero_window_is_invalid,
            requests_are_counted_by_status_class,
            a_route_window_counts_only_that_route,
            requests_before_the_window_are_left_out,
            latencies_are_kept_in_the_histogram,
        ]);
    };
}

/// Runs the [`GatewayMarshaller`](crate::gateway::GatewayMarshaller) suite ([`crate::testkit::marshaller`]).
#[macro_export]
macro_rules! marshaller_conformance {
    ($name:ident, $make:expr $(, skip = $skip:literal)? $(,)?) => {
        $crate::__vamp_conformance_tests!(marshaller, $name, [$($skip)?], subject = $make => (&*subject), [
            render_is_deterministic,
            render_ignores_the_input_order,
            render_of_no_gateway_succeeds,
            a_duplicate_gateway_is_invalid,
            the_key_follows_kind_and_version,
            an_invalid_namespace_is_invalid,
        ]);
    };
}

#[cfg(test)]
mod tests {
    /// The case names one suite macro lists, in order.
    fn listed(suite: &str) -> Vec<String> {
        let source = include_str!("suites.rs");
        let start = format!("__vamp_conformance_tests!({suite},");
        let Some(at) = source.find(&start) else {
            panic!("no macro for {suite}")
        };
        let rest = &source[at..];
        let list = &rest[rest.find("), [").unwrap() + 4..rest.find("]);").unwrap()];
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The `pub async fn` names of one suite file, in order.
    fn defined(source: &str) -> Vec<String> {
        source
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .map(|l| l.split('(').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_case_of_every_suite_has_a_test() {
        for (suite, source) in [
            ("kv", include_str!("kv.rs")),
            ("artifacts", include_str!("artifacts.rs")),
            ("events", include_str!("events.rs")),
            ("driver", include_str!("driver.rs")),
            ("metrics", include_str!("metrics.rs")),
            ("marshaller", include_str!("marshaller.rs")),
        ] {
            assert_eq!(
                listed(suite),
                defined(source),
                "the {suite} macro and the {suite} cases differ"
            );
        }
    }
}
