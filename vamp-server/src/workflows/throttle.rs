//! `Throttle`: rate-limits a repeated warning (a dropped event, a skipped run) to one log line per period,
//! carrying how many occurrences it stands for.

use std::time::{Duration, Instant};

/// Counts occurrences and says when one should be logged: the first at once, then at most one per period.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    /// Logs at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Throttle {
            every,
            last: None,
            count: 0,
        }
    }

    /// Counts one occurrence at `now`; `Some(n)` when it is time to log, `n` the occurrences since the last
    /// log (this one included).
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_log_per_period_counts_the_occurrences_between() {
        let mut throttle = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(throttle.hit(start), Some(1));
        for i in 1..=99 {
            assert_eq!(throttle.hit(start + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(throttle.hit(start + Duration::from_secs(10)), Some(100));
        assert_eq!(throttle.hit(start + Duration::from_secs(11)), None);
    }
}
