//! The gateway loop (§4.4): deployments + stored gateways → `ops::gateways::plan_gateways` (ports kept from
//! the previous plan) → the marshaller (the operator's stored template when there is one) → `kv.set` only when
//! the configuration changed; `gateways:<name>` + `deployed`/`undeployed` events for the plan's diff.
//!
//! An internal gateway that stops being deployable because a service was added to its cluster (its route has
//! no instances yet) keeps being served in its last deployable form until the new service runs, so a canary
//! merge does not interrupt the cluster's traffic.
//!
//! The assigned ports are what services reach each other by (`$cluster.ports.port`), so they must survive a
//! restart even with a memory KV store: every change of the port map is published as a `gateway-ports` event
//! (tag `vamp:gateway-ports`) in the durable event store, and the first pass after a start plans from it.

use std::collections::{BTreeMap, HashMap};

use tokio::sync::watch;
use vamp_core::gateway::GatewayMarshaller;
use vamp_core::kv::gateway_template_key;
use vamp_core::model::{Event, EventQuery, Gateway, GatewayPort};
use vamp_core::ops::gateways::PlannedGateway;
use vamp_core::store::Page;
use vamp_core::Result;
use vamp_gateway::haproxy::{HaproxyMarshaller, HAPROXY_KIND};

use super::{delay, next_pass};
use crate::vamp::Vamp;

/// The tag of the events that record the gateway port map.
pub(crate) const PORTS_TAG: &str = "vamp:gateway-ports";

#[derive(Default)]
struct State {
    restored: bool,
    written: Option<String>,
    ports: BTreeMap<String, u16>,
    held_back: Vec<String>,
    /// The last deployable version of each internal gateway, served while a new service of its cluster has no
    /// instances yet (a merged canary), so the cluster's traffic never stops during a rollout.
    last_deployable: HashMap<String, Gateway>,
}

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let mut state = State::default();
    loop {
        let busy = match pass(&vamp, &mut state).await {
            Ok(busy) => busy,
            Err(e) => {
                tracing::warn!(error = %e, "gateway synchronisation failed; retrying");
                true
            }
        };
        if !next_pass(&vamp.inner.wake.gateways, delay(&vamp, busy), &mut stop).await {
            return;
        }
    }
}

/// The previous plan as far as the recorded port map tells it.
async fn restore(vamp: &Vamp, state: &mut State) -> Result<()> {
    let latest = vamp
        .inner
        .events
        .query(&EventQuery::tags([PORTS_TAG]), Page::first(1))
        .await?;
    let Some(event) = latest.items.into_iter().next() else {
        return Ok(());
    };
    let ports: BTreeMap<String, u16> = match serde_json::from_value(event.value) {
        Ok(ports) => ports,
        Err(e) => {
            tracing::error!(error = %e, "the stored gateway ports cannot be read; ports are assigned afresh");
            return Ok(());
        }
    };
    let previous: Vec<PlannedGateway> = ports
        .iter()
        .map(|(name, port)| PlannedGateway {
            gateway: Gateway::new(
                name.as_str(),
                GatewayPort {
                    number: *port,
                    ..GatewayPort::default()
                },
            ),
            internal: name.split('/').count() == 3,
            deployable: false,
        })
        .collect();
    if let Ok(mut plan) = vamp.inner.gateway_plan.write() {
        if plan.is_empty() {
            *plan = previous;
        }
    }
    state.ports = ports;
    Ok(())
}

async fn marshaller(vamp: &Vamp) -> Result<Option<HaproxyMarshaller>> {
    let info = vamp.inner.marshaller.info();
    if info.kind != HAPROXY_KIND {
        return Ok(None);
    }
    let key = gateway_template_key(vamp.namespace(), &info.kind, &info.version)?;
    match vamp.inner.kv.get(&key).await?.and_then(|v| v.value) {
        Some(bytes) if !bytes.is_empty() => {
            let bytes = vamp.unseal(&key, bytes)?;
            let text = String::from_utf8_lossy(&bytes);
            let options = vamp.settings().gateways.haproxy_options();
            Ok(Some(
                HaproxyMarshaller::with_template(&text)?.with_options(options),
            ))
        }
        _ => Ok(None),
    }
}

/// One pass; `Ok(true)` while some planned gateway is not yet deployable (its services are starting).
async fn pass(vamp: &Vamp, state: &mut State) -> Result<bool> {
    if !state.restored {
        restore(vamp, state).await?;
        state.restored = true;
    }
    let plan = vamp.current_plan().await?;
    let held_back: Vec<String> = plan.held_back.iter().map(|e| e.to_string()).collect();
    if held_back != state.held_back {
        for message in &held_back {
            tracing::warn!(message, "a gateway is held back");
        }
        state.held_back = held_back;
    }
    let mut deployable = Vec::with_capacity(plan.gateways.len());
    let mut last_deployable = HashMap::new();
    for planned in &plan.gateways {
        let name = &planned.gateway.name;
        let served = if planned.deployable {
            Some(planned.gateway.clone())
        } else if planned.internal {
            state.last_deployable.remove(name)
        } else {
            None
        };
        if let Some(gateway) = served {
            if planned.internal {
                last_deployable.insert(name.clone(), gateway.clone());
            }
            deployable.push(gateway);
        }
    }
    state.last_deployable = last_deployable;
    let custom = marshaller(vamp).await?;
    let marshaller: &dyn GatewayMarshaller = match &custom {
        Some(m) => m,
        None => vamp.inner.marshaller.as_ref(),
    };
    let (rendered, deployable) = render_all_it_can(marshaller, deployable)?;
    let key = vamp.inner.marshaller.key(vamp.namespace())?;
    if state.written.is_none() {
        state.written = vamp
            .inner
            .kv
            .get(&key)
            .await?
            .and_then(|v| v.value)
            .and_then(|b| vamp.unseal(&key, b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
    }
    if state.written.as_deref() != Some(rendered.as_str()) {
        vamp.inner
            .kv
            .set(&key, vamp.seal(&key, rendered.as_bytes()))
            .await?;
        tracing::info!(gateways = deployable.len(), %key, "gateway configuration written");
        state.written = Some(rendered);
    }
    for [name, what] in plan.diff.event_tags() {
        let event = Event::new([name, what], serde_json::Value::Null).with_type("gateway");
        if let Err(e) = vamp.inner.events.publish(event).await {
            tracing::warn!(error = %e, "the gateway event could not be published");
        }
    }
    let ports: BTreeMap<String, u16> = plan
        .gateways
        .iter()
        .filter(|p| p.gateway.port.number != 0)
        .map(|p| (p.gateway.name.clone(), p.gateway.port.number))
        .collect();
    let busy = plan.gateways.iter().any(|p| !p.deployable);
    if let Ok(mut previous) = vamp.inner.gateway_plan.write() {
        *previous = plan.gateways;
    }
    if ports != state.ports {
        let value = serde_json::to_value(&ports).unwrap_or_default();
        let event = Event::new([PORTS_TAG.to_string()], value).with_type("gateway-ports");
        vamp.inner.events.publish(event).await?;
        state.ports = ports;
        vamp.wake_deployments_only();
    }
    Ok(busy)
}

/// Renders `gateways`; when that fails, renders each alone, leaves out (and logs) those the marshaller refuses,
/// and renders the rest, so one gateway that cannot be expressed does not stop every other from updating.
/// Fails only when the gateways render alone but not together (e.g. two share a port).
fn render_all_it_can(
    marshaller: &dyn GatewayMarshaller,
    gateways: Vec<Gateway>,
) -> Result<(String, Vec<Gateway>)> {
    let all = match marshaller.render(&gateways) {
        Ok(text) => return Ok((text, gateways)),
        Err(e) => e,
    };
    let mut renderable = Vec::with_capacity(gateways.len());
    for gateway in gateways {
        match marshaller.render(std::slice::from_ref(&gateway)) {
            Ok(_) => renderable.push(gateway),
            Err(e) => tracing::error!(
                gateway = %gateway.name,
                error = %e,
                "this gateway cannot be rendered; it is left out and the other gateways are written"
            ),
        }
    }
    match marshaller.render(&renderable) {
        Ok(text) => Ok((text, renderable)),
        Err(_) => Err(all),
    }
}

#[cfg(test)]
mod tests {
    use vamp_core::model::Protocol;
    use vamp_gateway::haproxy::samples::{conditional, gateway, route};

    use super::*;

    #[test]
    fn a_gateway_the_marshaller_refuses_is_left_out_and_the_others_are_rendered() {
        let good = gateway(
            "good",
            9050,
            Protocol::Http,
            vec![route("a/b", 100, &[("a", None, 1)])],
        );
        let bad_route = conditional(route("c/d", 100, &[("c", None, 2)]), "has header \"a#b\"", 100);
        let bad = gateway("bad", 9051, Protocol::Http, vec![bad_route]);
        let marshaller = HaproxyMarshaller::new();
        assert!(marshaller.render(&[good.clone(), bad.clone()]).is_err());
        let (text, kept) = render_all_it_can(&marshaller, vec![good, bad]).unwrap();
        assert_eq!(kept.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["good"]);
        assert!(text.contains(":9050") && !text.contains(":9051"), "{text}");
    }
}
