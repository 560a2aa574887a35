//! Event queries as SQL: an [`EventQuery`] becomes one `FROM … WHERE …` clause over the tag index, and the page,
//! count and aggregate statements are built around it, with their parameters numbered as they are added.
//!
//! With tags, the query is driven by one tag (the most specific one: most `:`-segments, then longest) through
//! the `(tag, at, seq)` key of `vamp_event_tags`, which yields that tag's events in a time range already in
//! newest-first order; each further tag is one key lookup `(tag, at, seq)`. The type is stored on the tag rows
//! too, so counting and paging never touch the events table; only the rows of the page (or the values an
//! aggregate reads) are fetched from it. Without tags, the `(at, seq)` index of `vamp_events` drives.

use chrono::{DateTime, Utc};
use vamp_core::model::{AggregatorKind, Event, EventQuery, TimeBound};
use vamp_core::store::Page;
use vamp_core::{Error, Result};

use super::Dialect;

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// A statement under construction with its parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

impl Statement {
    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }
}

/// Binds every parameter of a [`Statement`] to a sqlx query, in order.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::sql::query::Param::Int(v) => query.bind(*v),
                $crate::sql::query::Param::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// The inclusive range of stored timestamps (Unix nanoseconds) a query's time range covers at `now`.
fn nanos_range(query: &EventQuery, now: DateTime<Utc>) -> (i64, i64) {
    let nanos = |b: TimeBound| {
        let t = b.resolve(now);
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    };
    let clamp = |n: i128| i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX });
    let low = query.time.from.map_or(i64::MIN, |(b, inclusive)| {
        clamp(nanos(b) + i128::from(!inclusive))
    });
    let high = query.time.to.map_or(i64::MAX, |(b, inclusive)| {
        clamp(nanos(b) - i128::from(!inclusive))
    });
    (low, high)
}

/// Checks what a store can be asked: a valid type, tags without NUL. Fails with `Invalid` saying what to fix.
pub(crate) fn check(query: &EventQuery) -> Result<()> {
    if let Some(kind) = query.kind.as_deref() {
        if !Event::valid_type(kind) {
            return Err(Error::invalid(format!(
                "The event query asks for the type '{kind}', which no event can have; types are letters, \
                 digits, '-' and '_'."
            )));
        }
    }
    if let Some(tag) = query.tags.iter().find(|t| t.contains('\0')) {
        return Err(Error::invalid(format!(
            "The event query tag {tag:?} contains a NUL character; remove it."
        )));
    }
    Ok(())
}

/// The keys of a dotted aggregation field; none for the value itself. Fails with `Invalid` for an empty segment
/// or a key with `"`, `\` or a control character, which cannot be written as a JSON path key.
pub(crate) fn field_keys(field: Option<&str>) -> Result<Vec<&str>> {
    let Some(field) = field.filter(|f| !f.is_empty()) else {
        return Ok(Vec::new());
    };
    let keys: Vec<&str> = field.split('.').collect();
    if keys
        .iter()
        .any(|k| k.is_empty() || k.chars().any(|c| c == '"' || c == '\\' || c.is_control()))
    {
        return Err(Error::invalid(format!(
            "The aggregation field '{field}' is not a dotted path of keys; write it like 'response.ms', \
             without empty parts, quotes or backslashes."
        )));
    }
    Ok(keys)
}

/// The tag that drives a query: the most specific one.
fn driving_tag(query: &EventQuery) -> Option<&String> {
    query
        .tags
        .iter()
        .max_by_key(|t| (t.matches(':').count(), t.len()))
}

/// `FROM … WHERE …` selecting the matching events as `d` (with columns `at`, `seq`, `kind`), joined to
/// `vamp_events e` when `values` is set.
fn matching(statement: &mut Statement, query: &EventQuery, now: DateTime<Utc>, values: bool) {
    let (low, high) = nanos_range(query, now);
    let driver = driving_tag(query);
    let mut sql = match driver {
        Some(_) => String::from(" FROM vamp_event_tags d"),
        None => String::from(" FROM vamp_events d"),
    };
    if values {
        sql.push_str(" JOIN vamp_events e ON e.seq = d.seq");
    }
    sql.push_str(" WHERE ");
    if let Some(tag) = driver {
        let p = statement.bind(Param::Text(tag.clone()));
        sql.push_str(&format!("d.tag = {p} AND "));
    }
    let (lo, hi) = (statement.bind(Param::Int(low)), statement.bind(Param::Int(high)));
    sql.push_str(&format!("d.at >= {lo} AND d.at <= {hi}"));
    if let Some(kind) = &query.kind {
        let p = statement.bind(Param::Text(kind.clone()));
        sql.push_str(&format!(" AND d.kind = {p}"));
    }
    for tag in query.tags.iter().filter(|t| Some(*t) != driver) {
        let p = statement.bind(Param::Text(tag.clone()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM vamp_event_tags t WHERE t.tag = {p} AND t.at = d.at AND t.seq = d.seq)"
        ));
    }
    statement.sql.push_str(&sql);
}

/// The page of matching events, newest first, as rows `(seq, kind, at, tags, value)`.
pub(crate) fn page(query: &EventQuery, page: Page, now: DateTime<Utc>) -> Statement {
    let mut s = Statement::default();
    s.sql
        .push_str("SELECT e.seq, e.kind, e.at, e.tags, e.value FROM (SELECT d.seq, d.at");
    matching(&mut s, query, now, false);
    let limit = s.bind(Param::Int(i64::from(page.per_page())));
    let offset = s.bind(Param::Int(i64::try_from(page.offset()).unwrap_or(i64::MAX)));
    s.sql.push_str(&format!(
        " ORDER BY d.at DESC, d.seq DESC LIMIT {limit} OFFSET {offset}) p \
         JOIN vamp_events e ON e.seq = p.seq ORDER BY p.at DESC, p.seq DESC"
    ));
    s
}

/// The number of matching events, as one row `(count)`.
pub(crate) fn count(query: &EventQuery, now: DateTime<Utc>) -> Statement {
    let mut s = Statement::default();
    s.sql.push_str("SELECT COUNT(*)");
    matching(&mut s, query, now, false);
    s
}

/// An aggregate other than count over the number at `keys` in the matching values, as one row
/// `(aggregate, how many numbers)`.
pub(crate) fn aggregate(
    dialect: Dialect,
    query: &EventQuery,
    kind: AggregatorKind,
    keys: &[&str],
    now: DateTime<Utc>,
) -> Statement {
    let function = match kind {
        AggregatorKind::Min => "MIN",
        AggregatorKind::Max => "MAX",
        AggregatorKind::Average => "AVG",
        AggregatorKind::Sum | AggregatorKind::Count => "SUM",
    };
    let mut s = Statement::default();
    let path = s.bind(Param::Text(dialect.json_path(keys)));
    s.sql.push_str(&format!(
        "SELECT {function}(x), COUNT(x) FROM (SELECT {} AS x",
        dialect.json_number("e.value", &path)
    ));
    matching(&mut s, query, now, true);
    s.sql.push_str(") n");
    s
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vamp_core::model::TimeRange;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    #[test]
    fn exclusive_bounds_move_by_one_nanosecond() {
        let query = EventQuery {
            time: TimeRange {
                from: Some((TimeBound::At(at(10)), false)),
                to: Some((TimeBound::At(at(20)), true)),
            },
            ..EventQuery::default()
        };
        assert_eq!(nanos_range(&query, at(0)), (10_000_000_001, 20_000_000_000));
    }

    #[test]
    fn relative_bounds_resolve_against_now_and_open_ones_are_unbounded() {
        let query = EventQuery {
            time: TimeRange {
                from: Some((TimeBound::Now(-60), true)),
                to: None,
            },
            ..EventQuery::default()
        };
        assert_eq!(nanos_range(&query, at(100)), (40_000_000_000, i64::MAX));
    }

    #[test]
    fn the_most_specific_tag_drives_and_the_others_are_lookups() {
        let query = EventQuery::tags(["deployments", "deployments:shop", "cluster"]);
        let s = count(&query, at(0));
        assert_eq!(s.params[0], Param::Text("deployments:shop".to_string()));
        assert_eq!(s.sql.matches("EXISTS").count(), 2, "{}", s.sql);
        assert!(s.sql.contains("FROM vamp_event_tags d"), "{}", s.sql);
    }

    #[test]
    fn a_query_without_tags_scans_events_by_time() {
        let s = count(&EventQuery::default(), at(0));
        assert!(s.sql.contains("FROM vamp_events d"), "{}", s.sql);
        assert_eq!(s.params, [Param::Int(i64::MIN), Param::Int(i64::MAX)]);
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let query = EventQuery {
            kind: Some("deploy".into()),
            ..EventQuery::tags(["a", "b"])
        };
        let s = page(&query, Page::new(2, 10).unwrap(), at(0));
        for n in 1..=s.params.len() {
            assert!(s.sql.contains(&format!("${n}")), "${n} missing: {}", s.sql);
        }
        assert_eq!(s.params.last(), Some(&Param::Int(10)), "the offset of page 2");
    }

    #[test]
    fn malformed_fields_and_types_are_invalid() {
        assert_eq!(field_keys(Some("r.ms")).unwrap(), ["r", "ms"]);
        assert!(field_keys(Some("")).unwrap().is_empty());
        for field in ["a..b", ".a", "a\"b", "a\\b"] {
            assert!(field_keys(Some(field)).is_err(), "{field}");
        }
        let query = EventQuery {
            kind: Some("no spaces".into()),
            ..EventQuery::tags(["a"])
        };
        assert!(check(&query).is_err());
        assert!(check(&EventQuery::tags(["a\0b"])).is_err());
    }
}
