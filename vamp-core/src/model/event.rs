//! Event: something that happened, with tags, a type, a timestamp and any value.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The default event type.
pub const DEFAULT_EVENT_TYPE: &str = "event";

/// An event. Tags `a:b` are stored with their prefix `a` too ([`Event::expand_tags`]), so a query for `a`
/// matches them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned by the store on publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tags, expanded.
    pub tags: BTreeSet<String>,
    /// Any value.
    #[serde(default)]
    pub value: serde_json::Value,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Alphanumerics, `-` and `_`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Event {
    /// An event of the default type, now, with expanded tags.
    pub fn new<I, S>(tags: I, value: serde_json::Value) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Event {
            id: None,
            tags: Self::expand_tags(tags.into_iter().map(Into::into)),
            value,
            timestamp: Utc::now(),
            kind: DEFAULT_EVENT_TYPE.to_string(),
        }
    }

    /// With another type.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Adds, for every tag `a:b`, the tag `a`.
    pub fn expand_tags(tags: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for t in tags {
            if let Some((prefix, _)) = t.split_once(':') {
                out.insert(prefix.to_string());
            }
            out.insert(t);
        }
        out
    }

    /// Whether the event type is valid: non-empty alphanumerics, `-` and `_`.
    pub fn valid_type(kind: &str) -> bool {
        !kind.is_empty()
            && kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }
}

/// A bound of a time range: an instant, or `now` shifted by a signed offset (`now-1m`, `now() - 10m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A fixed instant.
    At(DateTime<Utc>),
    /// Now plus this many seconds (negative = in the past).
    Now(i64),
}

impl TimeBound {
    /// The instant, relative to `now`.
    /// An offset beyond the representable range saturates at the earliest or latest representable instant.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeBound::At(t) => t,
            TimeBound::Now(offset) => chrono::Duration::try_seconds(offset)
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(if offset < 0 {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                }),
        }
    }

    /// Parses an RFC 3339 instant, `now`, `now()`, or either followed by `+`/`-` and a duration with a unit
    /// `s`, `m`, `h`, `d` or `w`.
    pub fn parse(s: &str) -> Option<TimeBound> {
        let t = s.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(t) {
            return Some(TimeBound::At(at.with_timezone(&Utc)));
        }
        let rest = t.strip_prefix("now")?;
        let rest = rest.strip_prefix("()").unwrap_or(rest).trim();
        if rest.is_empty() {
            return Some(TimeBound::Now(0));
        }
        let (sign, amount) = match rest.chars().next()? {
            '-' => (-1, rest[1..].trim()),
            '+' => (1, rest[1..].trim()),
            _ => return None,
        };
        let split = amount.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = amount[..split].parse().ok()?;
        let unit = match amount[split..].trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        Some(TimeBound::Now(sign * n.checked_mul(unit)?))
    }
}

/// A time range; each side inclusive or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Lower bound and whether it is inclusive (`gte`) or exclusive (`gt`).
    pub from: Option<(TimeBound, bool)>,
    /// Upper bound and whether it is inclusive (`lte`) or exclusive (`lt`).
    pub to: Option<(TimeBound, bool)>,
}

impl TimeRange {
    /// Whether `t` lies in the range, with `now` for relative bounds.
    pub fn contains(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let lower = self.from.is_none_or(|(b, incl)| {
            let b = b.resolve(now);
            if incl {
                t >= b
            } else {
                t > b
            }
        });
        let upper = self.to.is_none_or(|(b, incl)| {
            let b = b.resolve(now);
            if incl {
                t <= b
            } else {
                t < b
            }
        });
        lower && upper
    }
}

/// An aggregation over the value (or a numeric field of it) of the matching events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregatorKind {
    /// Number of events.
    Count,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean value.
    Average,
    /// Sum of values.
    Sum,
}

impl AggregatorKind {
    /// Parses `count`, `min`, `max`, `average` (or `avg`), `sum`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "count" => AggregatorKind::Count,
            "min" => AggregatorKind::Min,
            "max" => AggregatorKind::Max,
            "average" | "avg" => AggregatorKind::Average,
            "sum" => AggregatorKind::Sum,
            _ => return None,
        })
    }
}

/// An aggregation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregator {
    /// What to compute.
    pub kind: AggregatorKind,
    /// A dotted path into the event value; the value itself when absent.
    pub field: Option<String>,
}

/// A query over events: all of `tags`, the `kind` if given, within `time`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    /// Every tag must be present (after expansion).
    pub tags: BTreeSet<String>,
    /// The type, if given.
    pub kind: Option<String>,
    /// The time range.
    pub time: TimeRange,
    /// An aggregation, if asked for.
    pub aggregator: Option<Aggregator>,
}

impl EventQuery {
    /// A query for events carrying all `tags`.
    pub fn tags<I, S>(tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EventQuery {
            tags: tags.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Whether `event` matches, with `now` for relative time bounds.
    pub fn matches(&self, event: &Event, now: DateTime<Utc>) -> bool {
        self.tags.iter().all(|t| event.tags.contains(t))
            && self.kind.as_ref().is_none_or(|k| *k == event.kind)
            && self.time.contains(event.timestamp, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_colon_also_store_prefix() {
        let e = Event::new(["deployments:shop", "plain"], serde_json::Value::Null);
        assert!(e.tags.contains("deployments"));
        assert!(e.tags.contains("deployments:shop"));
        assert!(e.tags.contains("plain"));
    }

    #[test]
    fn relative_time_bounds_parse() {
        assert_eq!(TimeBound::parse("now"), Some(TimeBound::Now(0)));
        assert_eq!(TimeBound::parse("now-1m"), Some(TimeBound::Now(-60)));
        assert_eq!(TimeBound::parse("now() - 10m"), Some(TimeBound::Now(-600)));
        assert!(TimeBound::parse("2017-06-01T10:00:00Z").is_some());
        assert_eq!(TimeBound::parse("yesterday"), None);
    }

    #[test]
    fn far_relative_bounds_saturate_instead_of_panicking() {
        let now = Utc::now();
        let past = TimeBound::parse("now-1000000000w").unwrap().resolve(now);
        assert_eq!(past, DateTime::<Utc>::MIN_UTC);
        assert_eq!(TimeBound::Now(i64::MAX).resolve(now), DateTime::<Utc>::MAX_UTC);
        let q = EventQuery {
            time: TimeRange {
                from: Some((TimeBound::Now(i64::MIN), true)),
                to: None,
            },
            ..Default::default()
        };
        assert!(q.matches(&Event::new(["a"], serde_json::Value::Null), now));
    }

    #[test]
    fn event_type_is_alphanumeric_dash_underscore() {
        assert!(Event::valid_type("my-type_1"));
        assert!(!Event::valid_type("my type"));
        assert!(!Event::valid_type(""));
    }
}
