//! Gateway planning: internal gateways per cluster port, external gateways, route targets, weights, virtual hosts and port assignment.
