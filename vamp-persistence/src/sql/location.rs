//! Where a [`super::SqlStore`] lives, read from its URL: `sqlite://<path>` (relative, or absolute with a third
//! slash: `sqlite:///var/lib/vamp/vamp.db`) or `postgres://…` / `postgresql://…` (handed to the PostgreSQL
//! driver, which reads user, password, host, port, database and its own parameters such as `sslmode`).

use std::path::PathBuf;

use vamp_core::{Error, Result};

use super::Synchronous;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A SQLite file, and the `synchronous` the URL asks for, if any.
    Sqlite {
        path: PathBuf,
        synchronous: Option<Synchronous>,
    },
    /// A PostgreSQL URL, as given.
    Postgres(String),
}

/// The URL schemes a [`SqlStore`](super::SqlStore) opens.
pub const SQL_SCHEMES: [&str; 3] = ["sqlite", "postgres", "postgresql"];

/// Reads `url`; fails with `Invalid` saying what is wrong with it.
pub(crate) fn parse(url: &str) -> Result<Location> {
    let (scheme, rest) = url.split_once(':').ok_or_else(|| {
        Error::invalid(format!(
            "'{url}' is not a database URL; write sqlite://<file> or postgres://<user>@<host>/<database>."
        ))
    })?;
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => sqlite(url, rest),
        "postgres" | "postgresql" => Ok(Location::Postgres(url.to_string())),
        other => Err(Error::invalid(format!(
            "'{other}' is not a SQL database scheme; use one of {}.",
            SQL_SCHEMES.join(", ")
        ))),
    }
}

fn sqlite(url: &str, rest: &str) -> Result<Location> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = percent_decode(path)
        .map_err(|why| Error::invalid(format!("The SQLite URL '{url}' has a bad path: {why}.")))?;
    if path.is_empty() {
        return Err(Error::invalid(format!(
            "The SQLite URL '{url}' names no file; write sqlite://data/vamp.db or sqlite:///absolute/vamp.db."
        )));
    }
    if path == ":memory:" {
        return Err(Error::invalid(
            "An in-memory SQLite database is not durable; use memory:// for a store in memory.",
        ));
    }
    let mut synchronous = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (key, value.to_ascii_lowercase().as_str()) {
            ("synchronous", "full") => synchronous = Some(Synchronous::Full),
            ("synchronous", "normal") => synchronous = Some(Synchronous::Normal),
            ("synchronous", _) => {
                return Err(Error::invalid(format!(
                    "The SQLite URL '{url}' asks for synchronous={value}; use full (the default) or normal."
                )))
            }
            _ => {
                return Err(Error::invalid(format!(
                    "The SQLite URL '{url}' has the unknown parameter '{key}'; the only one is synchronous."
                )))
            }
        }
    }
    Ok(Location::Sqlite {
        path: PathBuf::from(path),
        synchronous,
    })
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("'%' at byte {i} is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "it decodes to bytes that are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn sqlite_path(url: &str) -> PathBuf {
        match parse(url) {
            Ok(Location::Sqlite { path, .. }) => path,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn sqlite_paths_are_relative_or_absolute_with_a_third_slash() {
        assert_eq!(
            sqlite_path("sqlite://data/vamp.db"),
            PathBuf::from("data/vamp.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/vamp.db"),
            PathBuf::from("/var/lib/vamp.db")
        );
        assert_eq!(sqlite_path("sqlite:vamp.db"), PathBuf::from("vamp.db"));
        assert_eq!(
            sqlite_path("sqlite://my%20data/v.db"),
            PathBuf::from("my data/v.db")
        );
    }

    #[test]
    fn synchronous_is_read_from_the_query() {
        assert_eq!(
            parse("sqlite://v.db?synchronous=normal").unwrap(),
            Location::Sqlite {
                path: PathBuf::from("v.db"),
                synchronous: Some(Synchronous::Normal)
            }
        );
        let e = parse("sqlite://v.db?synchronous=off").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        let e = parse("sqlite://v.db?cache=shared").unwrap_err();
        assert!(e.message().contains("unknown parameter 'cache'"), "{e}");
    }

    #[test]
    fn bad_sqlite_urls_are_invalid() {
        for url in [
            "sqlite://",
            "sqlite://%FF%FE.db",
            "sqlite://50%.db",
            "sqlite://:memory:",
            "mysql://x",
            "no-scheme",
        ] {
            assert_eq!(parse(url).unwrap_err().kind(), ErrorKind::Invalid, "{url}");
        }
    }

    #[test]
    fn postgres_urls_pass_through() {
        assert_eq!(
            parse("postgresql://u@h:5/db?sslmode=require").unwrap(),
            Location::Postgres("postgresql://u@h:5/db?sslmode=require".to_string())
        );
    }
}
