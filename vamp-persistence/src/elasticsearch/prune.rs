//! Retention for [`ElasticsearchStore`]: [`EventStore::prune`](vamp_core::store::EventStore::prune) in two
//! steps, after refreshing the event indices so that every event stored so far is seen.
//!
//! 1. **Whole days.** Events live in daily indices (`<index.name>-<type>-<YYYY-MM-dd>`, the day of the event's
//!    timestamp), so an index whose day ended at or before the bound holds only events to delete. When all its
//!    documents belong to this store's namespace (`_count` of the namespace equals `_count` of everything), the
//!    index is deleted as a whole: cheap, and it frees the disk and the shard at once, where deleted documents
//!    would wait for segment merges and empty indices would pile up against the cluster's shard limit. An
//!    index shared with other namespaces (one `index` named in several stores' URLs) is left to step 2.
//! 2. **The rest.** `_delete_by_query` over `<index.name>-*` with this namespace and a `range` on `timestamp`
//!    below the bound (`conflicts=proceed`, `refresh=true`, so queries stop finding the events at once).
//!
//! The count is `_count` of each deleted index plus the `deleted` of `_delete_by_query`: exact for the events
//! stored when the prune began. An event published meanwhile into a day already over may go with its index
//! uncounted (it is older than the bound either way). A `_delete_by_query` that outlasts the request timeout
//! goes on in Elasticsearch; the prune then fails as `Unavailable` and the next one counts what is left.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use elasticsearch::http::StatusCode;
use elasticsearch::indices::{IndicesDeleteParts, IndicesGetParts, IndicesRefreshParts};
use elasticsearch::params::Conflicts;
use elasticsearch::{CountParts, DeleteByQueryParts};
use serde_json::{json, Value};
use vamp_core::{Error, Result};

use super::answer::answer;
use super::document::{earliest, latest, timestamp_text};
use super::ElasticsearchStore;

/// How long one `_delete_by_query` may take at least, whatever the store's request timeout: deleting a day of
/// events takes Elasticsearch a while.
const DELETE_BY_QUERY_TIMEOUT: Duration = Duration::from_secs(300);

/// The day of an event index named `<index_name>-<type>-<YYYY-MM-dd>`; `None` for other names.
fn index_day(index_name: &str, index: &str) -> Option<NaiveDate> {
    let rest = index.strip_prefix(index_name)?.strip_prefix('-')?;
    let split = rest.len().checked_sub(10)?;
    let (kind, day) = (rest.get(..split)?, rest.get(split..)?);
    if kind.len() < 2 || !kind.ends_with('-') {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Whether every event of `day` lies before `before`: the day ended at or before it.
fn day_over(day: NaiveDate, before: DateTime<Utc>) -> bool {
    day.succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .is_some_and(|end| end.and_utc() <= before)
}

impl ElasticsearchStore {
    /// See the module documentation.
    pub(super) async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        if before <= earliest() {
            return Ok(0);
        }
        let pattern = self.pattern();
        answer(
            self.client
                .indices()
                .refresh(IndicesRefreshParts::Index(&[pattern.as_str()]))
                .allow_no_indices(true)
                .ignore_unavailable(true)
                .send()
                .await,
            "refreshing the event indices before pruning",
        )
        .await?;
        let mut deleted = 0;
        for index in self.indices_over(before).await? {
            deleted += self.drop_own_index(&index).await?;
        }
        Ok(deleted + self.delete_older(before).await?)
    }

    /// The event indices of whole days before `before`.
    async fn indices_over(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        let pattern = self.pattern();
        let found = answer(
            self.client
                .indices()
                .get(IndicesGetParts::Index(&[pattern.as_str()]))
                .allow_no_indices(true)
                .ignore_unavailable(true)
                .send()
                .await,
            "listing the event indices",
        )
        .await?;
        Ok(found
            .as_object()
            .map(|indices| {
                indices
                    .keys()
                    .filter(|name| {
                        index_day(&self.config.index, name).is_some_and(|day| day_over(day, before))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Deletes `index` when all its documents are this namespace's, and returns how many there were; 0 and
    /// nothing deleted when it holds others' too.
    async fn drop_own_index(&self, index: &str) -> Result<u64> {
        let own = self
            .count_in(index, json!({"term": {"namespace": self.config.namespace}}))
            .await?;
        let all = self.count_in(index, json!({"match_all": {}})).await?;
        if own != all {
            return Ok(0);
        }
        let sent = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[index]))
            .send()
            .await;
        if sent
            .as_ref()
            .is_ok_and(|r| r.status_code() == StatusCode::NOT_FOUND)
        {
            return Ok(0);
        }
        answer(sent, &format!("deleting the event index '{index}'")).await?;
        Ok(own)
    }

    async fn count_in(&self, index: &str, query: Value) -> Result<u64> {
        let counted = answer(
            self.client
                .count(CountParts::Index(&[index]))
                .ignore_unavailable(true)
                .body(json!({ "query": query }))
                .send()
                .await,
            &format!("counting the events of '{index}'"),
        )
        .await?;
        counted
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::backend("Elasticsearch answered _count without a count."))
    }

    /// `_delete_by_query` of this namespace's events before `before`; how many it deleted.
    async fn delete_older(&self, before: DateTime<Utc>) -> Result<u64> {
        let range = if before > latest() {
            json!({"lte": timestamp_text(latest())})
        } else {
            json!({"lt": timestamp_text(before)})
        };
        let query = json!({"bool": {"filter": [
            {"term": {"namespace": self.config.namespace}},
            {"range": {"timestamp": range}},
        ]}});
        let pattern = self.pattern();
        let done = answer(
            self.client
                .delete_by_query(DeleteByQueryParts::Index(&[pattern.as_str()]))
                .allow_no_indices(true)
                .ignore_unavailable(true)
                .conflicts(Conflicts::Proceed)
                .refresh(true)
                .request_timeout(self.config.timeout.max(DELETE_BY_QUERY_TIMEOUT))
                .body(json!({ "query": query }))
                .send()
                .await,
            "deleting old events (_delete_by_query)",
        )
        .await?;
        if let Some(first) = done
            .get("failures")
            .and_then(Value::as_array)
            .and_then(|f| f.first())
        {
            return Err(Error::backend(format!(
                "Elasticsearch failed to delete some old events: {first}."
            )));
        }
        done.get("deleted").and_then(Value::as_u64).ok_or_else(|| {
            Error::backend("Elasticsearch answered _delete_by_query without a 'deleted' count.")
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_day_is_read_from_event_index_names_only() {
        let day = NaiveDate::from_ymd_opt(2017, 6, 28);
        assert_eq!(
            index_day("vamp-pulse-shop", "vamp-pulse-shop-health-2017-06-28"),
            day
        );
        assert_eq!(
            index_day("vamp-pulse-shop", "vamp-pulse-shop-my-type-2017-06-28"),
            day
        );
        for other in [
            "vamp-pulse-shop-2017-06-28",
            "vamp-pulse-shopping-health-2017-06-28",
            "vamp-pulse-shop-health-2017-13-28",
            "vamp-pulse-shop-health",
            "elsewhere-health-2017-06-28",
        ] {
            assert_eq!(index_day("vamp-pulse-shop", other), None, "{other}");
        }
    }

    #[test]
    fn a_day_is_over_once_the_bound_reaches_the_next_midnight() {
        let day = NaiveDate::from_ymd_opt(2017, 6, 28).unwrap();
        let midnight = Utc.with_ymd_and_hms(2017, 6, 29, 0, 0, 0).unwrap();
        assert!(day_over(day, midnight));
        assert!(!day_over(day, midnight - chrono::Duration::nanoseconds(1)));
    }
}
