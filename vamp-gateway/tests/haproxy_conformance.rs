//! The vamp-core marshaller conformance suite against the HAProxy marshaller.

use std::sync::Arc;

use vamp_gateway::haproxy::HaproxyMarshaller;

vamp_core::marshaller_conformance!(marshaller_haproxy, || async {
    Arc::new(HaproxyMarshaller::new())
});
