//! When a scheduled workflow runs next: cron expressions ([`CronSchedule`]) and ISO-8601 periods with a start
//! and a repeat count ([`TimeSchedule`]). Pure: the instant "now" is always given, so every rule is tested
//! without waiting.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::dsl::read::iso_period_seconds;

/// A parsed cron expression: `[second] minute hour day-of-month month day-of-week [year]`, in UTC.
///
/// Five fields are the classic crontab (seconds default to 0); six add seconds in front; a seventh is the year.
/// Day-of-week counts Sunday as 0 (and 7), as crontab does; names (`MON`, `JAN`), lists, ranges, steps, `L`, `W`,
/// `#` and the nicknames (`@hourly`, `@daily`, …) are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    cron: croner::Cron,
    expression: String,
}

impl CronSchedule {
    /// Parses `expression`; the error says what is wrong with it, in words fit for a DSL error.
    pub fn parse(expression: &str) -> Result<CronSchedule, String> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err("the cron expression is empty".into());
        }
        let cron = croner::Cron::from_str(trimmed).map_err(|e| {
            format!(
                "'{trimmed}' is not a cron expression ({e}); write '[second] minute hour day-of-month month \
                 day-of-week', e.g. '*/5 * * * * *' for every five seconds or '0 3 * * *' for 03:00 daily"
            )
        })?;
        Ok(CronSchedule {
            cron,
            expression: trimmed.to_string(),
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first instant strictly after `after` that the expression matches; `None` when there is none (a
    /// year in the past, a 30th of February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// A `time` schedule: runs at `start + k × period` for k = 0, 1, … (`repeat` runs at most, forever when
/// absent). Runs whose instant passed while nothing was running are skipped, not caught up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSchedule {
    /// The first run.
    pub start: DateTime<Utc>,
    /// Between two runs; at least one second.
    pub period: chrono::Duration,
    /// The number of runs, counted from `start`; `None` = forever.
    pub repeat: Option<u32>,
}

impl TimeSchedule {
    /// The schedule of an ISO-8601 `period` (`PT1M`), a `start` (`now`, absent, or an RFC 3339 date-time) and a
    /// `repeat` count; `now`/absent starts at `scheduled_at`. The error says which part is wrong.
    pub fn new(
        period: &str,
        start: Option<&str>,
        repeat: Option<u32>,
        scheduled_at: DateTime<Utc>,
    ) -> Result<TimeSchedule, String> {
        let seconds = iso_period_seconds(period)
            .ok_or_else(|| format!("'{period}' is not an ISO-8601 period such as PT1M or P1DT2H"))?;
        let seconds = i64::try_from(seconds).map_err(|_| format!("the period '{period}' is too long"))?;
        let period = chrono::Duration::try_seconds(seconds)
            .ok_or_else(|| format!("the period '{period}' is too long"))?;
        let start = match start.map(str::trim) {
            None | Some("now") | Some("") => scheduled_at,
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|_| format!("'{text}' is not 'now' or an ISO-8601 date-time"))?
                .with_timezone(&Utc),
        };
        Ok(TimeSchedule {
            start,
            period,
            repeat,
        })
    }

    /// The next run with an index of at least `from_index` whose instant is not before `now`: its index and
    /// instant. `None` once every run of `repeat` is behind. Passing the index after the last run as
    /// `from_index` keeps a run from happening twice when the clock reads slightly early.
    pub fn next(&self, now: DateTime<Utc>, from_index: u32) -> Option<(u32, DateTime<Utc>)> {
        let period_ms = self.period.num_milliseconds().max(1);
        let behind_ms = (now - self.start).num_milliseconds();
        let due = if behind_ms <= 0 {
            0
        } else {
            u32::try_from((behind_ms + period_ms - 1) / period_ms).unwrap_or(u32::MAX)
        };
        let index = due.max(from_index);
        if self.repeat.is_some_and(|r| index >= r) {
            return None;
        }
        let offset = self.period.checked_mul(i32::try_from(index).ok()?)?;
        Some((index, self.start.checked_add_signed(offset)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn six_fields_count_seconds() {
        let cron = CronSchedule::parse("*/5 * * * * *").unwrap();
        assert_eq!(
            cron.next_after(at("2024-01-01T10:00:02Z")),
            Some(at("2024-01-01T10:00:05Z"))
        );
        assert_eq!(
            cron.next_after(at("2024-01-01T10:00:05Z")),
            Some(at("2024-01-01T10:00:10Z"))
        );
    }

    #[test]
    fn five_fields_are_classic_crontab_with_sunday_zero() {
        let cron = CronSchedule::parse("30 3 * * 0").unwrap();
        // 2024-01-01 is a Monday; the next Sunday is the 7th.
        assert_eq!(
            cron.next_after(at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-07T03:30:00Z"))
        );
    }

    #[test]
    fn nicknames_and_names_are_accepted() {
        assert!(CronSchedule::parse("@hourly").is_ok());
        assert!(CronSchedule::parse("0 9 * JAN MON-FRI").is_ok());
    }

    #[test]
    fn a_bad_expression_says_what_to_write() {
        for bad in ["", "every minute", "61 * * * *", "* * *", "*/0 * * * *"] {
            let e = CronSchedule::parse(bad).unwrap_err();
            assert!(e.contains("cron expression"), "{bad}: {e}");
        }
    }

    #[test]
    fn time_schedules_run_from_start_every_period() {
        let start = at("2024-01-01T00:00:00Z");
        let s = TimeSchedule::new("PT1M", Some("2024-01-01T00:00:00Z"), None, start).unwrap();
        assert_eq!(s.next(at("2023-12-31T23:00:00Z"), 0), Some((0, start)));
        assert_eq!(s.next(start, 0), Some((0, start)));
        assert_eq!(
            s.next(at("2024-01-01T00:00:01Z"), 0),
            Some((1, at("2024-01-01T00:01:00Z")))
        );
        assert_eq!(
            s.next(at("2024-01-01T00:00:59Z"), 3),
            Some((3, at("2024-01-01T00:03:00Z")))
        );
    }

    #[test]
    fn missed_runs_are_skipped_not_caught_up() {
        let s = TimeSchedule::new("PT10S", Some("2024-01-01T00:00:00Z"), None, Utc::now()).unwrap();
        assert_eq!(
            s.next(at("2024-01-01T00:01:05Z"), 1),
            Some((7, at("2024-01-01T00:01:10Z")))
        );
    }

    #[test]
    fn repeat_bounds_the_number_of_runs() {
        let start = at("2024-01-01T00:00:00Z");
        let s = TimeSchedule::new("PT1S", None, Some(2), start).unwrap();
        assert_eq!(s.next(start, 0), Some((0, start)));
        assert_eq!(s.next(start, 1), Some((1, at("2024-01-01T00:00:01Z"))));
        assert_eq!(s.next(start, 2), None);
        assert_eq!(s.next(at("2024-01-01T00:00:05Z"), 0), None);
    }

    #[test]
    fn now_and_absent_start_at_scheduling() {
        let t = at("2024-05-05T12:00:00Z");
        assert_eq!(TimeSchedule::new("PT1H", Some("now"), None, t).unwrap().start, t);
        assert_eq!(TimeSchedule::new("PT1H", None, None, t).unwrap().start, t);
        assert!(TimeSchedule::new("1 hour", None, None, t).is_err());
        assert!(TimeSchedule::new("PT1H", Some("tomorrow"), None, t).is_err());
    }
}
