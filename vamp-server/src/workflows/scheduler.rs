//! The scheduler of one script workflow: a task that waits for the workflow's triggers and starts runs on
//! blocking threads.
//!
//! * `daemon`: a run at once, then every period (`VAMP_WORKFLOW_EXECUTION_PERIOD`); period 0 runs once.
//! * `time`: at `start + k × period`, at most `repeat` runs.
//! * `cron`: at every instant the expression matches.
//! * `event`: once per event carrying every tag of the schedule, with the event as `vamp.data`, one after the
//!   other (events arriving during a run wait, at most `max-queued-events` of them).
//!
//! A tick that comes while the previous run still runs is skipped, as the workflow agent did, and so is one
//! that finds `workflows.max-concurrent-runs` runs going across all workflows, or whose memory limit does not
//! fit into what the runs going leave of `workflows.max-total-memory-mb` (the memory budget: each run holds
//! its limit, in MB, until it ends). A run skipped for either reason is logged and recorded as a `skipped`
//! execution naming the reason, both at most once per workflow per 10 s. Stopping the scheduler stops the run
//! in progress (it ends as `stopped`) and waits for it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::Utc;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vamp_core::model::{Event, EventQuery, Schedule};
use vamp_core::ops::workflow_schedule::{CronSchedule, TimeSchedule};

use super::egress::Egress;
use super::engine::{run_script, Limits, RunResult};
use super::environment::workflow_environment;
use super::executions::{ExecutionLog, FailureReason, Outcome, Stream, Trigger};
use super::host::{Host, HTTP_TIMEOUT};
use super::js_api::RunContext;
use super::resolved::ResolvedWorkflow;
use super::throttle::Throttle;
use crate::api::ApiOptions;
use crate::vamp::Vamp;

/// How long an event subscription that failed or ended waits before subscribing again.
const RESUBSCRIBE: Duration = Duration::from_secs(1);
/// How long `vamp.http` waits for a connection.
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Scheduler::stop`] waits for a stopped run to end before it gives up on it.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// At most one warning per this period about dropped events, and one warning and record about runs skipped
/// for want of a run or of memory.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Bytes per MB of the memory budget.
const MB: usize = 1024 * 1024;

/// A running scheduler: stop it with [`Scheduler::stop`]; dropping it stops it too, without waiting.
pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the scheduler of `workflow` (a script workflow) on the current runtime.
    pub fn start(vamp: Vamp, workflow: ResolvedWorkflow) -> Scheduler {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(schedule(vamp, Arc::new(workflow), stopped));
        Scheduler {
            stop,
            task: Some(task),
        }
    }

    /// Stops scheduling, stops the run in progress and waits until it ended, at most 10 s: a run
    /// still going then (a host call that ignores cancellation) is logged and left to end on its own.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(STOP_GRACE, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "a workflow scheduler ended abnormally"),
                Err(_) => tracing::error!(
                    grace_s = STOP_GRACE.as_secs(),
                    "a stopped workflow run did not end within the grace period; left to end on its own"
                ),
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Ends a run early: the flag is what the engine's interrupt handler reads, the channel what blocked host
/// calls wait on. Dropping it stops the run too, so an aborted scheduler leaves no script running.
struct RunStop {
    flag: Arc<AtomicBool>,
    channel: watch::Sender<bool>,
}

impl RunStop {
    fn stop(&self) {
        self.flag.store(true, Ordering::Relaxed);
        let _ = self.channel.send(true);
    }
}

impl Drop for RunStop {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A run in progress. Its run and memory permits are held by it and by its script's thread, so they return
/// to the pools only when the script has ended and its end is recorded.
struct Run {
    task: JoinHandle<RunResult>,
    log: ExecutionLog,
    stop: RunStop,
    _permits: Arc<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

/// What every run of one scheduler shares.
struct Runner {
    vamp: Vamp,
    workflow: Arc<ResolvedWorkflow>,
    router: Router,
    http: Result<reqwest::Client, String>,
    egress: Egress,
    limits: Limits,
    body_limit: usize,
    skipped: Throttle,
}

impl Runner {
    /// Starts a run, or skips it when `workflows.max-concurrent-runs` runs are going already or its memory
    /// limit does not fit into the memory budget's rest ([`Runner::skip`]).
    fn start(&mut self, trigger: Trigger, data: Option<serde_json::Value>) -> Option<Run> {
        let settings = &self.vamp.settings().workflows;
        let Ok(permit) = self.vamp.inner.workflow_runs.clone().try_acquire_owned() else {
            let why = format!(
                "workflows.max-concurrent-runs ({}) runs are going",
                settings.concurrent_runs()
            );
            self.skip(trigger, &why);
            return None;
        };
        let needed_mb = self.limits.memory_bytes.div_ceil(MB);
        let budget = self.vamp.inner.workflow_memory.clone();
        let memory = u32::try_from(needed_mb)
            .ok()
            .and_then(|mb| budget.clone().try_acquire_many_owned(mb).ok());
        let Some(memory) = memory else {
            let why = format!(
                "its memory limit of {needed_mb} MB does not fit into the workflows' memory budget \
                 (workflows.max-total-memory-mb = {} MB, {} MB of it free while other runs go)",
                settings.total_memory_mb(),
                budget.available_permits()
            );
            self.skip(trigger, &why);
            return None;
        };
        let vamp = &self.vamp;
        let log = vamp
            .inner
            .workflow_executions
            .begin(self.workflow.name(), trigger);
        let (channel, cancel) = watch::channel(false);
        let flag = Arc::new(AtomicBool::new(false));
        let host = Host {
            vamp: vamp.clone(),
            handle: tokio::runtime::Handle::current(),
            router: self.router.clone(),
            http: self.http.clone(),
            egress: self.egress.clone(),
            deadline: None,
            cancel,
            body_limit: self.body_limit,
            http_timeout: HTTP_TIMEOUT,
        };
        let run = RunContext {
            workflow: self.workflow.name().to_string(),
            namespace: vamp.namespace().to_string(),
            env: workflow_environment(
                &self.workflow.workflow,
                &self.workflow.breed,
                vamp.namespace(),
                data.as_ref(),
            ),
            data,
        };
        let script = self.workflow.breed.deployable.definition.clone();
        let limits = self.limits;
        let run_log = log.clone();
        let run_flag = flag.clone();
        tracing::debug!(workflow = %run.workflow, execution = log.id(), ?trigger, "workflow run starts");
        let permits = Arc::new((permit, memory));
        let held = permits.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permits = held;
            run_script(&script, limits, host, &run, &run_log, run_flag)
        });
        Some(Run {
            task,
            log,
            stop: RunStop { flag, channel },
            _permits: permits,
        })
    }

    /// Logs and records (as a `skipped` execution) that a run did not start because `why`, at most once per
    /// [`WARN_EVERY`], counting the runs skipped in between.
    fn skip(&mut self, trigger: Trigger, why: &str) {
        let Some(skipped) = self.skipped.hit(std::time::Instant::now()) else {
            return;
        };
        let name = self.workflow.name();
        tracing::warn!(workflow = %name, skipped, ?trigger, "workflow runs skipped: {why}");
        let error = format!("not run: {why}; {skipped} run(s) skipped since the last such record");
        self.vamp
            .inner
            .workflow_executions
            .begin(name, trigger)
            .finish(Outcome::Skipped, None, Some(error));
    }

    /// Records how `run` ended, and publishes a failure.
    async fn finish(&self, run: &Run, ended: Result<RunResult, tokio::task::JoinError>) {
        let result = ended.unwrap_or_else(|e| RunResult {
            outcome: Outcome::Failed,
            reason: Some(FailureReason::Error),
            error: Some(format!("the run ended abnormally: {e}")),
        });
        run.log
            .finish(result.outcome, result.reason, result.error.clone());
        if result.outcome != Outcome::Failed {
            return;
        }
        let name = self.workflow.name();
        let error = result.error.unwrap_or_default();
        tracing::warn!(workflow = %name, execution = run.log.id(), error = %error, "a workflow run failed");
        let event = Event::new(
            [format!("workflows:{name}"), "execution:failed".to_string()],
            serde_json::json!({
                "workflow": name,
                "execution": run.log.id(),
                "reason": result.reason,
                "error": error,
            }),
        )
        .with_type("workflow");
        if let Err(e) = self.vamp.inner.events.publish(event).await {
            tracing::warn!(error = %e, workflow = %name, "the workflow failure event could not be published");
        }
    }
}

/// When the next timed run is due, and what counts as its trigger.
enum Timer {
    Daemon {
        period: Option<Duration>,
        next: Option<Instant>,
    },
    Time {
        schedule: TimeSchedule,
        index: u32,
        next: Option<Instant>,
    },
    Cron {
        cron: Box<CronSchedule>,
        last: chrono::DateTime<Utc>,
        next: Option<Instant>,
    },
    None,
}

fn instant_of(at: chrono::DateTime<Utc>) -> Instant {
    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Instant::now() + wait
}

impl Timer {
    fn new(workflow: &ResolvedWorkflow, namespace: &str, vamp: &Vamp) -> Result<Timer, String> {
        let settings = &vamp.settings().workflows;
        Ok(match &workflow.workflow.schedule {
            Schedule::Daemon => Timer::Daemon {
                period: workflow
                    .period(namespace, settings)
                    .map_err(|e| e.message().to_string())?,
                next: Some(Instant::now()),
            },
            Schedule::Time {
                period,
                start,
                repeat,
            } => {
                let schedule = TimeSchedule::new(period, start.as_deref(), *repeat, Utc::now())?;
                let mut timer = Timer::Time {
                    schedule,
                    index: 0,
                    next: None,
                };
                timer.advance();
                timer
            }
            Schedule::Cron { expression } => {
                let cron = Box::new(CronSchedule::parse(expression)?);
                let mut timer = Timer::Cron {
                    cron,
                    last: Utc::now(),
                    next: None,
                };
                timer.advance();
                timer
            }
            Schedule::Event { .. } => Timer::None,
        })
    }

    fn trigger(&self) -> Trigger {
        match self {
            Timer::Daemon { .. } | Timer::None => Trigger::Daemon,
            Timer::Time { .. } => Trigger::Time,
            Timer::Cron { .. } => Trigger::Cron,
        }
    }

    fn next(&self) -> Option<Instant> {
        match self {
            Timer::Daemon { next, .. } | Timer::Time { next, .. } | Timer::Cron { next, .. } => *next,
            Timer::None => None,
        }
    }

    /// Moves on to the tick after the one now due.
    fn advance(&mut self) {
        match self {
            Timer::Daemon { period, next } => {
                *next = match (*period, *next) {
                    (Some(p), Some(due)) => {
                        let mut n = due + p;
                        let now = Instant::now();
                        while n <= now {
                            n += p;
                        }
                        Some(n)
                    }
                    _ => None,
                }
            }
            Timer::Time {
                schedule,
                index,
                next,
            } => {
                let from = if next.is_some() { *index + 1 } else { *index };
                match schedule.next(Utc::now(), from) {
                    Some((i, at)) => {
                        *index = i;
                        *next = Some(instant_of(at));
                    }
                    None => *next = None,
                }
            }
            Timer::Cron { cron, last, next } => {
                let after = (*last).max(Utc::now());
                match cron.next_after(after) {
                    Some(at) => {
                        *last = at;
                        *next = Some(instant_of(at));
                    }
                    None => *next = None,
                }
            }
            Timer::None => {}
        }
    }
}

async fn subscribe(vamp: &Vamp, tags: &[String]) -> Option<BoxStream<'static, Event>> {
    match vamp.subscribe(&EventQuery::tags(tags.iter().cloned())).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::warn!(error = %e, "a workflow's event subscription failed; retrying");
            None
        }
    }
}

async fn next_event(events: &mut Option<BoxStream<'static, Event>>) -> Option<Event> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

async fn ended(run: &mut Option<Run>) -> Result<RunResult, tokio::task::JoinError> {
    match run {
        Some(r) => (&mut r.task).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn schedule(vamp: Vamp, workflow: Arc<ResolvedWorkflow>, mut stop: watch::Receiver<bool>) {
    let name = workflow.name().to_string();
    let namespace = vamp.namespace().to_string();
    let settings = vamp.settings().workflows.clone();
    let prepared = Timer::new(&workflow, &namespace, &vamp).and_then(|timer| {
        let timeout = workflow
            .timeout(&namespace, &settings)
            .map_err(|e| e.message().to_string())?;
        Ok((timer, timeout))
    });
    let (mut timer, timeout) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            let log = vamp.inner.workflow_executions.begin(&name, Trigger::Daemon);
            log.line(Stream::Stderr, &e);
            log.finish(Outcome::Failed, Some(FailureReason::Error), Some(e));
            return;
        }
    };
    let tags = match &workflow.workflow.schedule {
        Schedule::Event { tags } => Some(tags.clone()),
        _ => None,
    };
    let api = ApiOptions::insecure_open();
    let mut dropped = Throttle::new(WARN_EVERY);
    let egress = Egress::new(&settings.http_allow);
    let mut runner = Runner {
        skipped: Throttle::new(WARN_EVERY),
        body_limit: api.body_limit,
        router: crate::api::router(vamp.clone(), api),
        http: egress.client(HTTP_CONNECT_TIMEOUT),
        egress,
        limits: Limits {
            memory_bytes: workflow.memory_bytes(&settings),
            timeout,
        },
        vamp: vamp.clone(),
        workflow: workflow.clone(),
    };
    let mut events = match &tags {
        Some(tags) => subscribe(&vamp, tags).await,
        None => None,
    };
    let mut resubscribe_at: Option<Instant> = match (&tags, &events) {
        (Some(_), None) => Some(Instant::now() + RESUBSCRIBE),
        _ => None,
    };
    let mut waiting: VecDeque<Event> = VecDeque::new();
    let mut current: Option<Run> = None;
    tracing::info!(workflow = %name, "workflow scheduled");
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            result = ended(&mut current) => {
                if let Some(run) = current.take() {
                    runner.finish(&run, result).await;
                }
                if let Some(event) = waiting.pop_front() {
                    current = runner.start(Trigger::Event, serde_json::to_value(&event).ok());
                }
            }
            _ = sleep_until(timer.next()) => {
                if current.is_none() {
                    current = runner.start(timer.trigger(), None);
                } else {
                    tracing::debug!(workflow = %name, "the previous run still runs; tick skipped");
                }
                timer.advance();
            }
            event = next_event(&mut events) => match event {
                Some(event) if current.is_none() => {
                    current = runner.start(Trigger::Event, serde_json::to_value(&event).ok());
                }
                Some(event) => {
                    if waiting.len() >= settings.max_queued_events.max(1) {
                        waiting.pop_front();
                        if let Some(dropped) = dropped.hit(std::time::Instant::now()) {
                            tracing::warn!(workflow = %name, dropped, "too many events wait for the workflow; the oldest were dropped");
                        }
                    }
                    waiting.push_back(event);
                }
                None => {
                    events = None;
                    resubscribe_at = Some(Instant::now() + RESUBSCRIBE);
                }
            },
            _ = sleep_until(resubscribe_at) => {
                resubscribe_at = None;
                if let Some(tags) = &tags {
                    events = subscribe(&vamp, tags).await;
                    if events.is_none() {
                        resubscribe_at = Some(Instant::now() + RESUBSCRIBE);
                    }
                }
            }
        }
    }
    if let Some(mut run) = current.take() {
        run.stop.stop();
        let result = (&mut run.task).await;
        runner.finish(&run, result).await;
    }
    tracing::info!(workflow = %name, "workflow unscheduled");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::resolved::resolve;
    use crate::ServerSettings;
    use vamp_core::dsl;
    use vamp_core::model::{Artifact, Kind};

    async fn sleeper(vamp: &Vamp, name: &str) -> ResolvedWorkflow {
        let text = format!(
            "name: {name}\nbreed:\n  name: {name}\n  deployable: {{type: application/javascript, definition: 'vamp.sleep(5000)'}}\nschedule: daemon\n"
        );
        let Artifact::Workflow(w) = dsl::read(Kind::Workflow, &text).unwrap() else {
            panic!("not a workflow")
        };
        resolve(vamp, &w).await.unwrap()
    }

    fn ran(vamp: &Vamp, name: &str) -> usize {
        executions(vamp, name, |o| o != Outcome::Skipped).len()
    }

    fn executions(
        vamp: &Vamp,
        name: &str,
        keep: impl Fn(Outcome) -> bool,
    ) -> Vec<crate::workflows::Execution> {
        let all = vamp.inner.workflow_executions.list(name).unwrap_or_default();
        all.into_iter().filter(|e| keep(e.outcome)).collect()
    }

    async fn skipped_while_the_first_runs(settings: ServerSettings) -> String {
        let vamp = Vamp::builder().config(settings).build().unwrap();
        let first = Scheduler::start(vamp.clone(), sleeper(&vamp, "first").await);
        let deadline = Instant::now() + Duration::from_secs(10);
        while ran(&vamp, "first") == 0 {
            assert!(Instant::now() < deadline, "the first workflow never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let second = Scheduler::start(vamp.clone(), sleeper(&vamp, "second").await);
        let skipped = loop {
            let skipped = executions(&vamp, "second", |o| o == Outcome::Skipped);
            if let Some(e) = skipped.first() {
                break e.error.clone().unwrap_or_default();
            }
            assert!(
                Instant::now() < deadline,
                "the second run was not recorded as skipped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(ran(&vamp, "second"), 0, "the second run got past the cap");
        first.stop().await;
        second.stop().await;
        assert_eq!(
            vamp.inner.workflow_runs.available_permits(),
            vamp.settings().workflows.concurrent_runs()
        );
        assert_eq!(
            vamp.inner.workflow_memory.available_permits() as u64,
            vamp.settings().workflows.total_memory_mb()
        );
        skipped
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_beyond_the_concurrency_cap_are_skipped() {
        let mut settings = ServerSettings::default();
        settings.workflows.max_concurrent_runs = 1;
        let error = skipped_while_the_first_runs(settings).await;
        assert!(
            error.contains("workflows.max-concurrent-runs (1) runs are going"),
            "{error}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_beyond_the_memory_budget_are_skipped() {
        let mut settings = ServerSettings::default();
        settings.workflows.max_total_memory_mb = 100;
        settings.workflows.memory_mb = 64;
        let error = skipped_while_the_first_runs(settings).await;
        assert!(
            error.contains("its memory limit of 64 MB does not fit")
                && error.contains("workflows.max-total-memory-mb = 100 MB, 36 MB of it free"),
            "{error}"
        );
    }
}
