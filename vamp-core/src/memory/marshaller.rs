//! `JsonMarshaller`: renders gateways as canonical JSON, the reference marshaller.

use std::collections::BTreeSet;

use crate::gateway::{render_order, GatewayMarshaller, MarshallerInfo};
use crate::kv::{gateway_configuration_key, Key};
use crate::model::Gateway;
use crate::{Error, Result};

/// The marshaller kind of [`JsonMarshaller`].
pub const JSON_MARSHALLER_KIND: &str = "json";
/// The output format version of [`JsonMarshaller`].
pub const JSON_MARSHALLER_VERSION: &str = "1";

/// Renders gateways as a pretty-printed JSON array in render order ([`render_order`]), each gateway in its
/// canonical DSL form, ending with a newline. What tests and tools that want the routing without HAProxy read.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonMarshaller;

impl JsonMarshaller {
    /// The marshaller.
    pub fn new() -> Self {
        JsonMarshaller
    }
}

impl GatewayMarshaller for JsonMarshaller {
    fn info(&self) -> MarshallerInfo {
        MarshallerInfo {
            kind: JSON_MARSHALLER_KIND.to_string(),
            version: JSON_MARSHALLER_VERSION.to_string(),
        }
    }

    fn render(&self, gateways: &[Gateway]) -> Result<String> {
        let mut names = BTreeSet::new();
        if let Some(duplicate) = gateways.iter().find(|g| !names.insert(g.name.as_str())) {
            return Err(Error::invalid(format!(
                "The gateway '{}' is given twice; render each gateway once.",
                duplicate.name
            )));
        }
        let mut ordered: Vec<&Gateway> = gateways.iter().collect();
        ordered.sort_by(|a, b| render_order(a, b));
        let mut text = serde_json::to_string_pretty(&ordered).map_err(|e| {
            Error::backend(format!("Gateways could not be written as JSON: {e}")).with_source(e)
        })?;
        text.push('\n');
        Ok(text)
    }

    fn key(&self, namespace: &str) -> Result<Key> {
        gateway_configuration_key(namespace, JSON_MARSHALLER_KIND, JSON_MARSHALLER_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GatewayPort;

    fn gateway(name: &str, port: u16) -> Gateway {
        Gateway::new(
            name,
            GatewayPort {
                number: port,
                ..Default::default()
            },
        )
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let m = JsonMarshaller::new();
        let a = [
            gateway("shop/web/port", 1),
            gateway("shop/port", 2),
            gateway("edge", 3),
        ];
        let b = [
            gateway("edge", 3),
            gateway("shop/web/port", 1),
            gateway("shop/port", 2),
        ];
        assert_eq!(m.render(&a).unwrap(), m.render(&b).unwrap());
    }

    #[test]
    fn gateways_with_fewer_segments_come_first() {
        let text = JsonMarshaller::new()
            .render(&[gateway("shop/web/port", 1), gateway("zeta", 2)])
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[0]["name"], "zeta");
        assert_eq!(value[1]["name"], "shop/web/port");
    }

    #[test]
    fn a_duplicate_gateway_is_invalid() {
        let err = JsonMarshaller::new()
            .render(&[gateway("edge", 1), gateway("edge", 2)])
            .unwrap_err();
        assert!(err.message().contains("'edge'"));
    }

    #[test]
    fn the_output_is_written_under_the_json_key() {
        assert_eq!(
            JsonMarshaller::new().key("default").unwrap().as_str(),
            "/vamp/default/gateways/json/1/configuration"
        );
    }
}
