//! Reads events and event queries.

use chrono::{DateTime, Utc};

use super::common::read_string_list;
use crate::dsl::cursor::{scalar_text, Ctx, MapCursor, R};
use crate::dsl::error::ErrorCode;
use crate::dsl::node::Node;
use crate::model::event::DEFAULT_EVENT_TYPE;
use crate::model::{Aggregator, AggregatorKind, Event, EventQuery, TimeBound, TimeRange};

/// Reads an event: `tags` (a text or a list) required, `value` any, `timestamp` ISO-8601 (now when absent), `type`
/// (default `event`). An empty tag list is read; publishing refuses it (`NoTagEventError`).
pub(crate) fn read_event(ctx: &Ctx, node: &Node, path: &str, now: DateTime<Utc>) -> R<Event> {
    let c = MapCursor::new(ctx, node, path)?;
    let tags_node = c.take("tags").ok_or_else(|| c.missing("tags"))?;
    let tags = read_string_list(ctx, tags_node, &c.path_of("tags"))?;
    let value = c
        .take("value")
        .map(Node::to_json)
        .unwrap_or(serde_json::Value::Null);
    let timestamp = match c.value("timestamp") {
        None => now,
        Some(n) => {
            let text = scalar_text(ctx, n, &c.path_of("timestamp"))?;
            DateTime::parse_from_rfc3339(text.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ctx.err_at(
                        ErrorCode::EventTimestampError,
                        &c.path_of("timestamp"),
                        n,
                        format!("'{text}' is not an ISO-8601 date-time such as 2017-06-01T10:00:00Z"),
                    )
                })?
        }
    };
    let kind = read_type(&c)?.unwrap_or_else(|| DEFAULT_EVENT_TYPE.to_string());
    let id = c.text("id")?;
    c.finish()?;
    Ok(Event {
        id,
        tags: Event::expand_tags(tags),
        value,
        timestamp,
        kind,
    })
}

fn read_type(c: &MapCursor) -> R<Option<String>> {
    let Some(n) = c.value("type") else { return Ok(None) };
    let text = scalar_text(c.ctx, n, &c.path_of("type"))?;
    if Event::valid_type(&text) {
        Ok(Some(text))
    } else {
        Err(c.ctx.err_at(
            ErrorCode::EventTypeError,
            &c.path_of("type"),
            n,
            format!("'{text}' is not an event type: only alphanumerics, '-' and '_' are allowed"),
        ))
    }
}

/// Reads an event query: `tags`, `type`, `timestamp: {lt|lte, gt|gte}` and `aggregator: {type, field}`.
pub(crate) fn read_event_query(ctx: &Ctx, node: &Node, path: &str) -> R<EventQuery> {
    let c = MapCursor::new(ctx, node, path)?;
    let tags = match c.value("tags") {
        None => Vec::new(),
        Some(n) => read_string_list(ctx, n, &c.path_of("tags"))?,
    };
    let kind = read_type(&c)?;
    let time = match c.value("timestamp") {
        None => TimeRange::default(),
        Some(n) => read_time_range(ctx, n, &c.path_of("timestamp"))?,
    };
    let aggregator = match c.value("aggregator") {
        None => None,
        Some(n) => {
            let a = MapCursor::new(ctx, n, &c.path_of("aggregator"))?;
            let type_node = a.required("type")?;
            let text = scalar_text(ctx, type_node, &a.path_of("type"))?;
            let kind = AggregatorKind::parse(&text).ok_or_else(|| {
                ctx.err_at(
                    ErrorCode::UnsupportedAggregatorError,
                    &a.path_of("type"),
                    type_node,
                    format!("'{text}' is not an aggregator: use count, min, max, average or sum"),
                )
            })?;
            let field = a.text("field")?;
            a.finish()?;
            Some(Aggregator { kind, field })
        }
    };
    c.finish()?;
    Ok(EventQuery {
        tags: tags.into_iter().collect(),
        kind,
        time,
        aggregator,
    })
}

fn read_time_range(ctx: &Ctx, node: &Node, path: &str) -> R<TimeRange> {
    let c = MapCursor::new(ctx, node, path)?;
    let bound = |key: &str| -> R<Option<TimeBound>> {
        let Some(n) = c.value(key) else { return Ok(None) };
        let text = scalar_text(ctx, n, &c.path_of(key))?;
        TimeBound::parse(&text).map(Some).ok_or_else(|| {
            ctx.err_at(
                ErrorCode::EventQueryTimeError,
                &c.path_of(key),
                n,
                format!("'{text}' is not a time: use an ISO-8601 date-time, 'now' or 'now-10m'"),
            )
        })
    };
    let (lt, lte, gt, gte) = (bound("lt")?, bound("lte")?, bound("gt")?, bound("gte")?);
    let both = |a: &Option<TimeBound>, b: &Option<TimeBound>, which: &str| -> R<()> {
        if a.is_some() && b.is_some() {
            Err(ctx.err_at(
                ErrorCode::EventQueryTimeError,
                path,
                node,
                format!("give only one of {which}"),
            ))
        } else {
            Ok(())
        }
    };
    both(&lt, &lte, "'lt' and 'lte'")?;
    both(&gt, &gte, "'gt' and 'gte'")?;
    c.finish()?;
    Ok(TimeRange {
        from: gt.map(|b| (b, false)).or(gte.map(|b| (b, true))),
        to: lt.map(|b| (b, false)).or(lte.map(|b| (b, true))),
    })
}
