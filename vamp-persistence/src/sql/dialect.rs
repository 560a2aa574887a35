//! What differs between SQLite and PostgreSQL: the few SQL fragments the shared statements splice in, the
//! transaction openers, the id reservation for events and the JSON functions aggregations use.
//!
//! Statements use `$N` placeholders, which both drivers bind by number, so the statements themselves are
//! shared; only what is here is written twice. The bulk inserts of events use [`Dialect::placeholder`] instead.

use std::fmt;

/// The SQL database behind a [`super::SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        })
    }
}

impl Dialect {
    /// Opens a transaction that writes. SQLite takes the database's write lock at once (`IMMEDIATE`), so the
    /// reads that decide a write see the state the write lands on and no upgrade can fail half-way; PostgreSQL
    /// runs at read committed and relies on unique keys and row locks to settle races.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Opens a transaction that only reads, seeing one snapshot for all its statements (a page and its total).
    pub(crate) fn begin_read(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// A statement, run first inside the migration transaction, that keeps concurrent migrators apart. SQLite
    /// needs none: [`Dialect::begin_write`] already holds the write lock.
    pub(crate) fn migration_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(7365726971)"),
        }
    }

    /// A statement returning `$1` fresh event ids, one per row, inside a write transaction. SQLite counts on from
    /// the largest id stored or recorded by a prune (`vamp_event_ids`) under its write lock; PostgreSQL draws them
    /// from the id sequence, so concurrent publishers get disjoint ids.
    pub(crate) fn reserve_event_ids(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "WITH RECURSIVE ids(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM ids WHERE i < $1) \
                 SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM vamp_events), \
                 (SELECT COALESCE(MAX(last), 0) FROM vamp_event_ids)) + i FROM ids"
            }
            Dialect::Postgres => {
                "SELECT nextval(pg_get_serial_sequence('vamp_events', 'seq')) FROM generate_series(1, $1)"
            }
        }
    }

    /// A statement that records the largest event id before a prune deletes events, so it is never handed out
    /// again ([`Dialect::reserve_event_ids`]); PostgreSQL's sequence needs none.
    pub(crate) fn keep_event_ids(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some(
                "UPDATE vamp_event_ids SET last = MAX(last, (SELECT COALESCE(MAX(seq), 0) FROM vamp_events))",
            ),
            Dialect::Postgres => None,
        }
    }

    /// A statement deleting the tag rows of the events stamped at or before `$1`, each by its key
    /// `(tag, at, seq)` with the tags read from the event's stored tag list, so the `(tag, at, seq)` index finds
    /// every row without scanning the table. SQLite probes the key for each row of the `IN` list. PostgreSQL
    /// plans by estimates: `jsonb_array_elements_text` is estimated at 100 rows per event, which made it scan
    /// and hash the whole tag table even for a handful of events (`EXPLAIN ANALYZE`, 139 events over 500,000
    /// tag rows: about 90 ms); `unnest` of an array is estimated at 10 rows, close to the real number, and gets
    /// the key lookups (6 ms).
    pub(crate) fn prune_event_tags(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "DELETE FROM vamp_event_tags WHERE (tag, at, seq) IN \
                 (SELECT j.value, e.at, e.seq FROM vamp_events AS e, json_each(e.tags) AS j WHERE e.at <= $1)"
            }
            Dialect::Postgres => {
                "DELETE FROM vamp_event_tags AS t \
                 USING vamp_events AS e, \
                 unnest(ARRAY(SELECT jsonb_array_elements_text(CAST(e.tags AS jsonb)))) AS j(tag) \
                 WHERE e.at <= $1 AND t.tag = j.tag COLLATE \"C\" AND t.at = e.at AND t.seq = e.seq"
            }
        }
    }

    /// The `n`th (from 1) placeholder of a statement whose placeholders appear in order, for statements with
    /// thousands of them: SQLite's anonymous `?`, because SQLite keeps numbered parameters (`$N`, `?N`) in a list
    /// it searches linearly, which makes binding thousands of them quadratic; PostgreSQL's `$N`.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// An SQL expression for the number at the JSON path bound as `path_param` inside the JSON text `column`, as a
    /// double; NULL when that is not a JSON number. The path is what [`Dialect::json_path`] wrote.
    pub(crate) fn json_number(self, column: &str, path_param: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "CASE WHEN json_type({column}, {path_param}) IN ('integer', 'real') \
                 THEN CAST(json_extract({column}, {path_param}) AS REAL) END"
            ),
            Dialect::Postgres => format!(
                "CAST(jsonb_path_query_first(CAST({column} AS jsonb), CAST({path_param} AS jsonpath), \
                 '{{}}'::jsonb, true) AS float8)"
            ),
        }
    }

    /// The JSON path of `keys` (the segments of a dotted field, already checked to hold no `"` or `\`) in this
    /// dialect: `$."r"."ms"` for SQLite; for PostgreSQL a strict path that yields only numbers, so that a key
    /// applied to an array or a missing key gives nothing, as in [`vamp_core::store::aggregated_number`].
    pub(crate) fn json_path(self, keys: &[&str]) -> String {
        let mut path = String::from("$");
        for key in keys {
            path.push_str(".\"");
            path.push_str(key);
            path.push('"');
        }
        match self {
            Dialect::Sqlite => path,
            Dialect::Postgres => format!("strict {path} ? (@.type() == \"number\")"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_quote_every_key() {
        assert_eq!(Dialect::Sqlite.json_path(&[]), "$");
        assert_eq!(Dialect::Sqlite.json_path(&["r", "ms"]), "$.\"r\".\"ms\"");
        assert_eq!(
            Dialect::Postgres.json_path(&["a b"]),
            "strict $.\"a b\" ? (@.type() == \"number\")"
        );
    }

    #[test]
    fn sqlite_takes_the_write_lock_when_a_write_begins() {
        assert_eq!(Dialect::Sqlite.begin_write(), "BEGIN IMMEDIATE");
        assert!(Dialect::Sqlite.migration_lock().is_none());
        assert!(Dialect::Postgres.migration_lock().is_some());
    }
}
