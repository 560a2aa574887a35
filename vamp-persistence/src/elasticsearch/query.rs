//! An [`EventQuery`] as Elasticsearch query DSL: a `bool` filter of `term` clauses on `tags` (one per tag, so
//! all must match) and `type`, a `range` on `timestamp`, and the namespace; sorted newest first.
//!
//! Relative bounds (`now-1h`) are resolved here, when the query runs, into instants. Queries that cannot mean
//! anything are refused with `Invalid` before anything is sent: an empty tag, a tag longer than a Lucene term,
//! a type that no event can have, a relative bound outside the calendar.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery, TimeBound};
use vamp_core::{Error, Result};

use super::document::{earliest, latest, number_field, timestamp_text};

/// The longest term Lucene indexes, in bytes; a longer tag can never have been stored.
pub const MAX_TAG_BYTES: usize = 32_766;

/// The sort of every listing: newest first, later published first among equal timestamps, then by id so that
/// the order is total (what `search_after` needs).
pub(crate) fn sort() -> Value {
    json!([
        {"timestamp": {"order": "desc"}},
        {"sequence": {"order": "desc"}},
        {"id": {"order": "desc"}}
    ])
}

/// Refuses queries that cannot mean anything (see the module documentation).
pub(crate) fn validate(query: &EventQuery) -> Result<()> {
    for tag in &query.tags {
        if tag.is_empty() {
            return Err(Error::invalid(
                "The event query has an empty tag; leave it out or name a tag such as 'deployments:shop'.",
            ));
        }
        if tag.len() > MAX_TAG_BYTES {
            return Err(Error::invalid(format!(
                "The event query has a tag of {} bytes; tags longer than {MAX_TAG_BYTES} bytes cannot be stored, \
                 so none can match.",
                tag.len()
            )));
        }
    }
    if let Some(kind) = query.kind.as_deref().filter(|k| !Event::valid_type(k)) {
        return Err(Error::invalid(format!(
            "The event query asks for the type '{kind}', which no event can have; types are letters, digits, \
             '-' and '_'."
        )));
    }
    let now = Utc::now();
    for (bound, _) in query.time.from.iter().chain(query.time.to.iter()) {
        resolve(*bound, now)?;
    }
    Ok(())
}

/// The instant of a bound, without the panic of adding an out-of-range offset to now.
fn resolve(bound: TimeBound, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    match bound {
        TimeBound::At(t) => Ok(t),
        TimeBound::Now(offset) => TimeDelta::try_seconds(offset)
            .and_then(|delta| now.checked_add_signed(delta))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "The event query's time bound 'now{offset:+}s' lies outside the calendar; use a smaller offset."
                ))
            }),
    }
}

/// The `bool` filter selecting the query's events of `namespace`, with relative bounds resolved against `now`.
pub(crate) fn filter(query: &EventQuery, namespace: &str, now: DateTime<Utc>) -> Result<Value> {
    validate(query)?;
    let mut clauses = vec![json!({"term": {"namespace": namespace}})];
    clauses.extend(query.tags.iter().map(|t| json!({"term": {"tags": t}})));
    if let Some(kind) = &query.kind {
        clauses.push(json!({"term": {"type": kind}}));
    }
    let mut range = serde_json::Map::new();
    if let Some((bound, inclusive)) = query.time.from {
        let (at, inclusive) = clamp_lower(resolve(bound, now)?, inclusive);
        range.insert(
            if inclusive { "gte" } else { "gt" }.to_string(),
            json!(timestamp_text(at)),
        );
    }
    if let Some((bound, inclusive)) = query.time.to {
        let (at, inclusive) = clamp_upper(resolve(bound, now)?, inclusive);
        range.insert(
            if inclusive { "lte" } else { "lt" }.to_string(),
            json!(timestamp_text(at)),
        );
    }
    if !range.is_empty() {
        clauses.push(json!({"range": {"timestamp": range}}));
    }
    Ok(json!({"bool": {"filter": clauses}}))
}

/// A lower bound moved into the range `date_nanos` holds, selecting the same events.
fn clamp_lower(at: DateTime<Utc>, inclusive: bool) -> (DateTime<Utc>, bool) {
    if at < earliest() {
        (earliest(), true)
    } else if at > latest() {
        (latest(), false)
    } else {
        (at, inclusive)
    }
}

/// An upper bound moved into the range `date_nanos` holds, selecting the same events.
fn clamp_upper(at: DateTime<Utc>, inclusive: bool) -> (DateTime<Utc>, bool) {
    if at > latest() {
        (latest(), true)
    } else if at < earliest() {
        (earliest(), false)
    } else {
        (at, inclusive)
    }
}

/// The aggregation request for `min`, `max`, `average` or `sum` (`count` goes to `_count`): the metric and a
/// `value_count` of the same field, because Elasticsearch answers `sum` of nothing with 0 where the contract
/// wants `None`.
pub(crate) fn aggregations(aggregator: &Aggregator) -> Value {
    let field = number_field(aggregator.field.as_deref());
    let metric = match aggregator.kind {
        AggregatorKind::Min => "min",
        AggregatorKind::Max => "max",
        AggregatorKind::Sum => "sum",
        AggregatorKind::Average | AggregatorKind::Count => "avg",
    };
    json!({
        "metric": {metric: {"field": field}},
        "numbers": {"value_count": {"field": field}}
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vamp_core::model::TimeRange;
    use vamp_core::ErrorKind;

    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2017, 6, 28, h, 0, 0).unwrap()
    }

    #[test]
    fn every_tag_is_a_term_filter_and_bounds_become_a_range() {
        let query = EventQuery {
            kind: Some("health".to_string()),
            time: TimeRange {
                from: Some((TimeBound::At(at(10)), true)),
                to: Some((TimeBound::Now(-3600), false)),
            },
            ..EventQuery::tags(["a", "b:c"])
        };
        let f = filter(&query, "default", at(12)).unwrap();
        assert_eq!(
            f,
            json!({"bool": {"filter": [
                {"term": {"namespace": "default"}},
                {"term": {"tags": "a"}},
                {"term": {"tags": "b:c"}},
                {"term": {"type": "health"}},
                {"range": {"timestamp": {"gte": "2017-06-28T10:00:00Z", "lt": "2017-06-28T11:00:00Z"}}}
            ]}})
        );
    }

    #[test]
    fn bounds_outside_the_stored_range_are_clamped_to_the_same_selection() {
        let old = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
        let query = EventQuery {
            time: TimeRange {
                from: Some((TimeBound::At(old), false)),
                to: Some((TimeBound::At(old), true)),
            },
            ..EventQuery::default()
        };
        let f = filter(&query, "default", at(12)).unwrap();
        assert_eq!(
            f["bool"]["filter"][1],
            json!({"range": {"timestamp": {"gte": "1970-01-01T00:00:00Z", "lt": "1970-01-01T00:00:00Z"}}})
        );
    }

    #[test]
    fn malformed_queries_are_invalid_with_a_reason() {
        let cases = [
            (EventQuery::tags([""]), "empty tag"),
            (EventQuery::tags(["x".repeat(MAX_TAG_BYTES + 1)]), "bytes"),
            (
                EventQuery {
                    kind: Some("a b".to_string()),
                    ..EventQuery::default()
                },
                "type 'a b'",
            ),
            (
                EventQuery {
                    time: TimeRange {
                        from: Some((TimeBound::Now(-i64::MAX / 2), true)),
                        to: None,
                    },
                    ..EventQuery::default()
                },
                "outside the calendar",
            ),
        ];
        for (query, says) in cases {
            let e = validate(&query).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    #[test]
    fn aggregations_ask_for_the_metric_and_how_many_numbers_there_are() {
        let a = aggregations(&Aggregator {
            kind: AggregatorKind::Average,
            field: Some("r.ms".to_string()),
        });
        assert_eq!(
            a,
            json!({"metric": {"avg": {"field": "numbers.v/r/ms"}}, "numbers": {"value_count": {"field": "numbers.v/r/ms"}}})
        );
    }
}
