//! Gateway planning: internal gateways per cluster port, external deployment gateways, validation and weight
//! normalisation, virtual hosts, port assignment, route targets, and the plan that ties them together for the
//! gateway loop. Every function here is pure: state in, decision out.
//!
//! The flow of one gateway-loop tick is [`plan_gateways`]: deployments and stored gateways in, the sorted list of
//! gateways with ports, weights, virtual hosts and targets out, plus the diff against the previous plan.
//! The API handlers use the checks ([`check_gateway_create`], [`check_gateway_update`],
//! [`check_gateway_remove`], [`check_port_available`], [`check_unique_ports`], [`normalize_gateway`]) before a
//! gateway is stored.

pub mod external;
pub mod internal;
pub mod plan;
pub mod ports;
pub mod protections;
pub mod targets;
pub mod validate;
pub mod virtual_hosts;
pub mod weights;

pub use external::{deployment_gateway, deployment_gateway_name};
pub use internal::{
    breed_of_route, contract_canary_policy, expand_canary_policy, internal_gateway_name, internal_gateways,
    service_route_path,
};
pub use plan::{
    plan_gateways, GatewayDiff, GatewayPlan, GatewayPlanConfig, GatewayPlanInput, PlannedGateway,
};
pub use ports::{assign_ports, check_port_available, check_unique_ports, PortAllocator, PortRange};
pub use protections::{check_gateway_create, check_gateway_remove, check_gateway_update};
pub use targets::{deployable, TargetResolver};
pub use validate::{normalize_gateway, validate_gateway_name, validate_port_type, validate_route_paths};
pub use virtual_hosts::{default_virtual_hosts, merge_virtual_hosts, VirtualHostConfig, VirtualHostFormats};
pub use weights::{
    balance_for, check_condition_strengths, check_route_weights, default_balance,
    default_condition_strengths, fill_weights, has_condition,
};
