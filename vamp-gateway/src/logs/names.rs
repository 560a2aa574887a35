//! The table from HAProxy identifiers back to names: frontend → gateway, backend → (gateway, route). The agent
//! replaces it from every applied configuration's envelope; the log pipeline reads it for every line.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::haproxy::envelope::Envelope;

#[derive(Debug, Default)]
struct Table {
    gateways: HashMap<String, Arc<str>>,
    routes: HashMap<String, (Arc<str>, Arc<str>)>,
}

/// Where a logged request belongs: its gateway and, when it went through a route backend of that gateway, the
/// route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The gateway name.
    pub gateway: Arc<str>,
    /// The route path; `None` for requests no route took (`g_<G>_none`, HAProxy's own answers).
    pub route: Option<Arc<str>>,
}

/// A shared, cheaply cloned name table. Empty until the first [`Names::update`].
#[derive(Debug, Clone, Default)]
pub struct Names {
    table: Arc<RwLock<Table>>,
}

impl Names {
    /// An empty table: every line is unknown until a configuration is applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the table with the names of `envelope` (its `#@gateway` and `#@route` lines).
    pub fn update(&self, envelope: &Envelope) {
        let gateways = envelope
            .gateways
            .iter()
            .map(|(frontend, gateway)| (frontend.clone(), Arc::from(gateway.as_str())))
            .collect();
        let routes = envelope
            .routes
            .iter()
            .map(|(backend, (gateway, route))| {
                (
                    backend.clone(),
                    (Arc::from(gateway.as_str()), Arc::from(route.as_str())),
                )
            })
            .collect();
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Table { gateways, routes };
    }

    /// The gateway and route of a line logged by `frontend` with `backend`; `None` when `frontend` serves no
    /// gateway (the stats and virtual-host frontends, or a configuration not yet known). The route is only
    /// taken when the backend belongs to the same gateway.
    pub fn resolve(&self, frontend: &str, backend: &str) -> Option<Resolved> {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let gateway = table.gateways.get(frontend)?.clone();
        let route = table
            .routes
            .get(backend)
            .filter(|(owner, _)| *owner == gateway)
            .map(|(_, route)| route.clone());
        Some(Resolved { gateway, route })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut envelope = Envelope::default();
        envelope.gateways.insert("g_1".into(), "shop/web".into());
        envelope
            .routes
            .insert("g_1_r0".into(), ("shop/web".into(), "shop/v1/web".into()));
        envelope
            .routes
            .insert("g_2_r0".into(), ("other".into(), "other/v1/web".into()));
        let names = Names::new();
        names.update(&envelope);
        names
    }

    #[test]
    fn frontend_and_backend_resolve_to_gateway_and_route() {
        let r = names().resolve("g_1", "g_1_r0").unwrap();
        assert_eq!(
            (&*r.gateway, r.route.as_deref()),
            ("shop/web", Some("shop/v1/web"))
        );
    }

    #[test]
    fn a_backend_of_no_route_or_another_gateway_gives_no_route() {
        let names = names();
        assert_eq!(names.resolve("g_1", "g_1_none").unwrap().route, None);
        assert_eq!(names.resolve("g_1", "g_2_r0").unwrap().route, None);
    }

    #[test]
    fn unknown_frontends_resolve_to_nothing() {
        assert_eq!(names().resolve("virtual_hosts", "g_1_vhost"), None);
        assert_eq!(Names::new().resolve("g_1", "g_1_r0"), None);
    }
}
