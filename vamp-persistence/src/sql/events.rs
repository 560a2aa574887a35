//! [`EventStore`] for [`SqlStore`]: events in `vamp_events` with one `vamp_event_tags` row per expanded tag,
//! queries and aggregates in SQL ([`super::query`]), and subscriptions fed after each commit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use vamp_core::model::{Aggregator, AggregatorKind, Event, EventQuery};
use vamp_core::store::{prepare_event, EventStore, Page, Paged};
use vamp_core::{Error, Result};

use super::detached::detached;
use super::query::{self, bind_params, Param, Statement};
use super::{from_nanos, on_pool, to_nanos, Dialect, SqlStore};

/// Events per multi-row `INSERT` when publishing many.
const EVENTS_PER_STATEMENT: usize = 500;
/// Tag rows per multi-row `INSERT`.
const TAGS_PER_STATEMENT: usize = 1000;

/// An event checked and ready to insert.
struct Row {
    event: Event,
    at: i64,
    tags: String,
    value: String,
}

impl SqlStore {
    /// Validates an event the way [`EventStore::publish`] requires (tags: `NoTagEventError`, type:
    /// `EventTypeError`), expands its tags and checks what the store adds: the value's size, tags without NUL and
    /// a timestamp the store can keep.
    fn row(&self, event: Event) -> Result<Row> {
        vamp_core::dsl::validate::event(&event)?;
        let event = prepare_event(event)?;
        if let Some(tag) = event.tags.iter().find(|t| t.contains('\0')) {
            return Err(Error::invalid(format!(
                "The event tag {tag:?} contains a NUL character; remove it."
            )));
        }
        let at = to_nanos(event.timestamp, "The event")?;
        let value = serde_json::to_string(&event.value)
            .map_err(|e| Error::invalid(format!("The event value cannot be written as JSON: {e}.")))?;
        if value.len() > self.options.max_document_bytes {
            return Err(Error::invalid(format!(
                "The event value is {} bytes as JSON; the store accepts at most {} bytes.",
                value.len(),
                self.options.max_document_bytes
            )));
        }
        let tags = serde_json::to_string(&event.tags)
            .map_err(|e| Error::invalid(format!("The event tags cannot be written as JSON: {e}.")))?;
        Ok(Row {
            event,
            at,
            tags,
            value,
        })
    }

    /// Publishes `events` in one transaction and returns them as stored, in publication order (the order given),
    /// each with its id; subscribers receive them after the commit. All or none: one invalid event fails the
    /// call with `Invalid` before anything is written.
    ///
    /// One transaction and multi-row inserts make this much faster per event than [`EventStore::publish`] (one
    /// sync per call instead of per event); bulk loads and the benchmark use it.
    pub async fn publish_many(&self, events: Vec<Event>) -> Result<Vec<Event>> {
        let rows = events
            .into_iter()
            .map(|e| self.row(e))
            .collect::<Result<Vec<Row>>>()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let doing = format!("publish {} events", rows.len());
        let fail = |e| self.fail(&doing, e);
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let ids: Vec<i64> = on_pool!(&self.pool, |db| {
            let mut tx = db.begin_with(self.dialect.begin_write()).await.map_err(fail)?;
            let mut ids: Vec<i64> = sqlx::query_scalar(self.dialect.reserve_event_ids())
                .bind(count)
                .fetch_all(&mut *tx)
                .await
                .map_err(fail)?;
            ids.sort_unstable();
            if ids.len() != rows.len() {
                return Err(Error::backend(format!(
                    "{}: asked for {} event ids and got {}.",
                    self.dialect,
                    rows.len(),
                    ids.len()
                )));
            }
            for chunk in rows
                .chunks(EVENTS_PER_STATEMENT)
                .zip(ids.chunks(EVENTS_PER_STATEMENT))
            {
                let insert = insert_events(self.dialect, chunk.0, chunk.1);
                bind_params!(sqlx::query(&insert.sql), &insert.params)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            for insert in insert_tags(self.dialect, &rows, &ids) {
                bind_params!(sqlx::query(&insert.sql), &insert.params)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
            ids
        });
        let published: Vec<Event> = rows
            .into_iter()
            .zip(ids)
            .map(|(row, id)| Event {
                id: Some(id.to_string()),
                ..row.event
            })
            .collect();
        for event in &published {
            let _no_subscriber_is_fine = self.live.send(event.clone());
        }
        Ok(published)
    }

    fn event(&self, row: EventRow) -> Result<Event> {
        let (seq, kind, at, tags, value) = row;
        let broken = |what: &str, e: serde_json::Error| {
            Error::backend(format!(
                "{}: the stored {what} of event {seq} is not JSON: {e}.",
                self.dialect
            ))
        };
        Ok(Event {
            id: Some(seq.to_string()),
            tags: serde_json::from_str(&tags).map_err(|e| broken("tags", e))?,
            value: serde_json::from_str(&value).map_err(|e| broken("value", e))?,
            timestamp: from_nanos(at),
            kind,
        })
    }
}

/// `INSERT INTO vamp_events` of `rows` with their `ids`.
fn insert_events(dialect: Dialect, rows: &[Row], ids: &[i64]) -> Statement {
    let mut s = Statement::default();
    s.sql
        .push_str("INSERT INTO vamp_events (seq, kind, at, tags, value) VALUES ");
    for (i, (row, id)) in rows.iter().zip(ids).enumerate() {
        let first = s.params.len() + 1;
        s.params.extend([
            Param::Int(*id),
            Param::Text(row.event.kind.clone()),
            Param::Int(row.at),
            Param::Text(row.tags.clone()),
            Param::Text(row.value.clone()),
        ]);
        if i > 0 {
            s.sql.push_str(", ");
        }
        let p: Vec<String> = (first..first + 5).map(|n| dialect.placeholder(n)).collect();
        s.sql.push('(');
        s.sql.push_str(&p.join(", "));
        s.sql.push(')');
    }
    s
}

/// `INSERT INTO vamp_event_tags` statements for every expanded tag of `rows`, at most [`TAGS_PER_STATEMENT`]
/// rows each.
fn insert_tags(dialect: Dialect, rows: &[Row], ids: &[i64]) -> Vec<Statement> {
    let all: Vec<(&String, i64, i64, &String)> = rows
        .iter()
        .zip(ids)
        .flat_map(|(row, id)| {
            row.event
                .tags
                .iter()
                .map(move |tag| (tag, row.at, *id, &row.event.kind))
        })
        .collect();
    all.chunks(TAGS_PER_STATEMENT)
        .map(|chunk| {
            let mut s = Statement::default();
            s.sql
                .push_str("INSERT INTO vamp_event_tags (tag, at, seq, kind) VALUES ");
            for (i, (tag, at, seq, kind)) in chunk.iter().enumerate() {
                let first = s.params.len() + 1;
                s.params.extend([
                    Param::Text((*tag).clone()),
                    Param::Int(*at),
                    Param::Int(*seq),
                    Param::Text((*kind).clone()),
                ]);
                if i > 0 {
                    s.sql.push_str(", ");
                }
                let p: Vec<String> = (first..first + 4).map(|n| dialect.placeholder(n)).collect();
                s.sql.push('(');
                s.sql.push_str(&p.join(", "));
                s.sql.push(')');
            }
            s
        })
        .collect()
}

/// An event row as queries select it: sequence, kind, time, tags JSON, value JSON.
type EventRow = (i64, String, i64, String, String);

#[async_trait]
impl EventStore for SqlStore {
    async fn publish(&self, event: Event) -> Result<Event> {
        let this = self.clone();
        detached("publish", async move { this.publish_many(vec![event]).await })
            .await?
            .pop()
            .ok_or_else(|| Error::backend(format!("{}: publishing stored no event.", self.dialect)))
    }

    async fn query(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        let (this, query) = (self.clone(), query.clone());
        detached("query", async move { this.query_now(&query, page).await }).await
    }
    async fn aggregate(&self, query: &EventQuery, aggregator: &Aggregator) -> Result<Option<f64>> {
        query::check(query)?;
        let keys = query::field_keys(aggregator.field.as_deref())?;
        let now = Utc::now();
        let fail = |e| self.fail("aggregate events", e);
        if aggregator.kind == AggregatorKind::Count {
            let count = query::count(query, now);
            let n: i64 = on_pool!(&self.pool, |db| {
                bind_params!(sqlx::query_scalar(&count.sql), &count.params)
                    .fetch_one(db)
                    .await
                    .map_err(fail)?
            });
            return Ok(Some(n as f64));
        }
        let statement = query::aggregate(self.dialect, query, aggregator.kind, &keys, now);
        let (value, numbers): (Option<f64>, i64) = on_pool!(&self.pool, |db| {
            bind_params!(sqlx::query_as(&statement.sql), &statement.params)
                .fetch_one(db)
                .await
                .map_err(fail)?
        });
        Ok(value.filter(|_| numbers > 0))
    }

    async fn subscribe(&self, query: &EventQuery) -> Result<BoxStream<'static, Event>> {
        query::check(query)?;
        let query = query.clone();
        let stream = BroadcastStream::new(self.live.subscribe()).filter_map(move |item| {
            futures::future::ready(item.ok().filter(|e| query.matches(e, Utc::now())))
        });
        Ok(stream.boxed())
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64> {
        self.prune_events(before).await
    }
}

impl SqlStore {
    async fn query_now(&self, query: &EventQuery, page: Page) -> Result<Paged<Event>> {
        query::check(query)?;
        let now = Utc::now();
        let (select, count) = (query::page(query, page, now), query::count(query, now));
        let fail = |e| self.fail("query events", e);
        let (rows, total): (Vec<EventRow>, i64) = on_pool!(&self.pool, |db| {
            let mut tx = db.begin_with(self.dialect.begin_read()).await.map_err(fail)?;
            let rows = bind_params!(sqlx::query_as(&select.sql), &select.params)
                .fetch_all(&mut *tx)
                .await
                .map_err(fail)?;
            let total = bind_params!(sqlx::query_scalar(&count.sql), &count.params)
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            (rows, total)
        });
        Ok(Paged {
            items: rows
                .into_iter()
                .map(|row| self.event(row))
                .collect::<Result<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
            page: page.page(),
            per_page: page.per_page(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(tags: &[&str]) -> Row {
        let event = Event::new(tags.iter().copied(), json!(1));
        Row {
            event,
            at: 7,
            tags: "[]".into(),
            value: "1".into(),
        }
    }

    #[test]
    fn bulk_inserts_use_positional_placeholders_on_sqlite_and_numbered_ones_on_postgres() {
        let rows = [row(&["a"]), row(&["b"])];
        let sqlite = insert_events(Dialect::Sqlite, &rows, &[1, 2]);
        assert_eq!(sqlite.sql.matches('?').count(), 10);
        assert!(!sqlite.sql.contains('$'), "{}", sqlite.sql);
        let postgres = insert_events(Dialect::Postgres, &rows, &[1, 2]);
        assert!(
            postgres.sql.ends_with("($6, $7, $8, $9, $10)"),
            "{}",
            postgres.sql
        );
        assert_eq!(postgres.params.len(), 10);
    }

    #[test]
    fn every_expanded_tag_gets_a_row_in_statements_of_bounded_size() {
        let rows: Vec<Row> = (0..700).map(|_| row(&["deployments:shop"])).collect();
        let ids: Vec<i64> = (1..=700).collect();
        let statements = insert_tags(Dialect::Postgres, &rows, &ids);
        let per_statement: Vec<usize> = statements.iter().map(|s| s.params.len() / 4).collect();
        assert_eq!(per_statement, [TAGS_PER_STATEMENT, 1400 - TAGS_PER_STATEMENT]);
        assert_eq!(
            statements[0].params[..4],
            [
                Param::Text("deployments".into()),
                Param::Int(7),
                Param::Int(1),
                Param::Text("event".into())
            ]
        );
    }
}
