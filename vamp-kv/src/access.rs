//! How a store is reached beyond its address: credentials and TLS, as given in a store URL's user part and
//! query ([`crate::url`]).
//!
//! | part | meaning | stores |
//! |---|---|---|
//! | `user:password@` | etcd RBAC user, ZooKeeper digest (`user:password`), Redis ACL user; Consul: the password is the ACL token (no user) | etcd, zk, consul, redis |
//! | `?password-file=<path>` | the password (or Consul token) read from a file, white space at both ends ignored; instead of one in the URL | etcd, zk, consul, redis |
//! | `?tls=true` | TLS to the server, checked against the system's roots unless `ca` is given | etcd, consul |
//! | `?ca=<path>` | the CA certificate (PEM) the server's certificate must chain to; implies TLS | etcd, consul |
//! | `?cert=<path>&key=<path>` | a client certificate and its key (PEM); implies TLS; both or neither | etcd, consul |
//!
//! A password never shows: [`Password`]'s `Debug` and `Display` print `***`, and URLs in messages are
//! [`crate::url::redacted`].

use std::fmt;
use std::path::{Path, PathBuf};

use vamp_core::{Error, Result};

/// A secret that prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password of `text`.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The password itself, to hand to a client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// Given in the URL.
    Inline(Password),
    /// Read from this file when connecting.
    File(PathBuf),
}

impl Secret {
    /// The password: as given, or read from the file. Fails with `Invalid` naming the file when it cannot be
    /// read.
    pub fn read(&self) -> Result<Password> {
        match self {
            Secret::Inline(p) => Ok(p.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|text| Password::new(text.trim()))
                .map_err(|e| {
                    Error::invalid(format!(
                        "The password file {} of the key-value store cannot be read: {e}",
                        path.display()
                    ))
                }),
        }
    }
}

/// TLS to the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tls {
    /// The CA certificate (PEM) the server must chain to; `None` = the system's roots.
    pub ca: Option<PathBuf>,
    /// A client certificate and its private key (PEM).
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl Tls {
    /// The CA certificate's PEM text, if one is configured.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>> {
        self.ca
            .as_deref()
            .map(|p| read_file(p, "CA certificate"))
            .transpose()
    }

    /// The client certificate's and key's PEM text, if configured.
    pub fn identity_pem(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.identity
            .as_ref()
            .map(|(cert, key)| {
                Ok((
                    read_file(cert, "client certificate")?,
                    read_file(key, "client key")?,
                ))
            })
            .transpose()
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "The {what} file {} of the key-value store cannot be read: {e}",
            path.display()
        ))
    })
}

/// Credentials and TLS for one store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// The user name, if any.
    pub user: Option<String>,
    /// The password (or Consul token), if any.
    pub password: Option<Secret>,
    /// TLS, if on.
    pub tls: Option<Tls>,
}

/// What a scheme takes, for [`Access::parse`]'s checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Takes {
    pub user: bool,
    pub password: bool,
    pub tls: bool,
}

impl Access {
    /// The access of a URL's user part (`user:password`, without `@`) and query (without `?`), for `scheme`
    /// which takes what `takes` says. Fails with a message (for `Invalid`) naming the part that is wrong.
    pub(crate) fn parse(
        scheme: &str,
        credentials: Option<&str>,
        query: Option<&str>,
        takes: Takes,
    ) -> std::result::Result<Access, String> {
        let mut access = Access::default();
        if let Some(credentials) = credentials {
            let (user, password) = match credentials.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (credentials, None),
            };
            if !user.is_empty() {
                if !takes.user {
                    return Err(format!(
                        "names a user; {scheme}:// takes none (give only ':password@', or nothing)."
                    ));
                }
                access.user = Some(user.to_string());
            }
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                if !takes.password {
                    return Err(format!("carries credentials; {scheme}:// takes none."));
                }
                access.password = Some(Secret::Inline(Password::new(password)));
            }
        }
        let mut tls_on = None;
        let mut tls = Tls::default();
        let (mut cert, mut key) = (None, None);
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(format!("has the query parameter '{pair}' without '=value'."));
            };
            if value.is_empty() {
                return Err(format!("has the query parameter '{name}' with an empty value."));
            }
            let tls_only = matches!(name, "tls" | "ca" | "cert" | "key");
            if tls_only && !takes.tls {
                return Err(format!(
                    "has '{name}=', but {scheme}:// is not reached over TLS by this client; remove it."
                ));
            }
            match name {
                "password-file" if takes.password => {
                    if access.password.is_some() {
                        return Err("has both a password and 'password-file='; give one.".into());
                    }
                    access.password = Some(Secret::File(PathBuf::from(value)));
                }
                "tls" => {
                    tls_on = Some(match value {
                        "true" | "1" | "yes" | "on" => true,
                        "false" | "0" | "no" | "off" => false,
                        other => return Err(format!("has 'tls={other}'; write tls=true or tls=false.")),
                    })
                }
                "ca" => tls.ca = Some(PathBuf::from(value)),
                "cert" => cert = Some(PathBuf::from(value)),
                "key" => key = Some(PathBuf::from(value)),
                other => {
                    return Err(format!(
                        "has the unknown query parameter '{other}'; {scheme}:// takes {}.",
                        known(takes)
                    ))
                }
            }
        }
        match (cert, key) {
            (Some(cert), Some(key)) => tls.identity = Some((cert, key)),
            (None, None) => {}
            _ => return Err("has only one of 'cert=' and 'key='; a client certificate needs both.".into()),
        }
        let implied = tls.ca.is_some() || tls.identity.is_some();
        match tls_on {
            Some(false) if implied => {
                return Err("has 'tls=false' together with TLS files; remove one or the other.".into())
            }
            Some(true) => access.tls = Some(tls),
            _ if implied => access.tls = Some(tls),
            _ => {}
        }
        Ok(access)
    }

    /// The user and password to log in with, the password read now; `None` without a password.
    pub fn login(&self) -> Result<Option<(String, Password)>> {
        match &self.password {
            Some(secret) => Ok(Some((self.user.clone().unwrap_or_default(), secret.read()?))),
            None => Ok(None),
        }
    }
}

fn known(takes: Takes) -> &'static str {
    if takes.tls {
        "'password-file', 'tls', 'ca', 'cert' and 'key'"
    } else if takes.password {
        "'password-file' only"
    } else {
        "no parameters"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Takes = Takes {
        user: true,
        password: true,
        tls: true,
    };

    #[test]
    fn passwords_never_print() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p} {p:?}"), "*** ***");
        let access = Access::parse("etcd", Some("u:hunter2"), None, ALL).unwrap();
        assert!(!format!("{access:?}").contains("hunter2"));
    }

    #[test]
    fn tls_files_imply_tls_and_a_certificate_needs_its_key() {
        let a = Access::parse("etcd", None, Some("ca=/c.pem"), ALL).unwrap();
        assert_eq!(a.tls.unwrap().ca.as_deref(), Some(Path::new("/c.pem")));
        assert!(Access::parse("etcd", None, Some("cert=/c.pem"), ALL)
            .unwrap_err()
            .contains("both"));
        assert!(Access::parse("etcd", None, Some("tls=true"), ALL)
            .unwrap()
            .tls
            .is_some());
        assert!(Access::parse("etcd", None, Some("tls=false&ca=/c"), ALL).is_err());
        assert!(Access::parse("etcd", None, Some("tls=maybe"), ALL).is_err());
    }

    #[test]
    fn what_a_scheme_does_not_take_is_refused() {
        let no_tls = Takes { tls: false, ..ALL };
        assert!(Access::parse("zk", None, Some("ca=/c"), no_tls)
            .unwrap_err()
            .contains("TLS"));
        let token_only = Takes { user: false, ..ALL };
        assert!(Access::parse("consul", Some("root:t"), None, token_only).is_err());
        assert!(Access::parse("etcd", None, Some("bogus=1"), ALL)
            .unwrap_err()
            .contains("bogus"));
        assert!(Access::parse("etcd", Some(":p"), Some("password-file=/f"), ALL).is_err());
    }

    #[test]
    fn a_password_file_is_read_when_logging_in() {
        let path = std::env::temp_dir().join(format!("vamp-kv-pw-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        let query = format!("password-file={}", path.display());
        let a = Access::parse("etcd", Some("root"), Some(&query), ALL).unwrap();
        let (user, password) = a.login().unwrap().unwrap();
        assert_eq!((user.as_str(), password.expose()), ("root", "s3cret"));
        std::fs::remove_file(&path).unwrap();
        assert!(a
            .login()
            .unwrap_err()
            .message()
            .contains(&path.display().to_string()));
    }
}
