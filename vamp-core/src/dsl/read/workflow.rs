//! Reads workflows: breed, schedule (`daemon`, `event` with tags, `time` with an ISO-8601 period, `time: {cron}` or
//! `cron` with a cron expression), status, scale, environment, arguments, network, health checks and dialects.

use super::breed::read_breed_ref;
use super::common::{
    read_arguments, read_dialects, read_environment, read_health_checks, read_metadata, read_name,
    read_optional_parsed, read_scale_ref, read_string_list, whole_number,
};
use crate::dsl::cursor::{describe, scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::{Node, Value};
use crate::model::{Schedule, Workflow, WorkflowStatus};
use crate::ops::workflow_schedule::CronSchedule;

/// Reads a workflow from a map node.
pub(crate) fn read_workflow(ctx: &Ctx, node: &Node, path: &str) -> R<Workflow> {
    let c = MapCursor::new(ctx, node, path)?;
    c.check_kind(crate::model::Kind::Workflow)?;
    let name = read_name(&c)?;
    let metadata = read_metadata(&c)?;
    let breed = read_breed_ref(ctx, c.required("breed")?, &c.path_of("breed"))?;
    let status = match c.value("status") {
        None => WorkflowStatus::default(),
        Some(n) => {
            let text = scalar_text(ctx, n, &c.path_of("status"))?;
            WorkflowStatus::parse(&text).ok_or_else(|| {
                ctx.err_at(
                    ErrorCode::IllegalWorkflowStatus,
                    &c.path_of("status"),
                    n,
                    format!("'{text}' is not a workflow status: use starting, running, stopping, suspending, suspended or restarting"),
                )
            })?
        }
    };
    let schedule = read_schedule(ctx, c.required("schedule")?, &c.path_of("schedule"))?;
    let scale = match c.value("scale") {
        None => None,
        Some(s) => Some(read_scale_ref(ctx, s, &c.path_of("scale"))?),
    };
    let environment_variables = read_environment(&c, false)?;
    let arguments = read_arguments(&c)?;
    let network = c.text("network")?;
    let health_checks = read_health_checks(&c)?;
    let dialects = read_dialects(&c)?;
    c.take("instances");
    c.take("health");
    c.finish()?;
    Ok(Workflow {
        name,
        metadata,
        breed,
        status,
        schedule,
        scale,
        environment_variables,
        arguments,
        network,
        health_checks,
        dialects,
    })
}

fn undefined(ctx: &Ctx, path: &str, node: &Node) -> crate::dsl::DslError {
    ctx.err_at(
        ErrorCode::UndefinedWorkflowScheduleError,
        path,
        node,
        "a schedule is 'daemon', {event: tags}, {time: period} or {cron: expression}",
    )
}

fn read_schedule(ctx: &Ctx, node: &Node, path: &str) -> R<Schedule> {
    match &node.value {
        Value::Str(s) if s.trim() == "daemon" => Ok(Schedule::Daemon),
        Value::Map(_) => {
            let c = MapCursor::new(ctx, node, path)?;
            let schedule = if let Some(ev) = c.value("event") {
                let p = c.path_of("event");
                let tags = match &ev.value {
                    Value::Map(_) => {
                        let e = MapCursor::new(ctx, ev, &p)?;
                        let tags = read_string_list(ctx, e.required("tags")?, &e.path_of("tags"))?;
                        e.finish()?;
                        tags
                    }
                    _ => read_string_list(ctx, ev, &p)?,
                };
                if tags.is_empty() {
                    return Err(ctx.err_at(
                        ErrorCode::UndefinedWorkflowScheduleError,
                        &p,
                        ev,
                        "an event schedule needs at least one tag",
                    ));
                }
                Schedule::Event { tags }
            } else if let Some(t) = c.value("time") {
                read_time(ctx, t, &c.path_of("time"))?
            } else if let Some(t) = c.value("cron") {
                read_cron(ctx, t, &c.path_of("cron"))?
            } else {
                return Err(undefined(ctx, path, node));
            };
            c.finish()?;
            Ok(schedule)
        }
        _ => Err(undefined(ctx, path, node)),
    }
}

/// A cron expression, checked now so a bad one is refused when the workflow is stored.
fn read_cron(ctx: &Ctx, node: &Node, path: &str) -> R<Schedule> {
    let text = scalar_text(ctx, node, path)?;
    match CronSchedule::parse(&text) {
        Ok(cron) => Ok(Schedule::Cron {
            expression: cron.expression().to_string(),
        }),
        Err(message) => Err(ctx.err_at(ErrorCode::IllegalWorkflowSchedulePeriod, path, node, message)),
    }
}

fn read_time(ctx: &Ctx, node: &Node, path: &str) -> R<Schedule> {
    let (period_node, period_path, start, repeat) = match &node.value {
        Value::Map(_) => {
            let c = MapCursor::new(ctx, node, path)?;
            if let Some(cron) = c.value("cron") {
                if c.has("period") || c.has("start") || c.has("repeat") {
                    return Err(ctx.err_at(
                        ErrorCode::UndefinedWorkflowScheduleError,
                        path,
                        node,
                        "give either a cron expression or a period (with start and repeat), not both",
                    ));
                }
                let schedule = read_cron(ctx, cron, &c.path_of("cron"))?;
                c.finish()?;
                return Ok(schedule);
            }
            let period_node = c.required("period")?;
            let start = c.text("start")?;
            if let Some(s) = &start {
                if s.trim() != "now" && chrono::DateTime::parse_from_rfc3339(s.trim()).is_err() {
                    return Err(ctx.err_at(
                        ErrorCode::IllegalWorkflowSchedulePeriod,
                        &c.path_of("start"),
                        node,
                        format!("'{s}' is not 'now' or an ISO-8601 date-time"),
                    ));
                }
            }
            let repeat = read_optional_parsed(&c, "repeat", whole_number, "a number of runs")?;
            c.finish()?;
            (period_node, c.path_of("period"), start, repeat)
        }
        Value::List(_) => {
            return Err(ctx.err_at(
                ErrorCode::UndefinedWorkflowScheduleError,
                path,
                node,
                format!("expected a period, found {}", describe(node)),
            ))
        }
        _ => (node, path.to_string(), None, None),
    };
    let period = scalar_text(ctx, period_node, &period_path)?;
    if iso_period_seconds(&period).is_none() {
        return Err(ctx.err_at(
            ErrorCode::IllegalWorkflowSchedulePeriod,
            &period_path,
            period_node,
            format!("'{period}' is not an ISO-8601 period such as PT1M or P1DT2H"),
        ));
    }
    Ok(Schedule::Time {
        period,
        start,
        repeat,
    })
}

/// The length of an ISO-8601 period (`P1Y2M3DT4H5M6S`, `PT1M`, `P2W`) in seconds, counting a year as 365 days
/// and a month as 30; `None` if it is not one or is zero.
pub fn iso_period_seconds(text: &str) -> Option<u64> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    fn fields(s: &str, units: &[(char, u64)]) -> Option<u64> {
        let mut total: u64 = 0;
        let mut num = String::new();
        let mut last = 0;
        for ch in s.chars() {
            if ch.is_ascii_digit() {
                num.push(ch);
                continue;
            }
            let pos = units.iter().position(|(u, _)| *u == ch)?;
            if num.is_empty() || pos < last {
                return None;
            }
            last = pos + 1;
            let n: u64 = num.parse().ok()?;
            total = total.checked_add(n.checked_mul(units[pos].1)?)?;
            num.clear();
        }
        num.is_empty().then_some(total)
    }
    let d = fields(
        date,
        &[
            ('Y', 365 * 86_400),
            ('M', 30 * 86_400),
            ('W', 7 * 86_400),
            ('D', 86_400),
        ],
    )?;
    let t = match time {
        Some("") => return None,
        Some(t) => fields(t, &[('H', 3600), ('M', 60), ('S', 1)])?,
        None => 0,
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    let total = d.checked_add(t)?;
    (total > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::iso_period_seconds;
    use crate::dsl::ErrorCode;
    use crate::model::{Artifact, Kind, Schedule};

    const HEAD: &str = "name: nightly\nbreed:\n  name: nightly\n  deployable: {type: application/javascript, definition: 'vamp.log(1)'}\n";

    fn schedule_of(schedule: &str) -> Result<Schedule, crate::dsl::DslError> {
        match crate::dsl::read(Kind::Workflow, &format!("{HEAD}schedule: {schedule}\n"))? {
            Artifact::Workflow(w) => Ok(w.schedule),
            other => panic!("read {other:?}"),
        }
    }

    #[test]
    fn cron_schedules_are_read_under_time_or_alone() {
        let expected = Schedule::Cron {
            expression: "*/5 * * * * *".into(),
        };
        assert_eq!(schedule_of("{time: {cron: '*/5 * * * * *'}}").unwrap(), expected);
        assert_eq!(schedule_of("{cron: '*/5 * * * * *'}").unwrap(), expected);
    }

    #[test]
    fn a_cron_schedule_is_written_under_time_and_reads_back() {
        let written = serde_json::to_value(Schedule::Cron {
            expression: "0 3 * * *".into(),
        })
        .unwrap();
        assert_eq!(written, serde_json::json!({"time": {"cron": "0 3 * * *"}}));
        assert_eq!(
            schedule_of(&written.to_string()).unwrap(),
            Schedule::Cron {
                expression: "0 3 * * *".into()
            }
        );
    }

    #[test]
    fn a_bad_cron_names_the_workflow_and_the_field() {
        let e = schedule_of("{time: {cron: '*/5 * * banana'}}").unwrap_err();
        assert_eq!(e.code, ErrorCode::IllegalWorkflowSchedulePeriod);
        assert_eq!(e.path, "schedule.time.cron");
        let text = e.to_string();
        assert!(text.contains("nightly"), "{text}");
        assert!(text.contains("banana"), "{text}");
        let e = schedule_of("{cron: '99 * * * *'}").unwrap_err();
        assert_eq!(e.path, "schedule.cron");
    }

    #[test]
    fn cron_and_period_together_are_refused() {
        let e = schedule_of("{time: {cron: '* * * * *', period: PT1M}}").unwrap_err();
        assert_eq!(e.code, ErrorCode::UndefinedWorkflowScheduleError);
    }

    #[test]
    fn iso_periods_are_parsed() {
        assert_eq!(iso_period_seconds("PT1M"), Some(60));
        assert_eq!(iso_period_seconds("P1DT2H"), Some(86_400 + 7200));
        assert_eq!(
            iso_period_seconds("P1Y2M3DT4H5M6S"),
            Some(365 * 86_400 + 60 * 86_400 + 3 * 86_400 + 4 * 3600 + 5 * 60 + 6)
        );
        assert_eq!(iso_period_seconds("now"), None);
        assert_eq!(iso_period_seconds("P"), None);
        assert_eq!(iso_period_seconds("PT"), None);
        assert_eq!(iso_period_seconds("PT0S"), None);
        assert_eq!(iso_period_seconds("PM1"), None);
    }
}
