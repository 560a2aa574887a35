//! What the agent accepts from the store: values signed with the shared key ([`vamp_kv::signed`]), or — only
//! when explicitly configured — any value.

use vamp_core::kv::Key;
use vamp_core::{Error, Result};
use vamp_kv::signed::{SigningKey, HEADER_PREFIX};

/// How the agent checks the values it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Only values signed for the watched key with this key are applied.
    Verify(SigningKey),
    /// Every value is applied; a signature header, if any, is dropped unchecked. For stores only trusted
    /// writers reach (`--insecure-unsigned`).
    AcceptUnsigned,
}

impl SignatureCheck {
    /// The configuration inside `value` read from `key`: verified and without its header for
    /// [`SignatureCheck::Verify`] (fails with `Invalid` saying why the value is refused), as it is — less an
    /// unchecked header — for [`SignatureCheck::AcceptUnsigned`].
    pub fn open<'v>(&self, key: &Key, value: &'v [u8]) -> Result<&'v [u8]> {
        match self {
            SignatureCheck::Verify(signing) => signing.verify(key, value),
            SignatureCheck::AcceptUnsigned => Ok(drop_header(value)),
        }
    }

    /// The check the options ask for: the key given directly, else the key file, else accepting unsigned
    /// values when `insecure_unsigned` is set. Fails with `Invalid` when none is configured (the agent never
    /// applies unauthenticated values by default) or the key file is not usable.
    pub fn from_options(
        key: Option<&SigningKey>,
        file: Option<&std::path::Path>,
        insecure_unsigned: bool,
    ) -> Result<SignatureCheck> {
        match (key, file) {
            (Some(key), _) => Ok(SignatureCheck::Verify(key.clone())),
            (None, Some(file)) => SigningKey::from_file(file).map(SignatureCheck::Verify),
            (None, None) if insecure_unsigned => Ok(SignatureCheck::AcceptUnsigned),
            (None, None) => Err(Error::invalid(
                "The agent needs the server's signing key to authenticate the configurations it applies: give \
                 its file with --signing-key <file> (or VAMP_KV_SIGNING_KEY_FILE); the server writes it to \
                 <data-dir>/kv-signing.key. To apply unsigned values from a store only trusted writers reach, \
                 pass --insecure-unsigned.",
            )),
        }
    }
}

fn drop_header(value: &[u8]) -> &[u8] {
    if value.starts_with(HEADER_PREFIX.as_bytes()) {
        match value.iter().position(|b| *b == b'\n') {
            Some(end) => value.get(end + 1..).unwrap_or_default(),
            None => &[],
        }
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::parse("/vamp/default/gateways/haproxy/2.6/configuration").unwrap()
    }

    fn signing() -> SigningKey {
        SigningKey::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap()
    }

    #[test]
    fn a_verifying_agent_opens_signed_values_only() {
        let check = SignatureCheck::Verify(signing());
        let signed = signing().sign(&key(), b"global\n");
        assert_eq!(check.open(&key(), &signed).unwrap(), b"global\n");
        assert!(check.open(&key(), b"global\n").is_err());
    }

    #[test]
    fn an_insecure_agent_takes_anything_and_drops_headers() {
        let check = SignatureCheck::AcceptUnsigned;
        let signed = signing().sign(&key(), b"global\n");
        assert_eq!(check.open(&key(), &signed).unwrap(), b"global\n");
        assert_eq!(check.open(&key(), b"global\n").unwrap(), b"global\n");
    }

    #[test]
    fn no_key_and_no_explicit_opt_out_is_refused() {
        let e = SignatureCheck::from_options(None, None, false).unwrap_err();
        assert!(e.message().contains("--insecure-unsigned"), "{e}");
        assert_eq!(
            SignatureCheck::from_options(None, None, true).unwrap(),
            SignatureCheck::AcceptUnsigned
        );
        let missing = std::path::Path::new("/nonexistent/kv-signing.key");
        let e = SignatureCheck::from_options(None, Some(missing), true).unwrap_err();
        assert!(e.message().contains("/nonexistent/kv-signing.key"), "{e}");
    }
}
