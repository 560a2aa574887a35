//! `HaproxyMarshaller`: the [`GatewayMarshaller`] that writes HAProxy 2.6 configurations.

use std::sync::Arc;

use handlebars::Handlebars;
use vamp_core::gateway::{GatewayMarshaller, MarshallerInfo};
use vamp_core::kv::{gateway_configuration_key, Key};
use vamp_core::model::Gateway;
use vamp_core::{Error, Result};

use super::envelope::Envelope;
use super::model::build;
use super::HaproxyOptions;

/// The marshaller kind.
pub const HAPROXY_KIND: &str = "haproxy";
/// The configuration format version.
pub const HAPROXY_VERSION: &str = "2.6";
/// The bundled template.
pub const BUNDLED_TEMPLATE: &str = include_str!("../../templates/haproxy-2.6.hbs");

const TEMPLATE_NAME: &str = "haproxy";

/// Renders gateways into an [`Envelope`] text: the HAProxy configuration, then the map files and names the
/// agent needs. Deterministic and independent of the input order.
///
/// The template sees the [`super::model::TemplateModel`]; HTML escaping is off (the model is escaped for HAProxy
/// already). A user template is bounded by [`super::user_template`] and what it renders must pass
/// [`super::config_policy`] (the bundled one needs neither: it is rendered by Rust).
#[derive(Debug, Clone)]
pub struct HaproxyMarshaller {
    registry: Arc<Handlebars<'static>>,
    /// Whether the template is the bundled one, rendered by [`super::bundled`] instead of handlebars.
    bundled: bool,
    options: HaproxyOptions,
}

impl HaproxyMarshaller {
    /// The marshaller with the bundled template and default options.
    pub fn new() -> Self {
        // The bundled template is compiled by the test suite; should it ever fail, the registry stays empty and
        // every render reports it.
        Self::with_template(BUNDLED_TEMPLATE).unwrap_or_else(|e| {
            tracing::error!("the bundled HAProxy template does not compile: {e}");
            HaproxyMarshaller {
                registry: Arc::new(registry()),
                bundled: false,
                options: HaproxyOptions::default(),
            }
        })
    }

    /// The marshaller with a user template and default options. Fails with `Invalid` (line, column, what is
    /// wrong) when the template does not compile or goes beyond [`super::user_template`]'s allow-list and the
    /// default [`super::options::TemplateLimits`]. Every configuration it renders is checked by
    /// [`super::config_policy`]; whether HAProxy accepts it is [`super::check_template`]'s business.
    pub fn with_template(template: &str) -> Result<Self> {
        let bundled = template == BUNDLED_TEMPLATE;
        let options = HaproxyOptions::default();
        let mut registry = registry();
        if bundled {
            registry
                .register_template_string(TEMPLATE_NAME, template)
                .map_err(|e| {
                    Error::invalid(format!("The HAProxy template does not compile: {e}")).with_source(e)
                })?;
        } else {
            let compiled = super::user_template::compile(template, &options.template_limits)?;
            registry.register_template(TEMPLATE_NAME, compiled);
        }
        Ok(HaproxyMarshaller {
            registry: Arc::new(registry),
            bundled,
            options,
        })
    }

    /// The same marshaller with `options`.
    pub fn with_options(mut self, options: HaproxyOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    pub fn options(&self) -> &HaproxyOptions {
        &self.options
    }

    /// The envelope for `gateways`: configuration, map files and names. `Invalid` when a gateway cannot be
    /// written (see [`super::model::build`]) or a user template's output is refused.
    pub fn envelope(&self, gateways: &[Gateway]) -> Result<Envelope> {
        let built = build(gateways, &self.options)?;
        let config = if self.bundled {
            super::bundled::render(&built.model)
        } else {
            let config = super::user_template::render(
                &self.registry,
                TEMPLATE_NAME,
                &built.model,
                &self.options.template_limits,
            )?;
            super::config_policy::check(&config, &built.maps)?;
            config
        };
        Ok(Envelope {
            config,
            maps: built.maps,
            gateways: built.gateways,
            routes: built.routes,
        })
    }
}

impl Default for HaproxyMarshaller {
    fn default() -> Self {
        Self::new()
    }
}

fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.register_escape_fn(handlebars::no_escape);
    registry
}

impl GatewayMarshaller for HaproxyMarshaller {
    fn info(&self) -> MarshallerInfo {
        MarshallerInfo {
            kind: HAPROXY_KIND.to_string(),
            version: HAPROXY_VERSION.to_string(),
        }
    }

    fn render(&self, gateways: &[Gateway]) -> Result<String> {
        self.envelope(gateways)?.to_text()
    }

    fn key(&self, namespace: &str) -> Result<Key> {
        gateway_configuration_key(namespace, HAPROXY_KIND, HAPROXY_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_template_compiles() {
        assert!(HaproxyMarshaller::with_template(BUNDLED_TEMPLATE).is_ok());
    }

    #[test]
    fn a_template_that_does_not_compile_is_invalid() {
        let e = HaproxyMarshaller::with_template("{{#each gateways}} no end").unwrap_err();
        assert_eq!(e.kind(), vamp_core::ErrorKind::Invalid);
        assert!(e.message().contains("does not compile"), "{}", e.message());
    }

    #[test]
    fn no_gateway_renders_global_defaults_and_stats() {
        let text = HaproxyMarshaller::new().render(&[]).unwrap();
        assert!(
            text.contains("\nglobal\n") && text.contains("listen vamp_stats"),
            "{text}"
        );
        assert!(!text.contains("frontend"), "{text}");
    }
}
