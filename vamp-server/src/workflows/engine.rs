//! The JavaScript engine (QuickJS through `rquickjs`): one run of a script in a fresh runtime and context, with
//! a memory limit (the runtime's allocator refuses beyond it) and a time limit and a stop request enforced by
//! the interrupt handler, which QuickJS calls regularly while it executes. Runs block their thread; the
//! scheduler calls [`run_script`] from `spawn_blocking`.
//!
//! A run fails when the script throws, when a promise is rejected and never handled (its completion value
//! included, so `async function main() {…}; main()` works), or when it exceeds a limit; it is `stopped` when
//! the workflow stops meanwhile. Scripts run in sloppy mode like a Node.js script, as global code.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Exception, Runtime, Value};

use super::executions::{ExecutionLog, FailureReason, Outcome, Stream};
use super::host::Host;
use super::js_api::{install, RunContext};

/// The most native stack a script may use (deep recursion fails with a `RangeError` before the thread's stack
/// runs out).
const MAX_STACK: usize = 512 * 1024;
/// How many queued jobs (promise reactions) a run executes at most after its script, so a promise chain that
/// requeues itself forever stays bounded by the time limit and this count.
const MAX_JOBS: usize = 1_000_000;

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The memory the runtime may allocate, in bytes.
    pub memory_bytes: usize,
    /// How long the run may take; always a limit.
    pub timeout: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// Succeeded, failed or stopped.
    pub outcome: Outcome,
    /// Why it failed.
    pub reason: Option<FailureReason>,
    /// The error, for a failed or stopped run.
    pub error: Option<String>,
}

impl RunResult {
    fn succeeded() -> Self {
        RunResult {
            outcome: Outcome::Succeeded,
            reason: None,
            error: None,
        }
    }

    fn failed(reason: FailureReason, error: impl Into<String>) -> Self {
        RunResult {
            outcome: Outcome::Failed,
            reason: Some(reason),
            error: Some(error.into()),
        }
    }
}

/// Unhandled promise rejections seen by the runtime's tracker: rejections without a handler count up, handlers
/// attached later count down.
#[derive(Default)]
struct Rejections {
    open: Cell<i64>,
    last: RefCell<Option<String>>,
}

fn describe<'js>(ctx: &Ctx<'js>, caught: CaughtError<'js>) -> String {
    match caught {
        CaughtError::Exception(e) => exception_text(&e),
        CaughtError::Value(v) => value_text(ctx, v),
        CaughtError::Error(e) => e.to_string(),
    }
}

fn exception_text(e: &Exception<'_>) -> String {
    let name: Option<String> = e.as_object().get("name").ok();
    let head = format!(
        "{}: {}",
        name.unwrap_or_else(|| "Error".into()),
        e.message().unwrap_or_default()
    );
    match e.stack() {
        Some(stack) if !stack.trim().is_empty() => format!("{head}\n{}", stack.trim_end()),
        _ => head,
    }
}

fn value_text<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> String {
    if let Some(e) = v.as_object().and_then(|o| Exception::from_object(o.clone())) {
        return exception_text(&e);
    }
    if let Some(s) = v.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if v.is_null() {
        return "null".into();
    }
    if v.is_undefined() {
        return "undefined".into();
    }
    ctx.json_stringify(v)
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| "a value that is not an Error".into())
}

/// Runs `script` once with `limits`, its calls going through `host` and its lines to `log`. `stop` becomes
/// `true` when the run is to end early (the workflow stops); the run then ends as `stopped` at the next
/// interrupt check or host call.
pub fn run_script(
    script: &str,
    limits: Limits,
    mut host: Host,
    run: &RunContext,
    log: &ExecutionLog,
    stop: Arc<AtomicBool>,
) -> RunResult {
    let started = Instant::now();
    let deadline = started.checked_add(limits.timeout);
    host.deadline = deadline;
    let runtime = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            return RunResult::failed(
                FailureReason::Error,
                format!("cannot create a JavaScript runtime: {e}"),
            )
        }
    };
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(MAX_STACK);
    let timed_out = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let timed_out = timed_out.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if stop.load(Ordering::Relaxed) {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                timed_out.store(true, Ordering::Relaxed);
                return true;
            }
            false
        })));
    }
    let rejections = Rc::new(Rejections::default());
    {
        let rejections = rejections.clone();
        runtime.set_host_promise_rejection_tracker(Some(Box::new(move |ctx, _promise, reason, handled| {
            if handled {
                rejections.open.set(rejections.open.get() - 1);
            } else {
                rejections.open.set(rejections.open.get() + 1);
                *rejections.last.borrow_mut() = Some(value_text(&ctx, reason));
            }
        })));
    }
    let context = match Context::full(&runtime) {
        Ok(c) => c,
        Err(e) => {
            return RunResult::failed(
                FailureReason::Memory,
                format!("cannot create a JavaScript context: {e}"),
            )
        }
    };
    let host = Rc::new(host);
    let thrown: Option<String> = context.with(|ctx| {
        if let Err(e) = install(&ctx, &host, run, log) {
            return Some(format!(
                "cannot set up the vamp object: {}",
                describe(&ctx, CaughtError::from_error(&ctx, e))
            ));
        }
        let mut options = EvalOptions::default();
        options.strict = false;
        options.filename = Some(run.workflow.clone());
        let result: rquickjs::Result<Value> = ctx.eval_with_options(script, options);
        if let Err(caught) = result.catch(&ctx) {
            return Some(describe(&ctx, caught));
        }
        let mut jobs = 0;
        while jobs < MAX_JOBS && ctx.execute_pending_job() {
            jobs += 1;
        }
        None
    });
    let memory_used = usize::try_from(runtime.memory_usage().malloc_size).unwrap_or(0);
    drop(context);
    if stop.load(Ordering::Relaxed) {
        return RunResult {
            outcome: Outcome::Stopped,
            reason: None,
            error: Some("the workflow stopped during the run".into()),
        };
    }
    if timed_out.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
        let limit = limits.timeout.as_secs_f64();
        return RunResult::failed(
            FailureReason::Timeout,
            format!("the run exceeded its time limit of {limit} s and was stopped"),
        );
    }
    let out_of_memory = |text: &str| {
        text.contains("out of memory")
            || ((text == "null" || text.is_empty()) && memory_used + memory_used / 8 >= limits.memory_bytes)
    };
    let failure = thrown.or_else(|| {
        (rejections.open.get() > 0).then(|| {
            let reason = rejections.last.borrow().clone().unwrap_or_default();
            format!("a promise was rejected and never handled: {reason}")
        })
    });
    match failure {
        None => RunResult::succeeded(),
        Some(text) if out_of_memory(&text) => {
            log.line(Stream::Stderr, &text);
            RunResult::failed(
                FailureReason::Memory,
                format!(
                    "the run exceeded its memory limit of {} MB and was stopped",
                    limits.memory_bytes / (1024 * 1024)
                ),
            )
        }
        Some(text) => {
            log.line(Stream::Stderr, &text);
            RunResult::failed(FailureReason::Error, text)
        }
    }
}
