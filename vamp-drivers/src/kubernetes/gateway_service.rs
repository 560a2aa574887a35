//! The Kubernetes Service of a gateway, as the original's `DeployedGateways` made them: one Service per gateway,
//! of the configured type (NodePort or LoadBalancer), selecting the gateway-agent pods, with the gateway port as
//! port and target port, labelled with the gateway name and lookup name, so traffic from outside the cluster
//! reaches the HAProxy that serves the gateway.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use vamp_core::driver::LABEL_NAMESPACE;
use vamp_core::model::{Gateway, GatewayService};
use vamp_core::{Error, Result};

use super::config::KubernetesConfig;
use super::manifest::{LABEL_MANAGED_BY, MANAGER};
use super::naming;

/// Label marking gateway Services, with the value [`KIND_GATEWAY`] (the original's `io.vamp: gateway`).
pub const LABEL_KIND: &str = "io.vamp";
/// The value of [`LABEL_KIND`] on gateway Services.
pub const KIND_GATEWAY: &str = "gateway";
/// Label (label-safe value) and annotation (full value) carrying the gateway name.
pub const LABEL_GATEWAY: &str = "io.vamp.gateway";
/// Label carrying the gateway's lookup name.
pub const LABEL_LOOKUP_NAME: &str = "io.vamp.lookup_name";
/// The name of the one port of a gateway Service.
pub const PORT_NAME: &str = "port";

/// A gateway's Service as found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedGatewayService {
    /// The gateway's full name.
    pub gateway: String,
    /// The gateway's lookup name.
    pub lookup_name: String,
    /// The name of the Kubernetes Service ([`naming::gateway_service_name`]).
    pub name: String,
    /// Where the gateway is reachable: the load balancer's address and the gateway port once the cloud assigned
    /// one, else the cluster IP and the gateway port; `None` until the API server assigned an address.
    pub service: Option<GatewayService>,
    /// The port on every node, once assigned (NodePort and LoadBalancer Services).
    pub node_port: Option<u16>,
}

/// The labels selecting gateway Services of a Vamp namespace.
pub fn selector(namespace: &str) -> String {
    format!(
        "{LABEL_KIND}={KIND_GATEWAY},{LABEL_NAMESPACE}={}",
        naming::label_value(namespace)
    )
}

/// The Service for `gateway` of Vamp namespace `namespace`; fails with `Invalid` when the gateway has no port
/// number yet.
pub fn service(config: &KubernetesConfig, namespace: &str, gateway: &Gateway) -> Result<Service> {
    if gateway.port.number == 0 {
        return Err(Error::invalid(format!(
            "Gateway '{}' has no port number yet; a Kubernetes Service needs one. Assign the port first.",
            gateway.name
        )));
    }
    let labels = BTreeMap::from([
        (LABEL_KIND.to_string(), KIND_GATEWAY.to_string()),
        (LABEL_NAMESPACE.to_string(), naming::label_value(namespace)),
        (LABEL_GATEWAY.to_string(), naming::label_value(&gateway.name)),
        (
            LABEL_LOOKUP_NAME.to_string(),
            naming::label_value(&gateway.lookup_name()),
        ),
        (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
    ]);
    let annotations = BTreeMap::from([
        (LABEL_GATEWAY.to_string(), gateway.name.clone()),
        (LABEL_NAMESPACE.to_string(), namespace.to_string()),
    ]);
    let port = i32::from(gateway.port.number);
    Ok(Service {
        metadata: ObjectMeta {
            name: Some(naming::gateway_service_name(&gateway.name)),
            namespace: Some(naming::namespace_name(namespace)),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some(config.service_type.as_str().to_string()),
            selector: Some(BTreeMap::from([(
                config.gateway_agent_label.clone(),
                config.gateway_agent_id.clone(),
            )])),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                protocol: Some("TCP".to_string()),
                port,
                target_port: Some(IntOrString::Int(port)),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

/// What a Service of a gateway tells; `None` when it is not one Vamp made.
pub fn deployed(service: &Service) -> Option<DeployedGatewayService> {
    let gateway = service.metadata.annotations.as_ref()?.get(LABEL_GATEWAY)?.clone();
    let spec = service.spec.as_ref();
    let port = spec
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some(PORT_NAME)));
    let port_number = port.and_then(|p| u16::try_from(p.port).ok());
    let node_port = port.and_then(|p| p.node_port).and_then(|n| u16::try_from(n).ok());
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| i.first())
        .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()));
    let cluster_ip = spec
        .and_then(|s| s.cluster_ip.clone())
        .filter(|ip| !ip.is_empty() && ip != "None");
    let service_address = ingress
        .or(cluster_ip)
        .zip(port_number)
        .map(|(host, port)| GatewayService { host, port });
    Some(DeployedGatewayService {
        lookup_name: vamp_core::model::lookup::gateway_lookup(&gateway),
        name: service.metadata.name.clone().unwrap_or_default(),
        gateway,
        service: service_address,
        node_port,
    })
}
