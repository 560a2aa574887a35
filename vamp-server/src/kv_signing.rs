//! What the server writes to the key-value store for others to act on — the gateway configuration agents
//! apply, the stored gateway template it renders with — is signed with the shared key
//! ([`vamp_kv::signed`]), and what it reads back is verified, so a value written by anyone else is refused.
//! Without a key (a `Vamp` built without [`crate::vamp::VampBuilder::kv_signing_key`]) values are written
//! and read as they are.

use vamp_core::kv::Key;
use vamp_core::Result;

use crate::vamp::Vamp;

impl Vamp {
    /// `value` as it is written at `key`: signed when the server has a signing key.
    pub(crate) fn seal(&self, key: &Key, value: &[u8]) -> Vec<u8> {
        match &self.inner.kv_signing {
            Some(signing) => signing.sign(key, value),
            None => value.to_vec(),
        }
    }

    /// The value inside `stored`, read at `key`: verified and without its signature header when the server
    /// has a signing key (`Invalid` saying why when it does not verify), as it is otherwise.
    pub(crate) fn unseal(&self, key: &Key, stored: Vec<u8>) -> Result<Vec<u8>> {
        match &self.inner.kv_signing {
            Some(signing) => signing.verify(key, &stored).map(<[u8]>::to_vec),
            None => Ok(stored),
        }
    }
}
