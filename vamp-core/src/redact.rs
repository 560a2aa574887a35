//! Redaction of secrets in text that is logged or returned in an error: the password of a URL's user
//! information (`postgres://vamp:secret@db/vamp` → `postgres://vamp:***@db/vamp`) and the values of query
//! parameters that carry credentials (`password`, `token`, `secret`, `key` and names containing them).

/// The text that replaces a secret.
pub const MASK: &str = "***";

/// `text` (a URL, or any text containing URLs) with the passwords of user information and the values of
/// credential-carrying query parameters replaced by [`MASK`].
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',' || c == '>')
            .unwrap_or(after.len());
        out.push_str(&redact_one(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One URL without its scheme: `user:password@host/path?query`.
fn redact_one(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, tail) = url.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:{MASK}{host}"),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let Some(q) = tail.find('?') else {
        return format!("{authority}{tail}");
    };
    let (path, query) = tail.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={MASK}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{authority}{path}{}{fragment}", query.join("&"))
}

/// Whether a parameter named `name` carries a credential.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "token", "secret", "key", "auth"]
        .iter()
        .any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_credential_parameters_are_masked() {
        assert_eq!(
            url("postgres://vamp:s3cret@db:5432/vamp"),
            "postgres://vamp:***@db:5432/vamp"
        );
        assert_eq!(
            url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(url("etcd://user@h:2379"), "etcd://user@h:2379");
        assert_eq!(
            url("consul://h:8500?token=abc&dc=x#f"),
            "consul://h:8500?token=***&dc=x#f"
        );
        assert_eq!(
            url("sqlite://./vamp-data/vamp.db"),
            "sqlite://./vamp-data/vamp.db"
        );
        assert_eq!(
            url("cannot connect to postgres://a:b@h/db: refused"),
            "cannot connect to postgres://a:***@h/db: refused"
        );
        assert_eq!(url("no url here"), "no url here");
        assert_eq!(url("x://a:b@c, y://d:e@f"), "x://a:***@c, y://d:***@f");
    }
}
