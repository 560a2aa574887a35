//! What every backend's watch needs to survive a lost connection: a capped exponential [`Backoff`] between
//! reconnect attempts, and a [`Closed`] signal that ends watches when their store is dropped.

use std::time::Duration;

use tokio::sync::watch;

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
}
