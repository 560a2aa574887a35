//! The canary loop: every `canary.tick-ms` it looks at the canaries that are `progressing` — on user gateways
//! and on the gateways of deployments' clusters ([`Vamp::progressing_canaries`]). A canary below its first step
//! is moved to it at once. Otherwise each canary has an interval in progress (`ops::canary::Progress`): every
//! tick reads the requests of both routes since the last read (two cumulative reads from an anchor, see
//! `vamp_core::ops::canary::sample`), adds them to the samples accumulated since the interval started, asks
//! [`early`] (ceilings, and whatever else may decide before the interval ends), and once the interval is due
//! judges it ([`judge`]). Decisions are applied through [`Vamp::apply_canary`].
//!
//! - **Wait** (too few samples) keeps the samples: the interval is extended by one interval length and the
//!   wait counter goes up by one; after `max_waits` the judge pauses.
//! - Any other decision ends the interval; the next tick starts the next one from the canary as stored (new
//!   weights, or a user's edit). A change of the policy or of the canary's weight by a user starts over too.
//! - A write that finds the canary changed since it was read (`Conflict`) keeps the interval: the next tick
//!   judges again from the new state, or starts over if the policy or weight changed.
//!
//! **Checkpoints.** The interval in progress — policy and weight, start, due time, waits and both accumulated
//! samples — is written to the artifact store when it starts, after every wait, at most every
//! `canary.checkpoint-ms` in between (default 5 s), and when the loop stops. When the loop starts (after a
//! restart, or when this server becomes the leader) it reads the checkpoints and resumes each interval that
//! still belongs to its canary's policy and weight, with the time it had left. The metrics source is in memory:
//! requests counted after the last checkpoint are lost with the server that counted them. Checkpoints of
//! canaries that ended, paused or disappeared are removed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use vamp_core::model::Gateway;
use vamp_core::ops::canary::{early, judge, Decision, Interval, Progress, Sample};
use vamp_core::{ErrorKind, Result};

use crate::ops::canary::{anchor_now, route_weight, CanaryGateway};
use crate::vamp::Vamp;

/// How long the loop may spend on its last checkpoints when it stops.
const FINAL_CHECKPOINTS: Duration = Duration::from_secs(2);

/// One canary's interval in progress.
struct Tracked {
    /// The interval, with the samples accumulated up to the last fold.
    progress: Progress,
    /// The start of the current cumulative reads (Unix milliseconds).
    anchor: i64,
    /// Baseline and canary as read at the last fold.
    base: (Sample, Sample),
    /// When the interval was last checkpointed.
    saved: Instant,
    /// The canary's gateway as judged, for the reads of the last checkpoint.
    gateway: Gateway,
}

/// What the loop keeps between ticks.
#[derive(Default)]
struct State {
    /// The intervals in progress by gateway name.
    tracked: HashMap<String, Tracked>,
    /// Checkpoints read when the loop started and not yet resumed or discarded.
    resumable: HashMap<String, Progress>,
    /// Gateway names with a checkpoint in the store, as far as this loop knows.
    persisted: HashSet<String>,
}

pub(crate) async fn run(vamp: Vamp, mut stop: watch::Receiver<bool>) {
    let mut state: Option<State> = None;
    loop {
        if state.is_none() {
            match vamp.load_canary_progress().await {
                Ok(stored) => {
                    state = Some(State {
                        persisted: stored.keys().cloned().collect(),
                        resumable: stored,
                        ..State::default()
                    })
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the canary checkpoints cannot be read; retrying next tick")
                }
            }
        }
        if let Some(state) = state.as_mut() {
            if let Err(e) = pass(&vamp, state).await {
                tracing::warn!(error = %e, "the canary pass failed; retrying next tick");
            }
        }
        let stopping = *stop.borrow()
            || tokio::select! {
                _ = stop.wait_for(|s| *s) => true,
                _ = tokio::time::sleep(vamp.settings().canary.tick()) => false,
            };
        if stopping {
            if let Some(state) = state.as_mut() {
                let last = checkpoint_all(&vamp, state);
                if tokio::time::timeout(FINAL_CHECKPOINTS, last).await.is_err() {
                    tracing::warn!("the last canary checkpoints did not finish in time");
                }
            }
            return;
        }
    }
}

async fn pass(vamp: &Vamp, state: &mut State) -> Result<()> {
    let canaries = vamp.progressing_canaries().await?;
    let names: HashSet<&str> = canaries.iter().map(|c| c.gateway.name.as_str()).collect();
    state.tracked.retain(|name, _| names.contains(name.as_str()));
    state.resumable.retain(|name, _| names.contains(name.as_str()));
    let ended: Vec<String> = state
        .persisted
        .iter()
        .filter(|name| !names.contains(name.as_str()))
        .cloned()
        .collect();
    for name in ended {
        match vamp.delete_canary_progress(&name).await {
            Ok(_) => {
                state.persisted.remove(&name);
            }
            Err(e) => tracing::warn!(gateway = %name, error = %e, "a canary checkpoint could not be removed"),
        }
    }
    for current in &canaries {
        let name = &current.gateway.name;
        if let Err(e) = step(vamp, state, current).await {
            if e.kind() == ErrorKind::Conflict {
                tracing::info!(gateway = %name, "the gateway changed while its canary was judged; judging again from the new state");
            } else {
                tracing::warn!(gateway = %name, error = %e, "the canary could not be judged; retrying next tick");
            }
        }
    }
    Ok(())
}

async fn step(vamp: &Vamp, state: &mut State, current: &CanaryGateway) -> Result<()> {
    let gateway = &current.gateway;
    let Some(policy) = &gateway.canary else {
        return Ok(());
    };
    let name = &gateway.name;
    let weight = route_weight(gateway, &policy.canary.0);
    let same = state
        .tracked
        .get(name)
        .is_some_and(|t| t.progress.belongs_to(policy, weight));
    if !same {
        state.tracked.remove(name);
        let now = Utc::now();
        if let Some(stored) = state.resumable.remove(name) {
            if stored.belongs_to(policy, weight) {
                let progress = stored.resumed(now);
                tracing::info!(
                    gateway = %name,
                    started = %progress.started,
                    waits = progress.waits,
                    baseline = progress.baseline.requests,
                    canary = progress.canary.requests,
                    "resuming the canary's interval from its checkpoint"
                );
                track(vamp, state, current, progress).await?;
                return Ok(());
            }
        }
        let first = policy.steps.first().map_or(100, |s| s.0);
        if weight < first {
            let empty = Sample::default();
            let judgement = judge(&Interval {
                policy,
                canary_weight: weight,
                baseline: &empty,
                canary: &empty,
                waits: 0,
            });
            vamp.apply_canary(current, &judgement, None).await?;
            return Ok(());
        }
        let progress = Progress::start(name.clone(), policy, weight, now);
        track(vamp, state, current, progress).await?;
        if let Some(t) = state.tracked.get_mut(name) {
            save(vamp, &mut state.persisted, t).await;
        }
        return Ok(());
    }
    let Some(t) = state.tracked.get_mut(name) else {
        return Ok(());
    };
    let (baseline, canary) = vamp.canary_reads(gateway, t.anchor).await?;
    let (baseline, canary) = (baseline.since(&t.base.0), canary.since(&t.base.1));
    let (total_baseline, total_canary) = t.progress.with(&baseline, &canary);
    let interval = t.progress.interval(policy, &total_baseline, &total_canary);
    let now = Utc::now();
    let judgement = if t.progress.is_due(now) {
        Some(judge(&interval))
    } else {
        early(&interval).filter(|j| j.decision != Decision::Wait)
    };
    let Some(judgement) = judgement else {
        if t.saved.elapsed() >= vamp.settings().canary.checkpoint() {
            fold(vamp, t, current, &baseline, &canary).await?;
            save(vamp, &mut state.persisted, t).await;
        }
        return Ok(());
    };
    vamp.apply_canary(current, &judgement, Some(&t.progress)).await?;
    if judgement.decision == Decision::Wait {
        t.progress.waited(policy, Utc::now());
        if let Err(e) = fold(vamp, t, current, &baseline, &canary).await {
            tracing::warn!(gateway = %name, error = %e, "the canary's reads could not start again; going on from the last ones");
        }
        save(vamp, &mut state.persisted, t).await;
    } else {
        state.tracked.remove(name);
    }
    Ok(())
}

/// Tracks `progress` from now: the anchor of the next reads and what they read at the start.
async fn track(vamp: &Vamp, state: &mut State, current: &CanaryGateway, progress: Progress) -> Result<()> {
    let anchor = anchor_now();
    let base = vamp.canary_reads(&current.gateway, anchor).await?;
    state.tracked.insert(
        current.gateway.name.clone(),
        Tracked {
            progress,
            anchor,
            base,
            saved: Instant::now(),
            gateway: current.gateway.clone(),
        },
    );
    Ok(())
}

/// Adds what was read since the last fold (`baseline`, `canary`) to the interval's samples and starts the next
/// reads from a new anchor, so no read spans longer than a checkpoint period or an interval (the metrics
/// source keeps a bounded past). When the new reads cannot start, nothing changes.
async fn fold(
    vamp: &Vamp,
    t: &mut Tracked,
    current: &CanaryGateway,
    baseline: &Sample,
    canary: &Sample,
) -> Result<()> {
    let anchor = anchor_now();
    let base = vamp.canary_reads(&current.gateway, anchor).await?;
    t.progress.accumulate(baseline, canary, Utc::now());
    t.anchor = anchor;
    t.base = base;
    Ok(())
}

/// Checkpoints `t`; a failure is logged and retried at the next checkpoint.
async fn save(vamp: &Vamp, persisted: &mut HashSet<String>, t: &mut Tracked) {
    match vamp.save_canary_progress(&t.progress).await {
        Ok(()) => {
            persisted.insert(t.progress.gateway.clone());
            t.saved = Instant::now();
        }
        Err(e) => {
            tracing::warn!(gateway = %t.progress.gateway, error = %e, "the canary's interval could not be checkpointed")
        }
    }
}

/// Checkpoints every interval in progress with what was read since its last fold (when the loop stops).
async fn checkpoint_all(vamp: &Vamp, state: &mut State) {
    for t in state.tracked.values_mut() {
        match vamp.canary_reads(&t.gateway, t.anchor).await {
            Ok((baseline, canary)) => {
                let (baseline, canary) = (baseline.since(&t.base.0), canary.since(&t.base.1));
                t.progress.accumulate(&baseline, &canary, Utc::now());
            }
            Err(e) => {
                tracing::warn!(gateway = %t.gateway.name, error = %e, "the last reads of a canary failed")
            }
        }
        save(vamp, &mut state.persisted, t).await;
    }
}
