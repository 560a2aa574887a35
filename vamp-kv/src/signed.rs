//! Authenticated values: the server signs what it writes for gateway agents with HMAC-SHA256 under a key shared
//! through a file, and agents apply only values that carry a valid signature under the same key.
//!
//! A signed value is the original bytes behind one header line:
//!
//! ```text
//! #vamp-signature v1 key=<key id> hmac-sha256=<64 hex digits>
//! <the value, byte for byte>
//! ```
//!
//! - `key id`: 16 hex digits naming the key (the start of a SHA-256 of it), so a mismatch of keys is told apart
//!   from a forged value; it reveals nothing of the key.
//! - the MAC covers `vamp-signature v1`, the store key the value is written to and the value:
//!   `HMAC-SHA256(secret, "vamp-signature v1\n" + key + "\n" + value)`. A signed value copied to another key does
//!   not verify there.
//!
//! The header starts with `#`, so a signed HAProxy configuration is still a valid one. What signing does not
//! stop: someone who can write the key can put back an older value the server signed (a rollback); the server
//! rewrites the current configuration on its next change.
//!
//! The key file holds the secret as text: at least [`MIN_SECRET_CHARS`] characters, white space at both ends
//! ignored. [`SigningKey::load_or_generate`] writes a new random one (64 hex digits, file mode 0600) where none
//! exists.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use vamp_core::kv::Key;
use vamp_core::{Error, Result};

/// What every signed value starts with.
pub const HEADER_PREFIX: &str = "#vamp-signature v1 ";

/// The shortest secret a key file may hold.
pub const MIN_SECRET_CHARS: usize = 32;

const MAC_DOMAIN: &[u8] = b"vamp-signature v1\n";

/// A shared signing key. `Debug` shows its id only.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    secret: Vec<u8>,
    id: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).finish()
    }
}

impl SigningKey {
    /// A key of `secret`; fails with `Invalid` when it is shorter than [`MIN_SECRET_CHARS`] bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<SigningKey> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_CHARS {
            return Err(Error::invalid(format!(
                "A signing key needs at least {MIN_SECRET_CHARS} characters; this one has {}.",
                secret.len()
            )));
        }
        let digest = Sha256::new()
            .chain_update(b"vamp-signature key id\n")
            .chain_update(&secret)
            .finalize();
        let id = hex(digest.get(..8).unwrap_or_default());
        Ok(SigningKey { secret, id })
    }

    /// A new random key (32 bytes from the system's random source, as 64 hex digits).
    pub fn generate() -> Result<SigningKey> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .map_err(|e| Error::backend(format!("No random bytes for a signing key: {e}")))?;
        SigningKey::new(hex(&bytes))
    }

    /// The key in the file at `path`. Fails with `Invalid` naming the file when it cannot be read or holds too
    /// short a secret.
    pub fn from_file(path: &Path) -> Result<SigningKey> {
        let text = std::fs::read(path).map_err(|e| {
            Error::invalid(format!(
                "The signing key file {} cannot be read: {e}",
                path.display()
            ))
        })?;
        SigningKey::new(text.trim_ascii().to_vec()).map_err(|e| {
            Error::invalid(format!(
                "The signing key file {} is not usable: {}",
                path.display(),
                e.message()
            ))
        })
    }

    /// The key in the file at `path`, or a new random key written there (mode 0600, created only if absent; the
    /// directory is created) when there is no file. Says which: `true` when it generated the key.
    pub fn load_or_generate(path: &Path) -> Result<(SigningKey, bool)> {
        if path.exists() {
            return SigningKey::from_file(path).map(|k| (k, false));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::backend(format!(
                    "The directory of the signing key {} cannot be created: {e}",
                    path.display()
                ))
            })?;
        }
        let key = SigningKey::generate()?;
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(path)
            .and_then(|mut f| {
                f.write_all(&key.secret)?;
                f.write_all(b"\n")
            });
        match written {
            Ok(()) => Ok((key, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                SigningKey::from_file(path).map(|k| (k, false))
            }
            Err(e) => Err(Error::backend(format!(
                "The signing key {} cannot be written: {e}",
                path.display()
            ))),
        }
    }

    /// The key's id: 16 hex digits, safe to log.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, key: &Key, value: &[u8]) -> Hmac<Sha256> {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(MAC_DOMAIN);
        mac.update(key.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(value);
        mac
    }

    /// `value` as signed for `key`: the header line, then `value`.
    pub fn sign(&self, key: &Key, value: &[u8]) -> Vec<u8> {
        let tag = hex(&self.mac(key, value).finalize().into_bytes());
        let header = format!("{HEADER_PREFIX}key={} hmac-sha256={tag}\n", self.id);
        let mut out = Vec::with_capacity(header.len() + value.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(value);
        out
    }

    /// The value inside `signed`, when it is signed for `key` with this key. Fails with `Invalid` saying why
    /// otherwise: no signature, a malformed header, another key's id, or a MAC that does not match (the tag is
    /// compared in constant time).
    pub fn verify<'v>(&self, key: &Key, signed: &'v [u8]) -> Result<&'v [u8]> {
        let refuse = |why: String| Error::invalid(format!("The value at '{key}' {why}"));
        let Some(rest) = signed.strip_prefix(HEADER_PREFIX.as_bytes()) else {
            return Err(refuse(
                "is not signed; only values signed with the shared signing key are accepted.".into(),
            ));
        };
        let newline = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| refuse("has a signature header without an end of line.".into()))?;
        let (header, value) = rest.split_at(newline);
        let value = value.get(1..).unwrap_or_default();
        let header = std::str::from_utf8(header)
            .map_err(|_| refuse("has a signature header that is not text.".into()))?;
        let mut id = None;
        let mut tag = None;
        for field in header.split(' ') {
            match field.split_once('=') {
                Some(("key", v)) if id.is_none() => id = Some(v),
                Some(("hmac-sha256", v)) if tag.is_none() => tag = Some(v),
                _ => {
                    return Err(refuse(format!(
                        "has a malformed signature header (unexpected '{}').",
                        field.escape_debug()
                    )))
                }
            }
        }
        let (Some(id), Some(tag)) = (id, tag) else {
            return Err(refuse(
                "has a signature header without 'key=' and 'hmac-sha256='.".into(),
            ));
        };
        if id != self.id {
            return Err(refuse(format!(
                "is signed with the key '{}', not with this agent's key '{}'; give both the same key file.",
                id.escape_debug(),
                self.id
            )));
        }
        let tag = unhex(tag).ok_or_else(|| refuse("has a signature that is not 64 hex digits.".into()))?;
        self.mac(key, value)
            .verify_slice(&tag)
            .map_err(|_| refuse("carries a signature that does not match it (forged or altered).".into()))?;
        Ok(value)
    }
}

/// Whether `value` starts with a signature header (valid or not).
pub fn is_signed(value: &[u8]) -> bool {
    value.starts_with(HEADER_PREFIX.as_bytes())
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::ErrorKind;

    fn key(secret: &str) -> SigningKey {
        SigningKey::new(secret.as_bytes().to_vec()).unwrap()
    }

    fn at(path: &str) -> Key {
        Key::parse(path).unwrap()
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn a_signed_value_verifies_to_itself() {
        let k = key(A);
        let signed = k.sign(&at("/vamp/c"), b"global\n  daemon\n");
        assert!(is_signed(&signed));
        assert_eq!(k.verify(&at("/vamp/c"), &signed).unwrap(), b"global\n  daemon\n");
        assert_eq!(
            k.verify(&at("/vamp/c"), &k.sign(&at("/vamp/c"), b"")).unwrap(),
            b""
        );
    }

    #[test]
    fn unsigned_values_are_refused() {
        let e = key(A).verify(&at("/vamp/c"), b"global\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(e.message().contains("not signed"), "{e}");
    }

    #[test]
    fn another_key_is_named_and_refused() {
        let signed = key(B).sign(&at("/vamp/c"), b"x");
        let e = key(A).verify(&at("/vamp/c"), &signed).unwrap_err();
        assert!(e.message().contains(key(B).id()), "{e}");
    }

    #[test]
    fn a_forged_id_with_a_wrong_mac_is_refused() {
        let mut forged = key(B).sign(&at("/vamp/c"), b"x");
        let real = key(A);
        let text = String::from_utf8(forged.clone()).unwrap();
        let id_b = key(B).id().to_string();
        forged = text.replace(&id_b, real.id()).into_bytes();
        let e = real.verify(&at("/vamp/c"), &forged).unwrap_err();
        assert!(e.message().contains("does not match"), "{e}");
    }

    #[test]
    fn an_altered_value_or_another_store_key_is_refused() {
        let k = key(A);
        let mut signed = k.sign(&at("/vamp/c"), b"backend a\n");
        assert!(k.verify(&at("/vamp/other"), &signed).is_err());
        if let Some(last) = signed.last_mut() {
            *last = b' ';
        }
        assert!(k.verify(&at("/vamp/c"), &signed).is_err());
    }

    #[test]
    fn malformed_headers_are_refused_with_the_reason() {
        let k = key(A);
        for (value, why) in [
            (format!("{HEADER_PREFIX}key={}", k.id()), "end of line"),
            (
                format!("{HEADER_PREFIX}key={} hmac-sha256=zz\nx", k.id()),
                "64 hex",
            ),
            (format!("{HEADER_PREFIX}key={} extra=1\nx", k.id()), "malformed"),
            (format!("{HEADER_PREFIX}key={}\nx", k.id()), "without"),
        ] {
            let e = k.verify(&at("/vamp/c"), value.as_bytes()).unwrap_err();
            assert!(e.message().contains(why), "{value}: {e}");
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(SigningKey::new(b"short".to_vec()).is_err());
        let shown = format!("{:?}", key(A));
        assert!(!shown.contains(A), "{shown}");
    }

    #[test]
    fn keys_are_generated_once_with_owner_only_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("vamp-signed-{}", std::process::id()));
        let path = dir.join("sub/kv-signing.key");
        let (first, generated) = SigningKey::load_or_generate(&path).unwrap();
        assert!(generated);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, generated) = SigningKey::load_or_generate(&path).unwrap();
        assert!(!generated);
        assert_eq!(first, again);
        std::fs::write(&path, "too short\n").unwrap();
        let e = SigningKey::from_file(&path).unwrap_err();
        assert!(e.message().contains(&path.display().to_string()), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
