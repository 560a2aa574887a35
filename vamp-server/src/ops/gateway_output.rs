//! The gateway output (`/vga/{type}/{name}/configuration|template`): the configuration the gateway loop wrote
//! to the KV store, and the template an operator may store to replace the marshaller's bundled one.

use vamp_core::kv::{gateway_configuration_key, gateway_template_key};
use vamp_core::{Error, Result};
use vamp_gateway::haproxy::{check_template, BUNDLED_TEMPLATE, HAPROXY_KIND};

use crate::vamp::Vamp;

fn text(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::backend(format!("The stored {what} is not UTF-8 text.")))
}

impl Vamp {
    /// The configuration last written for marshaller `kind` (e.g. `haproxy`) and `version` (e.g. `2.6`);
    /// `None` before the gateway loop wrote one. `Invalid` when `kind` or `version` is not a key segment.
    pub async fn gateway_configuration(&self, kind: &str, version: &str) -> Result<Option<String>> {
        let key = gateway_configuration_key(self.namespace(), kind, version)?;
        match self.inner.kv.get(&key).await? {
            Some(v) => v
                .value
                .map(|b| text(self.unseal(&key, b)?, "gateway configuration"))
                .transpose(),
            None => Ok(None),
        }
    }

    /// The template in use for `kind`/`version`: the stored one, else the bundled template when `kind` and
    /// `version` are those of the configured HAProxy marshaller; `None` otherwise.
    pub async fn gateway_template(&self, kind: &str, version: &str) -> Result<Option<String>> {
        let key = gateway_template_key(self.namespace(), kind, version)?;
        if let Some(v) = self.inner.kv.get(&key).await? {
            if let Some(bytes) = v.value.filter(|b| !b.is_empty()) {
                return Ok(Some(text(self.unseal(&key, bytes)?, "gateway template")?));
            }
        }
        let info = self.inner.marshaller.info();
        Ok(
            (info.kind == kind && info.version == version && kind == HAPROXY_KIND)
                .then(|| BUNDLED_TEMPLATE.to_string()),
        )
    }

    /// Stores a template for the configured HAProxy marshaller; the gateway loop renders with it from its next
    /// pass. Refused with `Invalid` unless it compiles, renders every feature and passes `haproxy -c` with the
    /// configured binary (`Unavailable` when HAProxy cannot be run); `Unsupported` for another marshaller.
    pub async fn set_gateway_template(&self, kind: &str, version: &str, template: &str) -> Result<()> {
        self.check_template_target(kind, version)?;
        let key = gateway_template_key(self.namespace(), kind, version)?;
        let haproxy = self.settings().agent.haproxy.clone();
        let owned = template.to_string();
        tokio::task::spawn_blocking(move || check_template(&owned, &haproxy))
            .await
            .map_err(|e| Error::backend(format!("The template check did not finish: {e}")))??;
        self.inner
            .kv
            .set(&key, self.seal(&key, template.as_bytes()))
            .await?;
        self.wake_gateways();
        Ok(())
    }

    /// Removes the stored template, so the bundled one is used again; says whether one was stored.
    pub async fn reset_gateway_template(&self, kind: &str, version: &str) -> Result<bool> {
        self.check_template_target(kind, version)?;
        let key = gateway_template_key(self.namespace(), kind, version)?;
        let existed = self.inner.kv.delete(&key).await?;
        self.wake_gateways();
        Ok(existed)
    }

    fn check_template_target(&self, kind: &str, version: &str) -> Result<()> {
        let info = self.inner.marshaller.info();
        if info.kind != kind || info.version != version || kind != HAPROXY_KIND {
            return Err(Error::unsupported(format!(
                "Templates can be set for the configured marshaller only ({}/{}), and only for HAProxy; not for {kind}/{version}.",
                info.kind, info.version
            )));
        }
        Ok(())
    }
}
