//! Whole releases through the canary judge, simulated second by second the way the server's canary loop drives
//! it (`early` every tick, `judge` at the end of each interval, waits keeping their samples), with latencies as
//! HAProxy logs them (whole milliseconds) and the noise of real services: jitter and 40–50 ms stalls on 3% of
//! requests. The default policy throughout.
//!
//! - identical canaries (A/A) at high and low traffic are promoted: at most 1 false rollback in 100 releases
//!   (the policy's 95% confidence allows 5; the error budget makes it far rarer);
//! - a canary answering 20% 5xx, one 50 ms slower on half its requests, and one 10% slower are rolled back
//!   within two intervals at 400 requests per second.
//!
//! Seeds are fixed: the runs are repeatable, and a change to the judge that raises the false-alarm rate fails
//! here first.

use vamp_core::metrics::MetricsWindow;
use vamp_core::model::CanaryPolicy;
use vamp_core::ops::canary::{early, judge, Decision, Interval, Sample};

/// A splitmix64 generator: repeatable, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How one version answers.
#[derive(Debug, Clone, Copy)]
struct Service {
    /// The fixed part of every latency, ms.
    delay: f64,
    /// Uniform extra latency 0..jitter, ms.
    jitter: f64,
    /// Share of requests with +50 ms.
    slow: f64,
    /// Share of requests answered 500.
    errors: f64,
}

impl Service {
    fn fast() -> Service {
        Service {
            delay: 0.2,
            jitter: 2.0,
            slow: 0.0,
            errors: 0.0,
        }
    }

    fn slow() -> Service {
        Service {
            delay: 100.0,
            jitter: 4.0,
            ..Service::fast()
        }
    }

    /// One request: status and latency in whole milliseconds, as HAProxy logs it.
    fn answer(&self, rng: &mut Rng) -> (u16, f64) {
        let mut ms = self.delay + self.jitter * rng.unit();
        if rng.unit() < 0.03 {
            ms += 40.0 + 10.0 * rng.unit();
        }
        if rng.unit() < self.slow {
            ms += 50.0;
        }
        let status = if rng.unit() < self.errors { 500 } else { 200 };
        (status, ms.floor())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Promoted,
    RolledBack,
    Paused,
}

struct Outcome {
    end: End,
    /// Intervals judged at a weight above 0 (waits included) until the end, ends of intervals and early
    /// decisions alike.
    intervals: f64,
}

/// One release of `canary` against `baseline` at `rate` requests per second.
fn release(rate: u32, baseline: Service, canary: Service, rng: &mut Rng) -> Outcome {
    let policy = CanaryPolicy::new("a", "b");
    let interval = policy.interval.0;
    let empty = Sample::default();
    let start = judge(&Interval {
        policy: &policy,
        canary_weight: 0,
        baseline: &empty,
        canary: &empty,
        waits: 0,
    });
    let Decision::Advance { to_weight } = start.decision else {
        panic!("{start:?}")
    };
    let mut weight = to_weight;
    let (mut b, mut c) = (MetricsWindow::new(), MetricsWindow::new());
    let (mut waits, mut elapsed, mut seconds) = (0u32, 0u64, 0u64);
    while seconds < 3_600 {
        seconds += 1;
        elapsed += 1;
        for _ in 0..rate {
            if rng.unit() * 100.0 < f64::from(weight) {
                let (status, ms) = canary.answer(rng);
                c.record(status, ms);
            } else {
                let (status, ms) = baseline.answer(rng);
                b.record(status, ms);
            }
        }
        let (bs, cs) = (Sample::of(&b), Sample::of(&c));
        let at = Interval {
            policy: &policy,
            canary_weight: weight,
            baseline: &bs,
            canary: &cs,
            waits,
        };
        let judgement = if elapsed >= interval {
            judge(&at)
        } else {
            match early(&at) {
                Some(j) => j,
                None => continue,
            }
        };
        let intervals = seconds as f64 / interval as f64;
        match judgement.decision {
            Decision::Wait => {
                waits += 1;
                elapsed = 0;
            }
            Decision::Advance { to_weight } => {
                weight = to_weight;
                (b, c) = (MetricsWindow::new(), MetricsWindow::new());
                (waits, elapsed) = (0, 0);
            }
            Decision::Promote => {
                return Outcome {
                    end: End::Promoted,
                    intervals,
                }
            }
            Decision::Rollback => {
                return Outcome {
                    end: End::RolledBack,
                    intervals,
                }
            }
            Decision::Pause => {
                return Outcome {
                    end: End::Paused,
                    intervals,
                }
            }
        }
    }
    Outcome {
        end: End::Paused,
        intervals: seconds as f64 / interval as f64,
    }
}

fn releases(n: usize, rate: u32, baseline: Service, canary: Service, seed: u64) -> Vec<Outcome> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| release(rate, baseline, canary, &mut rng))
        .collect()
}

fn summary(name: &str, outcomes: &[Outcome]) {
    let mut took: Vec<f64> = outcomes.iter().map(|o| o.intervals).collect();
    took.sort_by(f64::total_cmp);
    eprintln!(
        "{name}: {} promoted, {} rolled back, {} paused; intervals median {:.1}, max {:.1}",
        count(outcomes, End::Promoted),
        count(outcomes, End::RolledBack),
        count(outcomes, End::Paused),
        took[took.len() / 2],
        took[took.len() - 1]
    );
}

fn count(outcomes: &[Outcome], end: End) -> usize {
    outcomes.iter().filter(|o| o.end == end).count()
}

#[test]
fn identical_canaries_are_promoted_at_high_traffic() {
    for (name, service) in [("fast", Service::fast()), ("slow", Service::slow())] {
        let outcomes = releases(100, 400, service, service, 1);
        summary(name, &outcomes);
        let rolled_back = count(&outcomes, End::RolledBack);
        assert!(
            rolled_back <= 1,
            "{name}: {rolled_back} of 100 identical canaries rolled back"
        );
        assert!(
            count(&outcomes, End::Promoted) >= 99,
            "{name}: {} promoted",
            count(&outcomes, End::Promoted)
        );
    }
}

#[test]
fn identical_canaries_are_promoted_at_low_traffic() {
    let outcomes = releases(40, 20, Service::fast(), Service::fast(), 2);
    summary("low traffic", &outcomes);
    assert_eq!(count(&outcomes, End::RolledBack), 0);
    assert!(
        count(&outcomes, End::Promoted) >= 39,
        "{} of 40 promoted, {} paused",
        count(&outcomes, End::Promoted),
        count(&outcomes, End::Paused)
    );
}

#[test]
fn regressions_are_rolled_back_within_two_intervals_at_high_traffic() {
    let cases = [
        (
            "20% 5xx",
            Service::fast(),
            Service {
                errors: 0.2,
                ..Service::fast()
            },
        ),
        (
            "+50 ms on half the requests",
            Service::fast(),
            Service {
                slow: 0.5,
                ..Service::fast()
            },
        ),
        (
            "+10% latency",
            Service::slow(),
            Service {
                delay: 110.0,
                ..Service::slow()
            },
        ),
    ];
    for (name, baseline, canary) in cases {
        let outcomes = releases(20, 400, baseline, canary, 3);
        summary(name, &outcomes);
        assert_eq!(count(&outcomes, End::RolledBack), 20, "{name}");
        let slowest = outcomes.iter().map(|o| o.intervals).fold(0.0, f64::max);
        assert!(slowest <= 2.0, "{name}: the slowest took {slowest} intervals");
    }
}
