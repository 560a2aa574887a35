//! `BoundedQueue`: the buffer between the log pipeline and one slow sink. Pushing never waits: when the queue
//! is full the oldest entry is dropped and counted, as the original agent's 4096-entry channel did.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// A multi-producer, single-consumer FIFO of at most `capacity` entries that drops its oldest entry to make
/// room.
#[derive(Debug)]
pub struct BoundedQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    dropped: AtomicU64,
    closed: AtomicBool,
    ready: Notify,
}

impl<T> BoundedQueue<T> {
    /// An empty queue holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BoundedQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity,
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `item`, dropping the oldest entry when full. Returns whether one was dropped. Never blocks on
    /// the consumer (only on the short internal lock).
    pub fn push(&self, item: T) -> bool {
        let dropped = {
            let mut items = self.lock();
            let dropped = if items.len() >= self.capacity {
                items.pop_front().is_some()
            } else {
                false
            };
            items.push_back(item);
            dropped
        };
        if dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.ready.notify_one();
        dropped
    }

    /// Up to `max` entries, oldest first, waiting until there is at least one. Empty only once the queue is
    /// closed and drained.
    pub async fn pop_batch(&self, max: usize) -> Vec<T> {
        loop {
            {
                let mut items = self.lock();
                if !items.is_empty() {
                    let n = items.len().min(max.max(1));
                    return items.drain(..n).collect();
                }
            }
            if self.closed.load(Ordering::Acquire) {
                return Vec::new();
            }
            self.ready.notified().await;
        }
    }

    /// The oldest entry, waiting until there is one; `None` once closed and drained.
    pub async fn pop(&self) -> Option<T> {
        self.pop_batch(1).await.into_iter().next()
    }

    /// Wakes the consumer for good: after the remaining entries, pops return nothing.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries dropped to make room, since creation.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_it() {
        let q = BoundedQueue::new(3);
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.pop_batch(10).await, vec![2, 3, 4]);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = std::sync::Arc::new(BoundedQueue::new(2));
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.push("line");
        assert_eq!(consumer.await.unwrap(), Some("line"));
    }

    #[tokio::test]
    async fn a_closed_queue_drains_then_ends() {
        let q = BoundedQueue::new(2);
        q.push(1);
        q.close();
        assert_eq!(q.pop().await, Some(1));
        assert_eq!(q.pop().await, None);
    }

    #[test]
    fn pushing_to_a_queue_nobody_reads_never_blocks() {
        let q = BoundedQueue::new(100);
        for i in 0..100_000 {
            q.push(i);
        }
        assert_eq!((q.len(), q.dropped()), (100, 99_900));
    }
}
