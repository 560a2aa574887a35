//! What the accept loop does when accepting fails: when the process or the system is out of file descriptors
//! (or memory), it pauses — 10 ms, doubling up to a maximum — instead of retrying at once, which would spin a
//! core while the connections waiting in the backlog cannot be taken; and it logs at most one warning per
//! [`LOG_EVERY`], counting the failures in between. Other failures concern one connection and are skipped.

use std::io;
use std::time::{Duration, Instant};

/// The shortest pause after running out of resources.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The least time between two warnings.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The back-off state of one accept loop.
#[derive(Debug)]
pub struct AcceptBackoff {
    max: Duration,
    pause: Duration,
    last_log: Option<Instant>,
    unlogged: u64,
}

/// What to do after a failed accept.
#[derive(Debug, PartialEq, Eq)]
pub struct AcceptFailure {
    /// How long to pause before accepting again (zero: at once).
    pub pause: Duration,
    /// A warning to log now, if one is due.
    pub log: Option<String>,
}

/// Whether `error` means the process or system is out of resources, so the next accept fails too.
pub fn is_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM)
    )
}

/// The errno values of resource exhaustion (Linux and the BSDs agree on these).
mod libc_errno {
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    #[cfg(target_os = "linux")]
    pub const ENOBUFS: i32 = 105;
    #[cfg(not(target_os = "linux"))]
    pub const ENOBUFS: i32 = 55;
}

impl AcceptBackoff {
    /// A back-off pausing at most `max`.
    pub fn new(max: Duration) -> Self {
        AcceptBackoff {
            max: max.max(FIRST_PAUSE),
            pause: Duration::ZERO,
            last_log: None,
            unlogged: 0,
        }
    }

    /// A connection was accepted: the next exhaustion starts again with the shortest pause.
    pub fn accepted(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// Accepting failed with `error` at `now`.
    pub fn failed(&mut self, error: &io::Error, now: Instant) -> AcceptFailure {
        if !is_exhaustion(error) {
            return AcceptFailure {
                pause: Duration::ZERO,
                log: None,
            };
        }
        self.pause = if self.pause.is_zero() {
            FIRST_PAUSE
        } else {
            (self.pause * 2).min(self.max)
        };
        self.unlogged += 1;
        let due = self.last_log.is_none_or(|t| now.duration_since(t) >= LOG_EVERY);
        let log = due.then(|| {
            let text = format!(
                "accepting connections failed {} time(s): {error}; pausing up to {} ms between tries \
                 (raise the open-files limit, `ulimit -n`)",
                self.unlogged,
                self.max.as_millis()
            );
            self.last_log = Some(now);
            self.unlogged = 0;
            text
        });
        AcceptFailure {
            pause: self.pause,
            log,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[test]
    fn exhaustion_pauses_doubling_to_the_maximum_and_resets_on_accept() {
        let mut b = AcceptBackoff::new(Duration::from_millis(100));
        let now = Instant::now();
        let pauses: Vec<u128> = (0..6)
            .map(|_| b.failed(&emfile(), now).pause.as_millis())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 100, 100]);
        b.accepted();
        assert_eq!(b.failed(&emfile(), now).pause, Duration::from_millis(10));
    }

    #[test]
    fn warnings_are_logged_at_most_once_per_period_with_the_count() {
        let mut b = AcceptBackoff::new(Duration::from_secs(1));
        let start = Instant::now();
        assert!(b.failed(&emfile(), start).log.is_some());
        let quiet = (0..1000)
            .filter(|i| {
                b.failed(&emfile(), start + Duration::from_millis(*i))
                    .log
                    .is_some()
            })
            .count();
        assert_eq!(quiet, 0);
        let later = b.failed(&emfile(), start + LOG_EVERY).log.unwrap();
        assert!(later.contains("1001 time(s)"), "{later}");
    }

    #[test]
    fn other_failures_do_not_pause() {
        let mut b = AcceptBackoff::new(Duration::from_secs(1));
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(
            b.failed(&reset, Instant::now()),
            AcceptFailure {
                pause: Duration::ZERO,
                log: None
            }
        );
    }
}
