//! SLA decisions (the original's `SlaActor`): resolve a cluster's SLA, then decide for a
//! `response_time_sliding_window` SLA, from the mean response times measured on the cluster's gateways over the
//! window's interval, whether to escalate, de-escalate or hold — with the original's cooldown — and describe
//! the decision as the SLA event the original published.
//!
//! SLA events carry the tags `sla`, `deployment:<d>`, `cluster:<c>` and `sla:escalate` or `sla:deescalate`
//! (`model/notification/SlaEvent.scala`); anyone may publish them, and the escalations
//! ([`super::escalation`]) act on them whoever published them.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::model::{Escalation, Event, Ref, Sla, SlaKind};
use crate::{Error, Result};

/// The event type of the SLA and escalation events Vamp publishes (the original used the default `event`).
pub const SLA_EVENT_TYPE: &str = "sla";

/// How deeply SLA references may chain before resolution gives up (a reference cycle).
const MAX_REFERENCE_DEPTH: usize = 8;

/// Which way an SLA event asks the escalations to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The SLA is violated: add resources.
    Escalate,
    /// The cluster is comfortably within the SLA: give resources back.
    DeEscalate,
}

impl Direction {
    /// `escalate` or `deescalate`, as in the tags.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Escalate => "escalate",
            Direction::DeEscalate => "deescalate",
        }
    }

    /// The event tag: `sla:escalate` or `sla:deescalate`.
    pub fn tag(self) -> String {
        format!("sla:{}", self.name())
    }

    /// The direction an event's tags ask for: `sla:escalate` or `sla:deescalate`; `None` for neither, and for
    /// both (a contradictory event is ignored rather than guessed at).
    pub fn of_tags(tags: &BTreeSet<String>) -> Option<Direction> {
        let up = tags.contains(&Direction::Escalate.tag());
        let down = tags.contains(&Direction::DeEscalate.tag());
        match (up, down) {
            (true, false) => Some(Direction::Escalate),
            (false, true) => Some(Direction::DeEscalate),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tags every SLA event of `cluster` in `deployment` carries: `sla`, `deployment:<d>`, `cluster:<c>`.
/// A query for them finds the cluster's escalate and de-escalate events alike (the cooldown check).
pub fn sla_tags(deployment: &str, cluster: &str) -> Vec<String> {
    vec![
        "sla".to_string(),
        format!("deployment:{deployment}"),
        format!("cluster:{cluster}"),
    ]
}

/// The deployment and cluster an SLA event is about, from its `deployment:<d>` and `cluster:<c>` tags; `None`
/// unless it has exactly one of each.
pub fn event_target(tags: &BTreeSet<String>) -> Option<(String, String)> {
    let one = |prefix: &str| {
        let mut found = tags.iter().filter_map(|t| t.strip_prefix(prefix));
        match (found.next(), found.next()) {
            (Some(v), None) if !v.is_empty() => Some(v.to_string()),
            _ => None,
        }
    };
    Some((one("deployment:")?, one("cluster:")?))
}

/// A `response_time_sliding_window` SLA's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// Escalate above this mean response time, ms.
    pub upper_ms: u64,
    /// De-escalate below this mean response time, ms.
    pub lower_ms: u64,
    /// The span the response time is measured over.
    pub interval: Duration,
    /// The extra quiet time after an SLA event before the next decision.
    pub cooldown: Duration,
}

impl SlidingWindow {
    /// How long after an SLA event of the cluster no new decision is taken: `interval + cooldown` (the original:
    /// an SLA event within that span before now holds the check).
    pub fn quiet_period(&self) -> Duration {
        self.interval.saturating_add(self.cooldown)
    }

    /// Until when an SLA event at `last_event` holds decisions; `None` when it no longer does at `now`.
    /// Both ends are inclusive, as the original's query (`gte now - (interval + cooldown)`, `lte now`) was.
    pub fn quiet_until(&self, last_event: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let quiet = chrono::Duration::from_std(self.quiet_period()).unwrap_or(chrono::Duration::MAX);
        let until = last_event
            .checked_add_signed(quiet)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        (last_event <= now && now <= until).then_some(until)
    }

    /// The numbers of the SLA, as they appear in event values.
    fn json(&self) -> serde_json::Value {
        json!({
            "threshold": {"upper": self.upper_ms, "lower": self.lower_ms},
            "window": {"interval": self.interval.as_secs(), "cooldown": self.cooldown.as_secs()},
        })
    }
}

/// What the SLA loop does with a cluster's SLA.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaCheck {
    /// Measure the response time and decide ([`decide`]).
    ResponseTime(SlidingWindow),
    /// Nothing to measure: only SLA events published by others trigger the escalations.
    EscalationOnly,
    /// A type Vamp does not measure (the original's `UnsupportedSlaType`): logged, no action; its escalations
    /// still answer SLA events others publish.
    Unsupported(String),
}

/// A cluster's SLA with references resolved: what to check and the escalations to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSla {
    /// What to measure.
    pub check: SlaCheck,
    /// The escalations, still possibly referring to stored escalations by name.
    pub escalations: Vec<Ref<Escalation>>,
}

/// Resolves a cluster's SLA: a reference by name through `lookup` (the stored SLAs), and a
/// `{reference: name, escalations: […]}` to the stored SLA's check with its own escalations when it gives some
/// (else the stored SLA's). Fails with `NotFound` naming the SLA when `lookup` does not know it, and with
/// `Invalid` for references that chain more than a few levels (a cycle).
pub fn resolve_sla(sla: &Ref<Sla>, lookup: &dyn Fn(&str) -> Option<Sla>) -> Result<ResolvedSla> {
    let mut current = match sla {
        Ref::Inline(s) => s.clone(),
        Ref::Named(name) => stored(name, lookup)?,
    };
    let mut escalations = current.escalations.clone();
    for _ in 0..MAX_REFERENCE_DEPTH {
        let next = match &current.kind {
            SlaKind::ResponseTimeSlidingWindow {
                upper,
                lower,
                interval,
                cooldown,
            } => {
                return Ok(ResolvedSla {
                    check: SlaCheck::ResponseTime(SlidingWindow {
                        upper_ms: *upper,
                        lower_ms: *lower,
                        interval: Duration::from_secs(*interval),
                        cooldown: Duration::from_secs(*cooldown),
                    }),
                    escalations,
                })
            }
            SlaKind::EscalationOnly => {
                return Ok(ResolvedSla {
                    check: SlaCheck::EscalationOnly,
                    escalations,
                })
            }
            SlaKind::Generic { kind, .. } => {
                return Ok(ResolvedSla {
                    check: SlaCheck::Unsupported(kind.clone()),
                    escalations,
                })
            }
            SlaKind::Reference(name) => stored(name, lookup)?,
        };
        if escalations.is_empty() {
            escalations = next.escalations.clone();
        }
        current = next;
    }
    Err(Error::invalid(format!(
        "The SLA references chain more than {MAX_REFERENCE_DEPTH} levels deep (a cycle?); the last was '{}'.",
        current.name
    )))
}

fn stored(name: &str, lookup: &dyn Fn(&str) -> Option<Sla>) -> Result<Sla> {
    lookup(name).ok_or_else(|| Error::not_found(format!("The SLA '{name}' does not exist.")))
}

/// The mean response time measured on one gateway of the cluster (`deployment/cluster/port`).
#[derive(Debug, Clone, PartialEq)]
pub struct PortResponseTime {
    /// The breed port name.
    pub port: String,
    /// The gateway measured.
    pub gateway: String,
    /// The mean response time over the interval, ms; `None` without requests.
    pub mean_ms: Option<f64>,
    /// The requests the mean is over.
    pub requests: u64,
}

/// The numbers a decision was taken on.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The largest mean response time over the cluster's ports, ms.
    pub response_time_ms: f64,
    /// The port it was measured on.
    pub port: String,
    /// Every port measured.
    pub ports: Vec<PortResponseTime>,
    /// The SLA's thresholds and window.
    pub window: SlidingWindow,
}

impl Measurement {
    /// The event value: the decision's direction, the response time and port decided on, each port's mean and
    /// request count, the thresholds and the window.
    pub fn value(&self, direction: Direction) -> serde_json::Value {
        let ports: serde_json::Map<String, serde_json::Value> = self
            .ports
            .iter()
            .map(|p| {
                (
                    p.port.clone(),
                    json!({"gateway": p.gateway, "response_time_ms": p.mean_ms, "requests": p.requests}),
                )
            })
            .collect();
        let mut value = self.window.json();
        if let Some(m) = value.as_object_mut() {
            m.insert("direction".into(), direction.name().into());
            m.insert("response_time_ms".into(), self.response_time_ms.into());
            m.insert("port".into(), self.port.clone().into());
            m.insert("ports".into(), ports.into());
        }
        value
    }
}

/// Why no decision was taken.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldReason {
    /// An SLA event of the cluster at `last_event` is younger than `interval + cooldown`.
    CoolingDown {
        /// The newest SLA event of the cluster.
        last_event: DateTime<Utc>,
        /// When decisions resume.
        until: DateTime<Utc>,
    },
    /// No port had requests in the interval: nothing to judge.
    NoTraffic,
    /// The response time lies between the thresholds (inclusive).
    WithinThresholds {
        /// The largest mean response time over the ports, ms.
        response_time_ms: f64,
    },
    /// The window's interval is 0 seconds: nothing can be measured.
    ZeroInterval,
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::CoolingDown { last_event, until } => write!(
                f,
                "cooling down after the SLA event of {} until {}",
                last_event.to_rfc3339(),
                until.to_rfc3339()
            ),
            HoldReason::NoTraffic => f.write_str("no requests in the window"),
            HoldReason::WithinThresholds { response_time_ms } => {
                write!(f, "{response_time_ms:.1} ms is within the thresholds")
            }
            HoldReason::ZeroInterval => f.write_str("the window's interval is 0 s"),
        }
    }
}

/// The decision on one cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaDecision {
    /// The response time is above the upper threshold.
    Escalate(Measurement),
    /// The response time is below the lower threshold.
    DeEscalate(Measurement),
    /// No decision.
    Hold {
        /// Why.
        reason: HoldReason,
    },
}

impl SlaDecision {
    /// The direction and numbers of an escalate or de-escalate decision.
    pub fn action(&self) -> Option<(Direction, &Measurement)> {
        match self {
            SlaDecision::Escalate(m) => Some((Direction::Escalate, m)),
            SlaDecision::DeEscalate(m) => Some((Direction::DeEscalate, m)),
            SlaDecision::Hold { .. } => None,
        }
    }

    /// The SLA event of an escalate or de-escalate decision on `cluster` of `deployment`: tags `sla`,
    /// `deployment:<d>`, `cluster:<c>`, `sla:escalate|deescalate`, type [`SLA_EVENT_TYPE`], the numbers as value.
    pub fn event(&self, deployment: &str, cluster: &str) -> Option<Event> {
        let (direction, measurement) = self.action()?;
        let mut tags = sla_tags(deployment, cluster);
        tags.push(direction.tag());
        Some(Event::new(tags, measurement.value(direction)).with_type(SLA_EVENT_TYPE))
    }
}

/// Decides on a cluster with a `response_time_sliding_window` SLA, as the original did: hold while the newest
/// SLA event of the cluster (`last_event`, whoever published it) is younger than `interval + cooldown`; else
/// take the largest mean response time over the ports that had requests — escalate when it is above `upper`,
/// de-escalate when it is below `lower`, hold otherwise, and hold when no port had requests.
pub fn decide(
    window: &SlidingWindow,
    ports: &[PortResponseTime],
    last_event: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SlaDecision {
    if let Some(last) = last_event {
        if let Some(until) = window.quiet_until(last, now) {
            return SlaDecision::Hold {
                reason: HoldReason::CoolingDown {
                    last_event: last,
                    until,
                },
            };
        }
    }
    if window.interval.is_zero() {
        return SlaDecision::Hold {
            reason: HoldReason::ZeroInterval,
        };
    }
    let slowest = ports
        .iter()
        .filter_map(|p| p.mean_ms.filter(|m| m.is_finite()).map(|m| (m, &p.port)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let Some((response_time_ms, port)) = slowest else {
        return SlaDecision::Hold {
            reason: HoldReason::NoTraffic,
        };
    };
    let measurement = || Measurement {
        response_time_ms,
        port: port.clone(),
        ports: ports.to_vec(),
        window: *window,
    };
    if response_time_ms > window.upper_ms as f64 {
        SlaDecision::Escalate(measurement())
    } else if response_time_ms < window.lower_ms as f64 {
        SlaDecision::DeEscalate(measurement())
    } else {
        SlaDecision::Hold {
            reason: HoldReason::WithinThresholds { response_time_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EscalationKind, Metadata};

    fn window() -> SlidingWindow {
        SlidingWindow {
            upper_ms: 100,
            lower_ms: 20,
            interval: Duration::from_secs(2),
            cooldown: Duration::from_secs(3),
        }
    }

    fn port(name: &str, mean_ms: Option<f64>) -> PortResponseTime {
        PortResponseTime {
            port: name.into(),
            gateway: format!("shop/web/{name}"),
            mean_ms,
            requests: if mean_ms.is_some() { 10 } else { 0 },
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn sliding_sla(name: &str) -> Sla {
        Sla {
            name: name.into(),
            metadata: Metadata::new(),
            kind: SlaKind::ResponseTimeSlidingWindow {
                upper: 800,
                lower: 150,
                interval: 120,
                cooldown: 300,
            },
            escalations: vec![Ref::Named("stored-up".into())],
        }
    }

    #[test]
    fn slower_than_upper_escalates_with_its_numbers() {
        let d = decide(&window(), &[port("web", Some(180.0))], None, at(0));
        let SlaDecision::Escalate(m) = &d else {
            panic!("expected escalate, got {d:?}")
        };
        assert_eq!(m.response_time_ms, 180.0);
        let event = d.event("shop", "web").unwrap();
        let tags: Vec<&str> = event.tags.iter().map(String::as_str).collect();
        assert_eq!(
            tags,
            [
                "cluster",
                "cluster:web",
                "deployment",
                "deployment:shop",
                "sla",
                "sla:escalate"
            ]
        );
        assert_eq!(event.kind, "sla");
        assert_eq!(event.value["direction"], "escalate");
        assert_eq!(event.value["response_time_ms"], 180.0);
        assert_eq!(event.value["threshold"]["upper"], 100);
        assert_eq!(event.value["window"]["cooldown"], 3);
        assert_eq!(event.value["ports"]["web"]["requests"], 10);
    }

    #[test]
    fn faster_than_lower_deescalates() {
        let d = decide(&window(), &[port("web", Some(5.0))], None, at(0));
        assert!(matches!(d, SlaDecision::DeEscalate(_)), "{d:?}");
        let event = d.event("shop", "web").unwrap();
        assert!(event.tags.contains("sla:deescalate"));
    }

    #[test]
    fn between_the_thresholds_holds_and_the_thresholds_themselves_are_inside() {
        for ms in [20.0, 60.0, 100.0] {
            let d = decide(&window(), &[port("web", Some(ms))], None, at(0));
            assert_eq!(
                d,
                SlaDecision::Hold {
                    reason: HoldReason::WithinThresholds { response_time_ms: ms }
                }
            );
            assert!(d.event("shop", "web").is_none());
        }
    }

    #[test]
    fn the_slowest_port_decides_and_ports_without_traffic_are_left_out() {
        let ports = [
            port("api", Some(10.0)),
            port("web", Some(150.0)),
            port("admin", None),
        ];
        let d = decide(&window(), &ports, None, at(0));
        let SlaDecision::Escalate(m) = d else {
            panic!("expected escalate")
        };
        assert_eq!(m.port, "web");
        assert_eq!(m.ports.len(), 3);
        let fast = [port("api", Some(10.0)), port("admin", None)];
        assert!(matches!(
            decide(&window(), &fast, None, at(0)),
            SlaDecision::DeEscalate(_)
        ));
    }

    #[test]
    fn no_traffic_on_any_port_is_no_decision() {
        for ports in [vec![], vec![port("web", None), port("api", None)]] {
            assert_eq!(
                decide(&window(), &ports, None, at(0)),
                SlaDecision::Hold {
                    reason: HoldReason::NoTraffic
                }
            );
        }
    }

    #[test]
    fn an_sla_event_younger_than_interval_plus_cooldown_holds() {
        let slow = [port("web", Some(500.0))];
        let held = decide(&window(), &slow, Some(at(0)), at(5));
        assert_eq!(
            held,
            SlaDecision::Hold {
                reason: HoldReason::CoolingDown {
                    last_event: at(0),
                    until: at(5)
                }
            }
        );
        assert!(matches!(
            decide(&window(), &slow, Some(at(0)), at(2)),
            SlaDecision::Hold {
                reason: HoldReason::CoolingDown { .. }
            }
        ));
        assert!(matches!(
            decide(&window(), &slow, Some(at(0)), at(6)),
            SlaDecision::Escalate(_)
        ));
    }

    #[test]
    fn an_event_from_the_future_does_not_hold() {
        let slow = [port("web", Some(500.0))];
        assert!(matches!(
            decide(&window(), &slow, Some(at(10)), at(0)),
            SlaDecision::Escalate(_)
        ));
    }

    #[test]
    fn a_zero_interval_measures_nothing() {
        let w = SlidingWindow {
            interval: Duration::ZERO,
            ..window()
        };
        assert_eq!(
            decide(&w, &[port("web", Some(500.0))], None, at(0)),
            SlaDecision::Hold {
                reason: HoldReason::ZeroInterval
            }
        );
    }

    #[test]
    fn a_named_sla_resolves_through_the_lookup() {
        let lookup = |n: &str| (n == "fast-enough").then(|| sliding_sla(n));
        let r = resolve_sla(&Ref::Named("fast-enough".into()), &lookup).unwrap();
        assert_eq!(
            r.check,
            SlaCheck::ResponseTime(SlidingWindow {
                upper_ms: 800,
                lower_ms: 150,
                interval: Duration::from_secs(120),
                cooldown: Duration::from_secs(300),
            })
        );
        assert_eq!(r.escalations, vec![Ref::Named("stored-up".into())]);
        let err = resolve_sla(&Ref::Named("missing".into()), &lookup).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        assert!(err.message().contains("missing"));
    }

    #[test]
    fn a_reference_with_escalations_keeps_its_own_and_one_without_takes_the_stored() {
        let lookup = |n: &str| (n == "fast-enough").then(|| sliding_sla(n));
        let own = Ref::Inline(Sla {
            name: String::new(),
            metadata: Metadata::new(),
            kind: SlaKind::Reference("fast-enough".into()),
            escalations: vec![Ref::Inline(Escalation::inline(EscalationKind::ScaleCpu {
                minimum: 1.0,
                maximum: 2.0,
                scale_by: 0.5,
                target: None,
            }))],
        });
        let r = resolve_sla(&own, &lookup).unwrap();
        assert!(matches!(r.check, SlaCheck::ResponseTime(w) if w.upper_ms == 800));
        assert!(matches!(&r.escalations[..], [Ref::Inline(e)] if e.type_name() == "scale_cpu"));
        let bare = Ref::Inline(Sla {
            escalations: vec![],
            ..own.inline().unwrap().clone()
        });
        let r = resolve_sla(&bare, &lookup).unwrap();
        assert_eq!(r.escalations, vec![Ref::Named("stored-up".into())]);
    }

    #[test]
    fn a_reference_cycle_is_an_error_not_a_hang() {
        let lookup = |n: &str| {
            Some(Sla {
                name: n.into(),
                metadata: Metadata::new(),
                kind: SlaKind::Reference(if n == "a" { "b".into() } else { "a".into() }),
                escalations: vec![],
            })
        };
        let err = resolve_sla(&Ref::Named("a".into()), &lookup).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
    }

    #[test]
    fn generic_and_escalation_only_slas_are_not_measured() {
        let generic = Ref::Inline(Sla {
            name: String::new(),
            metadata: Metadata::new(),
            kind: SlaKind::Generic {
                kind: "error_rate".into(),
                parameters: Metadata::new(),
            },
            escalations: vec![],
        });
        let none = |_: &str| None;
        assert_eq!(
            resolve_sla(&generic, &none).unwrap().check,
            SlaCheck::Unsupported("error_rate".into())
        );
        let only = Ref::Inline(Sla {
            kind: SlaKind::EscalationOnly,
            ..generic.inline().unwrap().clone()
        });
        assert_eq!(resolve_sla(&only, &none).unwrap().check, SlaCheck::EscalationOnly);
    }

    #[test]
    fn directions_and_targets_are_read_from_tags() {
        let tags =
            Event::expand_tags(["sla", "sla:deescalate", "deployment:shop", "cluster:web"].map(String::from));
        assert_eq!(Direction::of_tags(&tags), Some(Direction::DeEscalate));
        assert_eq!(event_target(&tags), Some(("shop".into(), "web".into())));
        let both = Event::expand_tags(["sla:escalate", "sla:deescalate"].map(String::from));
        assert_eq!(Direction::of_tags(&both), None);
        let two = Event::expand_tags(["deployment:a", "deployment:b", "cluster:c"].map(String::from));
        assert_eq!(event_target(&two), None);
    }
}
