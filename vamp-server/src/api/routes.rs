//! The route table: every path and method the API serves, registered in one place so that the OpenAPI document
//! can be checked against it ([`route_table`]).

use axum::routing::{get, post, MethodRouter};
use axum::Router;
use vamp_core::model::Kind;

use super::state::ApiState;
use super::{artifacts, deployments, documents, events, openapi, pulse, system, vga, workflows};

/// The router under construction and the `(method, path)` pairs it serves.
pub(crate) struct Routes {
    pub(crate) router: Router<ApiState>,
    pub(crate) table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(mut self, path: &'static str, methods: &[&'static str], handler: MethodRouter<ApiState>) -> Self {
        for m in methods {
            self.table.push((m, path));
        }
        self.router = self.router.route(path, handler);
        self
    }
}

/// Every route of the API.
pub(crate) fn routes() -> Routes {
    let routes = Routes {
        router: Router::new(),
        table: Vec::new(),
    };
    routes
        .add(
            "/api/v1",
            &["POST", "PUT", "DELETE"],
            post(documents::apply)
                .put(documents::apply)
                .delete(documents::apply),
        )
        .add("/api/v1/openapi.json", &["GET"], get(openapi::document))
        .add("/api/v1/health", &["GET"], get(system::health))
        .add("/api/v1/info", &["GET"], get(system::info))
        .add("/api/v1/information", &["GET"], get(system::info))
        .add("/api/v1/config", &["GET"], get(system::config))
        .add("/api/v1/configuration", &["GET"], get(system::config))
        .add("/api/v1/metrics", &["GET"], get(system::metrics))
        .add(
            "/api/v1/metrics/gateways/{*path}",
            &["GET"],
            get(pulse::gateway_metric),
        )
        .add(
            "/api/v1/metrics/deployments/{*path}",
            &["GET"],
            get(pulse::deployment_metric),
        )
        .add(
            "/api/v1/health/gateways/{*path}",
            &["GET"],
            get(pulse::gateway_health),
        )
        .add(
            "/api/v1/health/deployments/{*path}",
            &["GET"],
            get(pulse::deployment_health),
        )
        .add(
            "/api/v1/events",
            &["GET", "POST"],
            get(events::query).post(events::publish),
        )
        .add("/api/v1/events/stream", &["GET"], get(events::stream))
        .add(
            "/api/v1/deployments",
            &["GET", "POST"],
            get(deployments::list).post(deployments::create),
        )
        .add(
            "/api/v1/deployments/{name}",
            &["GET", "PUT", "DELETE"],
            get(deployments::get)
                .put(deployments::update)
                .delete(deployments::delete),
        )
        .add(
            "/api/v1/deployments/{deployment}/clusters/{cluster}/sla",
            &["GET", "PUT", "POST", "DELETE"],
            get(deployments::get_sla)
                .put(deployments::set_sla)
                .post(deployments::set_sla)
                .delete(deployments::delete_sla),
        )
        .add(
            "/api/v1/deployments/{deployment}/clusters/{cluster}/services/{service}/scale",
            &["GET", "PUT", "POST"],
            get(deployments::get_scale)
                .put(deployments::set_scale)
                .post(deployments::set_scale),
        )
        .add(
            "/api/v1/gateways/{*name}",
            &["GET", "PUT", "DELETE"],
            artifacts::named(Kind::Gateway),
        )
        .add(
            "/api/v1/workflows/{name}",
            &["GET", "PUT", "DELETE"],
            artifacts::named(Kind::Workflow),
        )
        .add(
            "/api/v1/workflows/{name}/status",
            &["GET", "PUT"],
            get(workflows::get_status).put(workflows::set_status),
        )
        .add(
            "/api/v1/workflows/{name}/executions",
            &["GET"],
            get(workflows::executions),
        )
        .add("/api/v1/workflows/{name}/logs", &["GET"], get(workflows::logs))
        .add(
            "/api/v1/docker-compose",
            &["POST"],
            post(artifacts::docker_compose),
        )
        .add(
            "/api/v1/vga/{type}/{name}/configuration",
            &["GET"],
            get(vga::configuration),
        )
        .add(
            "/api/v1/vga/{type}/{name}/config",
            &["GET"],
            get(vga::configuration),
        )
        .add(
            "/api/v1/vga/{type}/{name}/template",
            &["GET", "PUT", "POST", "DELETE"],
            get(vga::template)
                .put(vga::set_template)
                .post(vga::set_template)
                .delete(vga::reset_template),
        )
        .add(
            "/api/v1/{kind}",
            &["GET", "POST"],
            get(artifacts::list).post(artifacts::create),
        )
        .add(
            "/api/v1/{kind}/{name}",
            &["GET", "PUT", "DELETE"],
            get(artifacts::get)
                .put(artifacts::update)
                .delete(artifacts::delete),
        )
}

/// Every `(method, path)` the router serves, paths in OpenAPI form (`{*name}` written `{name}`), sorted.
pub fn route_table() -> Vec<(String, String)> {
    let mut table: Vec<(String, String)> = routes()
        .table
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.replace("{*", "{")))
        .collect();
    table.sort();
    table
}
