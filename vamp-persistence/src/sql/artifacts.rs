//! [`ArtifactStore`] for [`SqlStore`]: every put adds a row to `vamp_artifact_revisions` and points
//! `vamp_artifacts` at it, in one transaction; delete removes only the pointer, so history outlives it and
//! revisions keep counting.
//!
//! Races between writers are settled by the database: SQLite runs one write transaction at a time; on
//! PostgreSQL two writers computing the same next revision collide on the history table's key, and a conditional
//! pointer update re-checks the revision it expects. A writer that loses such a race fails with `Conflict` when
//! it expected a revision, and tries again otherwise.

use async_trait::async_trait;
use vamp_core::model::Kind;
use vamp_core::store::{check_artifact_name, ArtifactStore, Page, Paged, Stored};
use vamp_core::{Error, Result};

use super::detached::detached;
use super::error::is_unique_violation;
use super::{from_nanos, now_nanos, on_pool, SqlStore};

/// How often an unconditional put retries after losing a race before it gives up as `Unavailable`.
const PUT_ATTEMPTS: usize = 16;

/// The longest artifact name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// How a put attempt ended, when it did not write.
enum Missed {
    /// Another writer changed the artifact between the read and the write.
    Raced,
    /// Anything else.
    Failed(Error),
}

impl From<Error> for Missed {
    fn from(e: Error) -> Self {
        Missed::Failed(e)
    }
}

/// The check of every store ([`check_artifact_name`]), and what SQL adds: a length limit and no NUL.
fn check_name(kind: Kind, name: &str) -> Result<()> {
    check_artifact_name(kind, name)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "The {kind} name starting '{}…' is {} bytes long; names are at most {MAX_NAME_BYTES} bytes.",
            name.chars().take(40).collect::<String>(),
            name.len()
        )));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!(
            "The {kind} name {name:?} contains a NUL character; remove it."
        )));
    }
    Ok(())
}

fn revision(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl SqlStore {
    fn stored(&self, kind: Kind, name: String, row: (i64, String, i64)) -> Result<Stored> {
        let (rev, document, updated) = row;
        let document = serde_json::from_str(&document).map_err(|e| {
            Error::backend(format!(
                "{}: the stored document of {kind} '{name}' revision {rev} is not JSON: {e}.",
                self.dialect
            ))
        })?;
        Ok(Stored {
            kind,
            name,
            revision: revision(rev),
            document,
            updated: from_nanos(updated),
        })
    }

    /// One put attempt in one transaction.
    async fn try_put(
        &self,
        kind: Kind,
        name: &str,
        document: &str,
        expected: Option<u64>,
    ) -> std::result::Result<u64, Missed> {
        let k = kind.plural();
        let doing = format!("put {kind} '{name}'");
        let fail = |e| Missed::Failed(self.fail(&doing, e));
        let race = |e: sqlx::Error| {
            if is_unique_violation(&e) {
                Missed::Raced
            } else {
                Missed::Failed(self.fail(&doing, e))
            }
        };
        let expected = expected.map(|e| i64::try_from(e).unwrap_or(i64::MAX));
        on_pool!(&self.pool, |db| {
            let mut tx = db.begin_with(self.dialect.begin_write()).await.map_err(fail)?;
            let current: Option<i64> =
                sqlx::query_scalar("SELECT revision FROM vamp_artifacts WHERE kind = $1 AND name = $2")
                    .bind(k)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
            let current = current.unwrap_or(0);
            if let Some(expected) = expected.filter(|e| *e != current) {
                return Err(Missed::Failed(Error::conflict(format!(
                    "The {kind} '{name}' is at revision {current}, not {expected}; read it again and retry."
                ))));
            }
            let last: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(revision), 0) FROM vamp_artifact_revisions WHERE kind = $1 AND name = $2",
            )
            .bind(k)
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
            let next = last + 1;
            sqlx::query(
                "INSERT INTO vamp_artifact_revisions (kind, name, revision, document, updated) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(k)
            .bind(name)
            .bind(next)
            .bind(document)
            .bind(now_nanos())
            .execute(&mut *tx)
            .await
            .map_err(race)?;
            let pointer = match expected {
                Some(0) => {
                    sqlx::query("INSERT INTO vamp_artifacts (kind, name, revision) VALUES ($1, $2, $3)")
                        .bind(k)
                        .bind(name)
                        .bind(next)
                }
                Some(expected) => sqlx::query(
                    "UPDATE vamp_artifacts SET revision = $3 WHERE kind = $1 AND name = $2 AND revision = $4",
                )
                .bind(k)
                .bind(name)
                .bind(next)
                .bind(expected),
                None => sqlx::query(
                    "INSERT INTO vamp_artifacts (kind, name, revision) VALUES ($1, $2, $3) \
                     ON CONFLICT (kind, name) DO UPDATE SET revision = excluded.revision \
                     WHERE vamp_artifacts.revision < excluded.revision",
                )
                .bind(k)
                .bind(name)
                .bind(next),
            };
            let moved = pointer.execute(&mut *tx).await.map_err(race)?;
            if moved.rows_affected() != 1 {
                return Err(Missed::Raced);
            }
            tx.commit().await.map_err(fail)?;
            Ok(revision(next))
        })
    }

    /// Puts a document already written as JSON, retrying lost creation races.
    async fn put_text(
        &self,
        kind: Kind,
        name: &str,
        text: &str,
        expected_revision: Option<u64>,
    ) -> Result<u64> {
        for _ in 0..PUT_ATTEMPTS {
            match self.try_put(kind, name, text, expected_revision).await {
                Ok(revision) => return Ok(revision),
                Err(Missed::Failed(e)) => return Err(e),
                Err(Missed::Raced) if expected_revision.is_some() => {
                    return Err(Error::conflict(format!(
                        "The {kind} '{name}' was changed by another writer while this put expected revision \
                         {}; read it again and retry.",
                        expected_revision.unwrap_or_default()
                    )))
                }
                Err(Missed::Raced) => {}
            }
        }
        Err(Error::unavailable(format!(
            "{}: put {kind} '{name}' lost {PUT_ATTEMPTS} races in a row to other writers; retry later.",
            self.dialect
        )))
    }
}

#[async_trait]
impl ArtifactStore for SqlStore {
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Stored>> {
        check_name(kind, name)?;
        let fail = |e| self.fail(&format!("get {kind} '{name}'"), e);
        let row: Option<(i64, String, i64)> = on_pool!(&self.pool, |db| {
            sqlx::query_as(
                "SELECT r.revision, r.document, r.updated FROM vamp_artifacts a \
                 JOIN vamp_artifact_revisions r \
                 ON r.kind = a.kind AND r.name = a.name AND r.revision = a.revision \
                 WHERE a.kind = $1 AND a.name = $2",
            )
            .bind(kind.plural())
            .bind(name)
            .fetch_optional(db)
            .await
            .map_err(fail)?
        });
        row.map(|row| self.stored(kind, name.to_string(), row))
            .transpose()
    }

    async fn put(
        &self,
        kind: Kind,
        name: &str,
        document: serde_json::Value,
        expected_revision: Option<u64>,
    ) -> Result<u64> {
        check_name(kind, name)?;
        let text = serde_json::to_string(&document)
            .map_err(|e| Error::invalid(format!("The {kind} '{name}' cannot be written as JSON: {e}.")))?;
        if text.len() > self.options.max_document_bytes {
            return Err(Error::invalid(format!(
                "The {kind} '{name}' is {} bytes as JSON; the store accepts at most {} bytes. Split it or \
                 raise the limit.",
                text.len(),
                self.options.max_document_bytes
            )));
        }
        let (this, owned) = (self.clone(), name.to_string());
        detached("put", async move {
            this.put_text(kind, &owned, &text, expected_revision).await
        })
        .await
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<bool> {
        check_name(kind, name)?;
        let fail = |e| self.fail(&format!("delete {kind} '{name}'"), e);
        let done = on_pool!(&self.pool, |db| {
            sqlx::query("DELETE FROM vamp_artifacts WHERE kind = $1 AND name = $2")
                .bind(kind.plural())
                .bind(name)
                .execute(db)
                .await
                .map_err(fail)?
                .rows_affected()
        });
        Ok(done > 0)
    }

    async fn list(&self, kind: Kind, page: Page) -> Result<Paged<Stored>> {
        let this = self.clone();
        detached("list", async move { this.list_now(kind, page).await }).await
    }

    async fn history(&self, kind: Kind, name: &str) -> Result<Vec<Stored>> {
        self.history_now(kind, name).await
    }
}

impl SqlStore {
    async fn list_now(&self, kind: Kind, page: Page) -> Result<Paged<Stored>> {
        let fail = |e| self.fail(&format!("list {}", kind.plural()), e);
        let limit = i64::from(page.per_page());
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let (rows, total): (Vec<(String, i64, String, i64)>, i64) = on_pool!(&self.pool, |db| {
            let mut tx = db.begin_with(self.dialect.begin_read()).await.map_err(fail)?;
            let rows = sqlx::query_as(
                "SELECT a.name, r.revision, r.document, r.updated FROM vamp_artifacts a \
                 JOIN vamp_artifact_revisions r \
                 ON r.kind = a.kind AND r.name = a.name AND r.revision = a.revision \
                 WHERE a.kind = $1 ORDER BY a.name LIMIT $2 OFFSET $3",
            )
            .bind(kind.plural())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await
            .map_err(fail)?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM vamp_artifacts WHERE kind = $1")
                .bind(kind.plural())
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            (rows, total)
        });
        let items = rows
            .into_iter()
            .map(|(name, rev, doc, updated)| self.stored(kind, name, (rev, doc, updated)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or(0),
            page: page.page(),
            per_page: page.per_page(),
        })
    }

    async fn history_now(&self, kind: Kind, name: &str) -> Result<Vec<Stored>> {
        check_name(kind, name)?;
        let fail = |e| self.fail(&format!("read the history of {kind} '{name}'"), e);
        let rows: Vec<(i64, String, i64)> = on_pool!(&self.pool, |db| {
            sqlx::query_as(
                "SELECT revision, document, updated FROM vamp_artifact_revisions \
                 WHERE kind = $1 AND name = $2 ORDER BY revision",
            )
            .bind(kind.plural())
            .bind(name)
            .fetch_all(db)
            .await
            .map_err(fail)?
        });
        rows.into_iter()
            .map(|row| self.stored(kind, name.to_string(), row))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    #[test]
    fn names_are_non_empty_bounded_and_free_of_nul() {
        assert!(check_name(Kind::Breed, "shop-frontend:1.0").is_ok());
        for bad in [String::new(), "a\0b".to_string(), "x".repeat(MAX_NAME_BYTES + 1)] {
            assert_eq!(
                check_name(Kind::Breed, &bad).unwrap_err().kind(),
                ErrorKind::Invalid,
                "{bad:?}"
            );
        }
    }
}
