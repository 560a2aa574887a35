//! The `GatewayMarshaller` trait: renders gateways into a proxy configuration.
//!
//! A marshaller turns the complete set of gateways of a namespace into one text (an HAProxy configuration, or
//! the canonical JSON of [`crate::memory::JsonMarshaller`]) and names the key-value key it is published under,
//! which is where the gateway agents of that namespace watch for it.

use crate::kv::Key;
use crate::model::Gateway;
use crate::Result;

/// Which proxy configuration a marshaller writes: its `kind` (`haproxy`) and the `version` of the format
/// (`2.6`). Both become segments of the key the output is written under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarshallerInfo {
    /// The proxy the output is for: `haproxy`, `json`, ….
    pub kind: String,
    /// The version of the output format.
    pub version: String,
}

/// Renders gateways into a proxy configuration. Held as `Arc<dyn GatewayMarshaller>`; rendering is pure CPU work,
/// so the trait is synchronous.
pub trait GatewayMarshaller: Send + Sync {
    /// The kind and version of the output.
    fn info(&self) -> MarshallerInfo;

    /// The configuration for exactly these gateways.
    ///
    /// Pure and deterministic: the same set of gateways gives the same bytes, whatever the order of the slice,
    /// so the caller can skip writing an unchanged configuration by comparing texts. Fails with
    /// [`crate::ErrorKind::Invalid`] when two gateways share a name or a gateway cannot be expressed in this
    /// format (naming the gateway), never with a partial output.
    fn render(&self, gateways: &[Gateway]) -> Result<String>;

    /// Where the output is written for `namespace`: [`crate::kv::gateway_configuration_key`] of this
    /// marshaller's kind and version. Fails with `Invalid` when `namespace` is not a valid key segment.
    fn key(&self, namespace: &str) -> Result<Key>;
}

/// The order gateways are rendered in: fewer name segments first, then by name, as the original flushed them
/// (vamp-behaviour.md §4.4). Marshallers sort with it so their output does not depend on the input order.
pub fn render_order(a: &Gateway, b: &Gateway) -> std::cmp::Ordering {
    let segments = |g: &Gateway| g.name.split('/').count();
    segments(a).cmp(&segments(b)).then_with(|| a.name.cmp(&b.name))
}
