//! Execution history and live logs: every run of a workflow is an [`Execution`] (trigger, start, end, outcome,
//! error, captured log lines). Per workflow the last `history` executions are kept, and the last `history`
//! failed ones besides (the workflow agent's 16 + 16), so a failure stays visible behind many successful runs.
//! Every start, log line and finish is also broadcast as a [`LogMessage`], which `GET
//! /api/v1/workflows/{name}/logs` streams.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

/// How many live messages a slow log subscriber may fall behind before it misses some.
const LIVE_CAPACITY: usize = 4096;
/// The longest line kept, in bytes: the rest of a longer line is cut off and replaced by a marker.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// The bytes of log text one execution keeps; lines beyond it are counted in `dropped_lines`, not kept, sent
/// live or traced.
pub const MAX_EXECUTION_LOG_BYTES: usize = 1024 * 1024;

/// `text` cut to at most [`MAX_LINE_BYTES`] (at a character boundary) with `… [truncated N bytes]` appended
/// when it was longer.
pub fn truncate_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_LINE_BYTES {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = MAX_LINE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let (kept, cut) = text.split_at(end);
    std::borrow::Cow::Owned(format!("{kept}… [truncated {} bytes]", cut.len()))
}

/// What made a workflow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A daemon's period.
    Daemon,
    /// A `time` schedule's period.
    Time,
    /// A cron expression.
    Cron,
    /// An event carrying the schedule's tags.
    Event,
}

/// How a run ended, or that it has not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Still running.
    Running,
    /// The script ran to its end (its promise, if it returned one, resolved).
    Succeeded,
    /// The script threw, its promise rejected, or it exceeded a limit.
    Failed,
    /// The workflow was suspended, stopped or restarted, or the server shut down, during the run.
    Stopped,
    /// The run did not start: `workflows.max-concurrent-runs` runs were going, or its memory limit did not fit
    /// into what the runs going left of `workflows.max-total-memory-mb`. The error says which. At most one
    /// such record per workflow per 10 s; the runs skipped meanwhile are counted in it.
    Skipped,
}

/// Why a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureReason {
    /// The script threw or its promise rejected (a syntax error included).
    Error,
    /// It ran longer than its time limit.
    Timeout,
    /// It needed more memory than its limit.
    Memory,
}

/// Where a log line came from: `console.log`/`vamp.log`/`console.info` write `stdout`, `console.warn` and
/// `console.error` write `stderr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Ordinary output.
    Stdout,
    /// Warnings and errors.
    Stderr,
}

/// One captured line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// Its number inside the execution, from 1.
    pub seq: u64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Which stream.
    pub stream: Stream,
    /// The text.
    pub text: String,
}

/// One run of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// Counts the workflow's executions since the server started, from 1.
    pub id: u64,
    /// The workflow.
    pub workflow: String,
    /// What made it run.
    pub trigger: Trigger,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it ended; `None` while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<DateTime<Utc>>,
    /// How long it ran, in milliseconds; `None` while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, for a failed run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    /// The error, for a failed or stopped run: the exception's message and stack, or the limit exceeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The lines it wrote, at most `max-log-lines` and [`MAX_EXECUTION_LOG_BYTES`] of text, each cut to
    /// [`MAX_LINE_BYTES`].
    pub log: Vec<LogLine>,
    /// Lines written beyond `max-log-lines` or the byte budget, counted and dropped.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_lines: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A live message, as `GET /api/v1/workflows/{name}/logs` sends it: the SSE event name is [`LogMessage::name`],
/// the data this JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LogMessage {
    /// An execution started.
    Start {
        /// The workflow.
        workflow: String,
        /// The execution id.
        execution: u64,
        /// What made it run.
        trigger: Trigger,
        /// When.
        at: DateTime<Utc>,
    },
    /// A line was written.
    Line {
        /// The workflow.
        workflow: String,
        /// The execution id.
        execution: u64,
        /// The line.
        #[serde(flatten)]
        line: LogLine,
    },
    /// An execution ended.
    Finish {
        /// The workflow.
        workflow: String,
        /// The execution id.
        execution: u64,
        /// How it ended.
        outcome: Outcome,
        /// Its error, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl LogMessage {
    /// The SSE event name, as the workflow agent's websocket named its messages: `execution-start`,
    /// `execution-log`, `execution-finish`.
    pub fn name(&self) -> &'static str {
        match self {
            LogMessage::Start { .. } => "execution-start",
            LogMessage::Line { .. } => "execution-log",
            LogMessage::Finish { .. } => "execution-finish",
        }
    }

    /// The workflow it is about.
    pub fn workflow(&self) -> &str {
        match self {
            LogMessage::Start { workflow, .. }
            | LogMessage::Line { workflow, .. }
            | LogMessage::Finish { workflow, .. } => workflow,
        }
    }
}

#[derive(Debug, Default)]
struct History {
    next_id: u64,
    recent: VecDeque<Execution>,
    failed: VecDeque<Execution>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The execution histories of every workflow and the live log channel. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Executions {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    histories: Mutex<HashMap<String, History>>,
    live: broadcast::Sender<LogMessage>,
    keep: usize,
    max_lines: usize,
}

impl Executions {
    /// Histories keeping `keep` executions (and `keep` failed ones) per workflow, `max_lines` lines each.
    pub fn new(keep: usize, max_lines: usize) -> Executions {
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        Executions {
            inner: Arc::new(Shared {
                histories: Mutex::new(HashMap::new()),
                live,
                keep: keep.max(1),
                max_lines,
            }),
        }
    }

    /// Records the start of a run of `workflow` and returns the handle its lines and end are written through.
    pub fn begin(&self, workflow: &str, trigger: Trigger) -> ExecutionLog {
        let started = Utc::now();
        let id = {
            let mut histories = lock(&self.inner.histories);
            let history = histories.entry(workflow.to_string()).or_default();
            history.next_id += 1;
            let id = history.next_id;
            history.recent.push_front(Execution {
                id,
                workflow: workflow.to_string(),
                trigger,
                started,
                finished: None,
                duration_ms: None,
                outcome: Outcome::Running,
                reason: None,
                error: None,
                log: Vec::new(),
                dropped_lines: 0,
            });
            history.recent.truncate(self.inner.keep);
            id
        };
        let _ = self.inner.live.send(LogMessage::Start {
            workflow: workflow.to_string(),
            execution: id,
            trigger,
            at: started,
        });
        ExecutionLog {
            executions: self.clone(),
            workflow: workflow.to_string(),
            id,
            seq: Arc::new(AtomicU64::new(0)),
            kept_bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The kept executions of `workflow`, newest first: the last `keep` and the last `keep` failed ones;
    /// `None` when it has never run here.
    pub fn list(&self, workflow: &str) -> Option<Vec<Execution>> {
        let histories = lock(&self.inner.histories);
        let history = histories.get(workflow)?;
        let mut out: Vec<Execution> = history.recent.iter().cloned().collect();
        for failed in &history.failed {
            if !out.iter().any(|e| e.id == failed.id) {
                out.push(failed.clone());
            }
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.id));
        Some(out)
    }

    /// The recent history of `workflow` as live messages, oldest first, at most `max_lines` log lines (the
    /// newest ones) with the start and end of their executions: what a log stream sends before the live ones.
    pub fn replay(&self, workflow: &str, max_lines: usize) -> Vec<LogMessage> {
        let mut executions = self.list(workflow).unwrap_or_default();
        executions.sort_by_key(|e| e.id);
        let mut budget = max_lines;
        let mut chosen = Vec::new();
        for e in executions.iter().rev() {
            let take = e.log.len().min(budget);
            budget -= take;
            chosen.push((e, e.log.len() - take));
        }
        chosen.reverse();
        let mut out = Vec::new();
        for (e, skip) in chosen {
            out.push(LogMessage::Start {
                workflow: e.workflow.clone(),
                execution: e.id,
                trigger: e.trigger,
                at: e.started,
            });
            out.extend(e.log.iter().skip(skip).map(|line| LogMessage::Line {
                workflow: e.workflow.clone(),
                execution: e.id,
                line: line.clone(),
            }));
            if let Some(at) = e.finished {
                out.push(LogMessage::Finish {
                    workflow: e.workflow.clone(),
                    execution: e.id,
                    outcome: e.outcome,
                    error: e.error.clone(),
                    at,
                });
            }
        }
        out
    }

    /// The live messages of every workflow from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogMessage> {
        self.inner.live.subscribe()
    }

    /// Drops the history of `workflow` (it was removed).
    pub fn forget(&self, workflow: &str) {
        lock(&self.inner.histories).remove(workflow);
    }

    fn with_execution(&self, workflow: &str, id: u64, f: impl FnOnce(&mut Execution)) {
        let mut histories = lock(&self.inner.histories);
        if let Some(e) = histories
            .get_mut(workflow)
            .and_then(|h| h.recent.iter_mut().find(|e| e.id == id))
        {
            f(e);
        }
    }
}

/// The writing end of one execution: its lines and its end. Cheap to clone; every clone writes to the same
/// execution.
#[derive(Debug, Clone)]
pub struct ExecutionLog {
    executions: Executions,
    workflow: String,
    id: u64,
    seq: Arc<AtomicU64>,
    kept_bytes: Arc<AtomicU64>,
}

impl ExecutionLog {
    /// The execution id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The workflow.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// Writes one line (a text with newlines is split into lines).
    pub fn line(&self, stream: Stream, text: &str) {
        for part in text.split('\n') {
            self.one_line(stream, part.trim_end_matches('\r'));
        }
    }

    fn one_line(&self, stream: Stream, text: &str) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let text = truncate_line(text);
        let size = text.len() as u64;
        let within_budget = self
            .kept_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
                (kept + size <= MAX_EXECUTION_LOG_BYTES as u64).then_some(kept + size)
            })
            .is_ok();
        let max = self.executions.inner.max_lines;
        let mut line = None;
        self.executions.with_execution(&self.workflow, self.id, |e| {
            if within_budget && e.log.len() < max {
                let kept = LogLine {
                    seq,
                    at: Utc::now(),
                    stream,
                    text: text.clone().into_owned(),
                };
                e.log.push(kept.clone());
                line = Some(kept);
            } else {
                e.dropped_lines += 1;
            }
        });
        let Some(line) = line else {
            if within_budget {
                self.kept_bytes.fetch_sub(size, Ordering::Relaxed);
            }
            return;
        };
        tracing::debug!(workflow = %self.workflow, execution = self.id, "{}", line.text);
        let _ = self.executions.inner.live.send(LogMessage::Line {
            workflow: self.workflow.clone(),
            execution: self.id,
            line,
        });
    }

    /// Records the end of the run; a failed run is also kept among the failed ones.
    pub fn finish(&self, outcome: Outcome, reason: Option<FailureReason>, error: Option<String>) {
        let finished = Utc::now();
        let mut histories = lock(&self.executions.inner.histories);
        let keep = self.executions.inner.keep;
        if let Some(history) = histories.get_mut(&self.workflow) {
            let mut done = None;
            if let Some(e) = history.recent.iter_mut().find(|e| e.id == self.id) {
                e.finished = Some(finished);
                e.duration_ms = u64::try_from((finished - e.started).num_milliseconds()).ok();
                e.outcome = outcome;
                e.reason = reason;
                e.error = error.as_deref().map(|t| truncate_line(t).into_owned());
                done = Some(e.clone());
            }
            if let (Some(e), Outcome::Failed) = (done, outcome) {
                history.failed.push_front(e);
                history.failed.truncate(keep);
            }
        }
        drop(histories);
        let _ = self.executions.inner.live.send(LogMessage::Finish {
            workflow: self.workflow.clone(),
            execution: self.id,
            outcome,
            error: error.as_deref().map(|t| truncate_line(t).into_owned()),
            at: finished,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_runs_and_the_last_failures_are_kept() {
        let executions = Executions::new(2, 10);
        let first = executions.begin("w", Trigger::Daemon);
        first.finish(Outcome::Failed, Some(FailureReason::Error), Some("boom".into()));
        for _ in 0..3 {
            executions
                .begin("w", Trigger::Daemon)
                .finish(Outcome::Succeeded, None, None);
        }
        let kept = executions.list("w").unwrap();
        let ids: Vec<u64> = kept.iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 1]);
        assert_eq!(kept[2].error.as_deref(), Some("boom"));
        assert!(executions.list("other").is_none());
    }

    #[test]
    fn lines_beyond_the_cap_are_counted_not_kept() {
        let executions = Executions::new(4, 2);
        let log = executions.begin("w", Trigger::Event);
        log.line(Stream::Stdout, "a\nb\nc");
        log.finish(Outcome::Succeeded, None, None);
        let e = &executions.list("w").unwrap()[0];
        let texts: Vec<&str> = e.log.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        assert_eq!(e.dropped_lines, 1);
    }

    #[test]
    fn a_long_line_is_cut_with_a_marker() {
        let executions = Executions::new(4, 10);
        let mut live = executions.subscribe();
        let log = executions.begin("w", Trigger::Event);
        log.line(Stream::Stdout, &"é".repeat(MAX_LINE_BYTES));
        let e = &executions.list("w").unwrap()[0];
        let text = &e.log[0].text;
        assert!(text.len() < MAX_LINE_BYTES + 40, "{} bytes kept", text.len());
        assert!(
            text.ends_with(&format!("… [truncated {} bytes]", MAX_LINE_BYTES)),
            "{}",
            &text[text.len() - 40..]
        );
        live.try_recv().unwrap();
        match live.try_recv().unwrap() {
            LogMessage::Line { line, .. } => assert_eq!(&line.text, text),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_execution_keeps_at_most_its_byte_budget() {
        let executions = Executions::new(4, 100_000);
        let mut live = executions.subscribe();
        let log = executions.begin("w", Trigger::Event);
        let big = "x".repeat(4 << 20);
        for _ in 0..200 {
            log.line(Stream::Stdout, &big);
        }
        let e = &executions.list("w").unwrap()[0];
        let kept: usize = e.log.iter().map(|l| l.text.len()).sum();
        assert!(kept <= MAX_EXECUTION_LOG_BYTES, "{kept} bytes kept");
        assert!(e.log.len() > 100, "{} lines kept", e.log.len());
        assert_eq!(e.log.len() as u64 + e.dropped_lines, 200);
        let mut sent = 0;
        while let Ok(m) = live.try_recv() {
            if matches!(m, LogMessage::Line { .. }) {
                sent += 1;
            }
        }
        assert_eq!(sent, e.log.len());
    }

    #[test]
    fn replay_ends_with_the_newest_lines() {
        let executions = Executions::new(4, 100);
        for run in 0..2 {
            let log = executions.begin("w", Trigger::Daemon);
            for i in 0..3 {
                log.line(Stream::Stdout, &format!("{run}-{i}"));
            }
            log.finish(Outcome::Succeeded, None, None);
        }
        let texts: Vec<String> = executions
            .replay("w", 4)
            .into_iter()
            .filter_map(|m| match m {
                LogMessage::Line { line, .. } => Some(line.text),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["0-2", "1-0", "1-1", "1-2"]);
    }

    #[test]
    fn live_messages_follow_start_lines_and_finish() {
        let executions = Executions::new(4, 100);
        let mut live = executions.subscribe();
        let log = executions.begin("w", Trigger::Cron);
        log.line(Stream::Stderr, "careful");
        log.finish(Outcome::Stopped, None, Some("suspended".into()));
        let names: Vec<&str> = (0..3).map(|_| live.try_recv().unwrap().name()).collect();
        assert_eq!(names, ["execution-start", "execution-log", "execution-finish"]);
    }
}
