//! What every backend's watch needs to survive a lost connection: a capped exponential [`Backoff`] between
//! reconnect attempts, a [`Closed`] signal that ends watches when their store is dropped, and [`Reconnect`], the
//! state between attempts that the etcd, Redis, ZooKeeper and Consul watches all run on (when to wait, which
//! failures to deliver, when to end).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use vamp_core::kv::Versioned;
use vamp_core::Error;

/// Delays between reconnect attempts: `first`, doubling up to `cap`; [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `first` and doubles up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Backoff {
            first,
            cap,
            next: first,
        }
    }

    /// 50 ms doubling to 1 s: a stopped server is retried at least once a second, so a watch resumes within
    /// about a second of the server answering again.
    pub fn for_watches() -> Self {
        Self::new(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// The delay before the next attempt; each call doubles the one after, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    /// Back to the first delay, after an attempt succeeded.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// The store's side of the close signal: held by the store, dropped with it.
#[derive(Debug)]
pub struct CloseOnDrop(#[allow(dead_code)] watch::Sender<()>);

/// The watch's side of the close signal: [`Closed::wait`] returns once the store's [`CloseOnDrop`] is dropped.
#[derive(Debug, Clone)]
pub struct Closed(watch::Receiver<()>);

/// A linked pair: the store keeps the first, every watch gets a clone of the second.
pub fn close_signal() -> (CloseOnDrop, Closed) {
    let (tx, rx) = watch::channel(());
    (CloseOnDrop(tx), Closed(rx))
}

impl Closed {
    /// Whether the store is gone.
    pub fn is_closed(&self) -> bool {
        self.0.has_changed().is_err()
    }

    /// Waits until the store is gone (forever while it lives). Cancel-safe: use it as a `select!` branch.
    pub async fn wait(&mut self) {
        while self.0.changed().await.is_ok() {}
    }

    /// Sleeps for `delay`; `false` when the store was dropped in the meantime (the watch should end).
    pub async fn sleep(&mut self, delay: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = self.wait() => false,
        }
    }
}

/// How a watch tells its consumer about the failed attempts of an outage. A non-retryable error is always
/// delivered, and the stream ends after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    /// The first failure of an outage is delivered as one `Err` item; later attempts retry quietly until one
    /// succeeds. Paced by [`Backoff::for_watches`]. The etcd and Redis watches.
    FirstOfOutage,
    /// Every failed attempt is delivered as an `Err` item. Paced by 100 ms doubling to 2 s, slower than
    /// [`Backoff::for_watches`], so an outage yields fewer items. The ZooKeeper and Consul watches.
    EveryFailure,
}

impl Reporting {
    /// The pace of reconnect attempts that goes with this way of reporting.
    pub fn backoff(self) -> Backoff {
        match self {
            Reporting::FirstOfOutage => Backoff::for_watches(),
            Reporting::EveryFailure => Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
        }
    }
}

/// The reconnect state of one watch: whether the next attempt waits out a backoff delay, which failures are
/// delivered ([`Reporting`]), and whether the watch has ended (its store dropped, or a non-retryable error
/// delivered).
///
/// A watch loop calls [`Reconnect::ready`] before every attempt, runs what may block through
/// [`Reconnect::unless_closed`], and reports each attempt's outcome with [`Reconnect::succeeded`] or
/// [`Reconnect::failed`].
#[derive(Debug)]
pub struct Reconnect {
    closed: Closed,
    backoff: Backoff,
    reporting: Reporting,
    back_off_first: bool,
    outage_reported: bool,
    finished: bool,
}

impl Reconnect {
    /// The state of a new watch of the store that holds the other side of `closed`.
    pub fn new(closed: Closed, reporting: Reporting) -> Self {
        Reconnect {
            closed,
            backoff: reporting.backoff(),
            reporting,
            back_off_first: false,
            outage_reported: false,
            finished: false,
        }
    }

    /// Waits until the next attempt may run: at once after a success, after the backoff delay after a failure.
    /// `false` when the watch ends instead: its store was dropped, or a non-retryable error was delivered.
    pub async fn ready(&mut self) -> bool {
        if self.finished || self.closed.is_closed() {
            return false;
        }
        if std::mem::take(&mut self.back_off_first) {
            let delay = self.backoff.next_delay();
            return self.closed.sleep(delay).await;
        }
        true
    }

    /// The output of `step` (an attempt, or a wait for the next change); `None` when the store is dropped first,
    /// and the watch should end.
    pub async fn unless_closed<F: Future>(&mut self, step: F) -> Option<F::Output> {
        tokio::select! {
            output = step => Some(output),
            _ = self.closed.wait() => None,
        }
    }

    /// Sleeps for `delay` outside the backoff (a pause the backend asks for); `false` when the store was dropped
    /// in the meantime.
    pub async fn pause(&mut self, delay: Duration) -> bool {
        self.closed.sleep(delay).await
    }

    /// Records a successful attempt: the backoff starts again from its first delay, and the next failure begins
    /// a new outage.
    pub fn succeeded(&mut self) {
        self.outage_reported = false;
        self.backoff.reset();
    }

    /// Records a failed attempt and returns the error to deliver, if any: a non-retryable one always (the watch
    /// ends after it), a retryable one as [`Reporting`] says. The next attempt waits out the backoff delay.
    pub fn failed(&mut self, error: Error) -> Option<Error> {
        self.back_off_first = true;
        if !error.is_retryable() {
            self.finished = true;
            return Some(error);
        }
        let first = !std::mem::replace(&mut self.outage_reported, true);
        (first || self.reporting == Reporting::EveryFailure).then_some(error)
    }
}

/// `current`, or the item a watch delivers for a key without value (no value, version 0).
pub fn or_absent(current: Option<Versioned>) -> Versioned {
    current.unwrap_or(Versioned {
        value: None,
        version: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [10, 20, 35, 35]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }

    #[tokio::test]
    async fn closed_fires_when_the_store_side_is_dropped() {
        let (store_side, mut watch_side) = close_signal();
        assert!(!watch_side.is_closed());
        assert!(
            watch_side.sleep(Duration::from_millis(1)).await,
            "a live store lets the sleep finish"
        );
        drop(store_side);
        assert!(watch_side.is_closed());
        let ended = tokio::time::timeout(Duration::from_secs(5), watch_side.wait()).await;
        assert!(ended.is_ok(), "wait must return once the store is dropped");
        assert!(!watch_side.sleep(Duration::from_secs(60)).await);
    }

    #[test]
    fn each_reporting_has_its_pace() {
        let mut quiet = Reporting::FirstOfOutage.backoff();
        let quiet: Vec<_> = (0..6).map(|_| quiet.next_delay().as_millis()).collect();
        assert_eq!(quiet, [50, 100, 200, 400, 800, 1000]);
        let mut every = Reporting::EveryFailure.backoff();
        let every: Vec<_> = (0..6).map(|_| every.next_delay().as_millis()).collect();
        assert_eq!(every, [100, 200, 400, 800, 1600, 2000]);
    }

    fn lost() -> Error {
        Error::unavailable("lost the connection")
    }

    #[tokio::test]
    async fn only_the_first_failure_of_an_outage_is_delivered() {
        let (_store, closed) = close_signal();
        let mut reconnect = Reconnect::new(closed, Reporting::FirstOfOutage);
        assert!(reconnect.failed(lost()).is_some());
        assert!(reconnect.failed(lost()).is_none());
        assert!(reconnect.failed(lost()).is_none());
        reconnect.succeeded();
        assert!(reconnect.failed(lost()).is_some(), "a success ends the outage");
    }

    #[tokio::test]
    async fn every_failure_is_delivered_when_asked() {
        let (_store, closed) = close_signal();
        let mut reconnect = Reconnect::new(closed, Reporting::EveryFailure);
        for _ in 0..3 {
            assert!(reconnect.failed(lost()).is_some());
        }
    }

    #[tokio::test]
    async fn a_non_retryable_error_is_delivered_and_ends_the_watch() {
        let (_store, closed) = close_signal();
        let mut reconnect = Reconnect::new(closed, Reporting::FirstOfOutage);
        assert!(reconnect.failed(lost()).is_some());
        let refused = reconnect.failed(Error::invalid("bad"));
        assert!(refused.is_some_and(|e| !e.is_retryable()));
        assert!(!reconnect.ready().await);
    }

    #[tokio::test]
    async fn after_a_failure_the_next_attempt_waits_out_the_backoff() {
        let (_store, closed) = close_signal();
        let mut reconnect = Reconnect::new(closed, Reporting::FirstOfOutage);
        let started = tokio::time::Instant::now();
        assert!(reconnect.ready().await);
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "no wait before the first attempt"
        );
        reconnect.failed(lost());
        let started = tokio::time::Instant::now();
        assert!(reconnect.ready().await);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_dropped_store_ends_the_watch_at_every_step() {
        let (store, closed) = close_signal();
        let mut reconnect = Reconnect::new(closed, Reporting::EveryFailure);
        reconnect.failed(lost());
        drop(store);
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            (
                reconnect.ready().await,
                reconnect.unless_closed(std::future::pending::<()>()).await,
                reconnect.pause(Duration::from_secs(60)).await,
            )
        })
        .await;
        assert_eq!(end.ok(), Some((false, None, false)));
    }

    #[test]
    fn a_missing_value_is_absent_at_version_zero() {
        assert_eq!(
            or_absent(None),
            Versioned {
                value: None,
                version: 0
            }
        );
        let present = Versioned {
            value: Some(b"v".to_vec()),
            version: 7,
        };
        assert_eq!(or_absent(Some(present.clone())), present);
    }
}
