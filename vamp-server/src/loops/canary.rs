//! The canary loop: every `canary.tick-ms` it looks at the user gateways whose canary is `progressing`. A canary
//! below its first step is moved to it at once. Otherwise each canary is tracked from an anchor: every tick reads
//! the requests of both routes since the interval began (two cumulative reads, see
//! `vamp_core::ops::canary::sample`), checks the absolute ceilings (`ops::canary::early`), and once the policy's
//! interval has passed judges it (`ops::canary::judge`). Decisions are applied through
//! [`Vamp::apply_canary`]; a `Wait` starts the next interval, any other decision ends the tracking, and the
//! next tick starts again from the gateway as stored (new weights, or a user's edit).
//!
//! What is tracked lives in memory: after a restart or a change of leader, the interval in progress starts
//! over (and the count of consecutive waits with it).

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::watch;
use vamp_core::model::CanaryPolicy;
use vamp_core::ops::canary::{early, judge, Decision, Interval, Sample};
use vamp_core::{ErrorKind, Result};

use crate::ops::canary::{anchor_now, route_weight, CanaryGateway};
use crate::vamp::Vamp;

/// One canary's interval in progress.
struct Tracked {
    /// The policy it was started with; a different stored policy starts over.
    policy: CanaryPolicy,
    /// The canary's weight during the interval; a different stored weight starts over.
    weight: u8,
    /// The start of the cumulative reads (Unix milliseconds).
    anchor: i64,
    /// Baseline and canary as read at the start of the interval.
    base: (Sample, Sample),
    /// When the interval started.
    since: Instant,
    /// Consecutive waits before this interval.
    waits: u32,
}

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    loop {
        if let Err(e) = pass(&vamp, &mut tracked).await {
            tracing::warn!(error = %e, "the canary pass failed; retrying next tick");
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(vamp.settings().canary.tick()) => {}
        }
    }
}

async fn pass(vamp: &Vamp, tracked: &mut HashMap<String, Tracked>) -> Result<()> {
    let canaries = vamp.progressing_canaries().await?;
    tracked.retain(|name, _| canaries.iter().any(|c| c.gateway.name == *name));
    for current in &canaries {
        let name = current.gateway.name.clone();
        if let Err(e) = step(vamp, tracked, current).await {
            tracked.remove(&name);
            if e.kind() == ErrorKind::Conflict {
                tracing::info!(gateway = %name, "the gateway changed while its canary was judged; starting over");
            } else {
                tracing::warn!(gateway = %name, error = %e, "the canary could not be judged; retrying next tick");
            }
        }
    }
    Ok(())
}

async fn step(vamp: &Vamp, tracked: &mut HashMap<String, Tracked>, current: &CanaryGateway) -> Result<()> {
    let gateway = &current.gateway;
    let Some(policy) = &gateway.canary else {
        return Ok(());
    };
    let weight = route_weight(gateway, &policy.canary.0);
    let first = policy.steps.first().map_or(100, |s| s.0);
    let name = &gateway.name;
    let same = tracked
        .get(name)
        .is_some_and(|t| t.policy == *policy && t.weight == weight);
    if !same {
        tracked.remove(name);
        if weight < first {
            let empty = Sample::default();
            let judgement = judge(&Interval {
                policy,
                canary_weight: weight,
                baseline: &empty,
                canary: &empty,
                waits: 0,
            });
            vamp.apply_canary(current, &judgement).await?;
            return Ok(());
        }
        let anchor = anchor_now();
        let base = vamp.canary_reads(gateway, anchor).await?;
        tracked.insert(
            name.clone(),
            Tracked {
                policy: policy.clone(),
                weight,
                anchor,
                base,
                since: Instant::now(),
                waits: 0,
            },
        );
        return Ok(());
    }
    let Some(t) = tracked.get_mut(name) else {
        return Ok(());
    };
    let (baseline, canary) = vamp.canary_reads(gateway, t.anchor).await?;
    let (baseline, canary) = (baseline.since(&t.base.0), canary.since(&t.base.1));
    let interval = Interval {
        policy,
        canary_weight: weight,
        baseline: &baseline,
        canary: &canary,
        waits: t.waits,
    };
    let ended = t.since.elapsed() >= std::time::Duration::from_secs(policy.interval.0);
    let judgement = if ended {
        judge(&interval)
    } else {
        match early(&interval) {
            Some(j) => j,
            None => return Ok(()),
        }
    };
    vamp.apply_canary(current, &judgement).await?;
    if judgement.decision == Decision::Wait {
        t.waits += 1;
        t.anchor = anchor_now();
        t.base = vamp.canary_reads(gateway, t.anchor).await?;
        t.since = Instant::now();
    } else {
        tracked.remove(name);
    }
    Ok(())
}
