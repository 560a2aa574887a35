//! `vamp-gateway-agent`: see [`vamp_gateway::agent`].

fn main() {}
