//! Retention for [`SqlStore`]: [`EventStore::prune`](vamp_core::store::EventStore::prune) deletes the events
//! older than a bound, oldest first, in batches of [`SqlOptions::prune_batch`](super::SqlOptions) events, one
//! write transaction each.
//!
//! A batch finds its upper bound through the `(at, seq)` index of `vamp_events` (the timestamp of the batch's
//! last event), deletes the batch's tag rows by their keys `(tag, at, seq)`, read from the events' stored tags,
//! and then the events. Batches keep every transaction short, so publishers wait for one batch at most (SQLite
//! has one writer) and the write-ahead log stays small; each batch deletes whole events, tag rows included.
//!
//! The deletions are not kept as prepared statements: PostgreSQL would switch a kept statement to a generic plan
//! after five runs, planned for an unknown bound (a third of the table), which scans the whole tag table even
//! when a batch holds a handful of events; planned for each run's bound, a small batch is a few key lookups.
//!
//! SQLite hands out event ids as one more than the largest stored: before deleting, a batch records the largest
//! id in `vamp_event_ids`, so ids of pruned events are never handed out again. PostgreSQL draws ids from a
//! sequence and needs nothing.

use chrono::{DateTime, Utc};
use vamp_core::Result;

use super::detached::detached;
use super::{on_pool, SqlStore};

/// The first event timestamp not to delete as stored, turned into the last one to delete: `None` when no
/// storable timestamp lies before `before`, `i64::MAX` when every one does.
fn last_to_delete(before: DateTime<Utc>) -> Option<i64> {
    match before.timestamp_nanos_opt() {
        Some(nanos) => nanos.checked_sub(1),
        None if before > DateTime::UNIX_EPOCH => Some(i64::MAX),
        None => None,
    }
}

impl SqlStore {
    /// Deletes the oldest events stamped at or before `last` (stored nanoseconds), `prune_batch` of them (more
    /// when the last one's timestamp is shared) or all when fewer are left, in one transaction. How many, and
    /// whether more may be left.
    async fn prune_batch(&self, last: i64) -> Result<(u64, bool)> {
        let fail = |e| self.fail("prune events", e);
        let offset = i64::try_from(self.options.prune_batch.max(1) - 1).unwrap_or(i64::MAX);
        on_pool!(&self.pool, |db| {
            let mut tx = db.begin_with(self.dialect.begin_write()).await.map_err(fail)?;
            if let Some(keep) = self.dialect.keep_event_ids() {
                sqlx::query(keep).execute(&mut *tx).await.map_err(fail)?;
            }
            let bound: Option<i64> =
                sqlx::query_scalar("SELECT at FROM vamp_events WHERE at <= $1 ORDER BY at LIMIT 1 OFFSET $2")
                    .bind(last)
                    .bind(offset)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
            let upto = bound.unwrap_or(last);
            sqlx::query(self.dialect.prune_event_tags())
                .persistent(false)
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            let count = sqlx::query("DELETE FROM vamp_events WHERE at <= $1")
                .persistent(false)
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            tx.commit().await.map_err(fail)?;
            Ok((count, bound.is_some()))
        })
    }

    /// [`EventStore::prune`](vamp_core::store::EventStore::prune): batch after batch, each run detached so that
    /// a dropped caller cannot leave one half done; dropping the caller stops the prune after the current batch.
    pub(super) async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let Some(last) = last_to_delete(before) else {
            return Ok(0);
        };
        let mut deleted = 0;
        loop {
            let this = self.clone();
            let (count, more) = detached("prune", async move { this.prune_batch(last).await }).await?;
            deleted += count;
            if !more {
                return Ok(deleted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_timestamp_to_delete_is_one_nanosecond_before_the_bound() {
        let t = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        assert_eq!(last_to_delete(t), Some(1_700_000_000_000_000_004));
    }

    #[test]
    fn bounds_outside_the_stored_range_delete_everything_or_nothing() {
        let far_future = DateTime::from_timestamp(32_503_680_000, 0).unwrap();
        assert_eq!(last_to_delete(far_future), Some(i64::MAX));
        let far_past = DateTime::from_timestamp(-32_503_680_000, 0).unwrap();
        assert_eq!(last_to_delete(far_past), None);
        assert_eq!(last_to_delete(DateTime::from_timestamp_nanos(i64::MIN)), None);
    }
}
