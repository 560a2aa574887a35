//! Embedded, versioned schema migrations: one SQL file per version and dialect under `migrations/`, compiled into
//! the binary, applied in order in one transaction per store opening, and recorded in `vamp_schema_migrations`
//! with a checksum so an edited or unknown migration is refused instead of silently diverging.

use chrono::Utc;
use vamp_core::{Error, Result};

use super::{error, on_pool, Dialect, Pool};

/// One schema version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Counts from 1, one more per migration.
    pub(crate) version: i64,
    /// What the migration does, as recorded.
    pub(crate) description: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        description: "artifacts with revisions and history; events with tags",
        sql: include_str!("migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "event retention: the largest event id ever handed out",
        sql: include_str!("migrations/sqlite/0002_event_retention.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "artifacts with revisions and history; events with tags",
        sql: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "event retention: vacuum the event tables after 2% dead rows",
        sql: include_str!("migrations/postgres/0002_event_retention.sql"),
    },
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS vamp_schema_migrations (\
     version BIGINT PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// The migrations of `dialect`, oldest first.
pub(crate) fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

/// The schema version this build writes.
pub fn latest_version(dialect: Dialect) -> i64 {
    migrations(dialect).last().map_or(0, |m| m.version)
}

/// FNV-1a of the migration text, in hex: enough to notice an edited migration file.
fn checksum(sql: &str) -> String {
    let hash = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// What the ledger says against what this build knows: the migrations still to apply, or why the database
/// cannot be used.
fn pending(
    dialect: Dialect,
    known: &'static [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<Migration>> {
    for (version, sum) in applied {
        match known.iter().find(|m| m.version == *version) {
            None => {
                return Err(Error::backend(format!(
                    "{dialect}: the database schema has migration {version}, which this build does not know \
                     (it knows up to {}); a newer Vamp wrote it, so run that version or a newer one.",
                    latest_version(dialect)
                )))
            }
            Some(m) if checksum(m.sql) != *sum => {
                return Err(Error::backend(format!(
                    "{dialect}: migration {version} ('{}') differs from the one applied to this database; \
                     migrations must never be edited once released.",
                    m.description
                )))
            }
            Some(_) => {}
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .copied()
        .collect())
}

/// Brings the schema of `pool` to the latest version, in one transaction that concurrent openers wait for.
pub(crate) async fn run(pool: &Pool, dialect: Dialect) -> Result<()> {
    let fail = |e| error::map(dialect, "migrating the schema", e);
    on_pool!(pool, |db| {
        let mut tx = db.begin_with(dialect.begin_write()).await.map_err(fail)?;
        if let Some(lock) = dialect.migration_lock() {
            sqlx::query(lock).execute(&mut *tx).await.map_err(fail)?;
        }
        sqlx::query(LEDGER).execute(&mut *tx).await.map_err(fail)?;
        let applied: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, checksum FROM vamp_schema_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await
                .map_err(fail)?;
        for m in pending(dialect, migrations(dialect), &applied)? {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(fail)?;
            sqlx::query(
                "INSERT INTO vamp_schema_migrations (version, description, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(m.version)
            .bind(m.description)
            .bind(checksum(m.sql))
            .bind(Utc::now().timestamp())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_from_one_without_gaps() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let versions: Vec<i64> = migrations(dialect).iter().map(|m| m.version).collect();
            let expected: Vec<i64> = (1..=versions.len() as i64).collect();
            assert_eq!(versions, expected, "{dialect}");
        }
        assert_eq!(
            latest_version(Dialect::Sqlite),
            latest_version(Dialect::Postgres),
            "both dialects are at the same schema version"
        );
    }

    #[test]
    fn an_applied_migration_is_not_applied_again() {
        let all: Vec<(i64, String)> = SQLITE.iter().map(|m| (m.version, checksum(m.sql))).collect();
        assert!(pending(Dialect::Sqlite, SQLITE, &all).unwrap().is_empty());
        let upgrade: Vec<i64> = pending(Dialect::Sqlite, SQLITE, &all[..1])
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(
            upgrade,
            [2],
            "a database at version 1 gets the later migrations only"
        );
        assert_eq!(pending(Dialect::Sqlite, SQLITE, &[]).unwrap().len(), SQLITE.len());
    }

    #[test]
    fn an_edited_or_unknown_migration_is_refused() {
        let edited = vec![(1, "0000000000000000".to_string())];
        let e = pending(Dialect::Sqlite, SQLITE, &edited).unwrap_err();
        assert!(e.message().contains("differs"), "{e}");
        let newer = vec![(1, checksum(SQLITE[0].sql)), (99, "x".to_string())];
        let e = pending(Dialect::Sqlite, SQLITE, &newer).unwrap_err();
        assert!(e.message().contains("does not know"), "{e}");
    }
}
