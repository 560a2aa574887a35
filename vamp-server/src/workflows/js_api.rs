//! The globals a workflow script sees: the `vamp` object, `console` and `process.env`.
//!
//! | call | does |
//! |---|---|
//! | `vamp.get(path, query?)` | `GET /api/v1/<path>` on this server, the answer's JSON |
//! | `vamp.put(path, body)`, `vamp.post(path, body)` | `PUT`/`POST` with a JSON body (a string is sent as YAML) |
//! | `vamp.delete(path, body?)` | `DELETE` |
//! | `vamp.event(tags, value?, type?)` | publishes an event, returns it as stored |
//! | `vamp.events(tags, {since, limit, type}?)` | events with every tag, newest first |
//! | `vamp.metrics(gateway, route?, windowSeconds?)` | `{requests, rate, responseTime, p50, p95, p99, errors, errorRate}` |
//! | `vamp.http(url, {method, headers, body}?)` | `{status, headers, body}` |
//! | `vamp.sleep(ms)` | waits |
//! | `vamp.log(...)`, `console.log/info/debug(...)` | a log line (stdout) |
//! | `console.warn/error(...)` | a log line (stderr) |
//! | `vamp.workflow`, `vamp.namespace` | names |
//! | `vamp.data` | the triggering event of an event-scheduled run, else `null` |
//! | `vamp.env`, `process.env` | the workflow's resolved environment variables |
//!
//! Calls are synchronous: they return the value (no promises). A failing call throws an `Error` whose `message`
//! says what failed; API answers that are not 2xx also set `status`.

use std::rc::Rc;
use std::time::Duration;

use axum::http::Method;
use indexmap::IndexMap;
use rquickjs::function::{Opt, Rest};
use rquickjs::{Ctx, Exception, Function, Object, Value};
use serde_json::Value as Json;

use super::executions::{ExecutionLog, Stream};
use super::host::{Host, HostError};

/// What a run knows about itself.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The workflow's name.
    pub workflow: String,
    /// The namespace.
    pub namespace: String,
    /// The triggering event (`vamp.data`), if any.
    pub data: Option<Json>,
    /// The resolved environment.
    pub env: IndexMap<String, String>,
}

type JsResult<T> = rquickjs::Result<T>;

/// Throws `e` as a JS `Error` (with `status` when it has one).
fn throw(ctx: &Ctx<'_>, e: HostError) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), &e.message) {
        Ok(exception) => {
            if let Some(status) = e.status {
                if let Err(set) = exception.as_object().set("status", status) {
                    return set;
                }
            }
            exception.throw()
        }
        Err(other) => other,
    }
}

/// A JS value as JSON (`undefined` and functions are `null`).
pub(crate) fn to_json<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> JsResult<Json> {
    if value.is_undefined() || value.is_function() {
        return Ok(Json::Null);
    }
    match ctx.json_stringify(value)? {
        None => Ok(Json::Null),
        Some(text) => serde_json::from_str(&text.to_string()?)
            .map_err(|e| Exception::throw_type(ctx, &format!("the value is not JSON: {e}"))),
    }
}

/// JSON as a JS value.
pub(crate) fn from_json<'js>(ctx: &Ctx<'js>, value: &Json) -> JsResult<Value<'js>> {
    ctx.json_parse(value.to_string())
}

fn string_arg<'js>(ctx: &Ctx<'js>, value: Option<Value<'js>>, call: &str, what: &str) -> JsResult<String> {
    match value.as_ref().and_then(Value::as_string) {
        Some(s) => s.to_string(),
        None => Err(Exception::throw_type(
            ctx,
            &format!("{call}: {what} must be a string"),
        )),
    }
}

fn tags_arg<'js>(ctx: &Ctx<'js>, value: Value<'js>, call: &str) -> JsResult<Vec<String>> {
    match to_json(ctx, value)? {
        Json::String(tag) => Ok(vec![tag]),
        Json::Array(items) => items
            .into_iter()
            .map(|t| match t {
                Json::String(s) => Ok(s),
                other => Err(Exception::throw_type(
                    ctx,
                    &format!("{call}: tags must be strings, found {other}"),
                )),
            })
            .collect(),
        other => Err(Exception::throw_type(
            ctx,
            &format!("{call}: tags must be a string or an array of strings, found {other}"),
        )),
    }
}

fn optional<'js>(value: Opt<Value<'js>>) -> Option<Value<'js>> {
    value.0.filter(|v| !v.is_undefined() && !v.is_null())
}

/// How a logged value is written: strings as they are, errors as `name: message` and their stack, other values
/// as JSON.
fn log_text<'js>(ctx: &Ctx<'js>, args: Rest<Value<'js>>) -> String {
    args.0
        .into_iter()
        .map(|v| {
            if let Some(s) = v.as_string() {
                return s.to_string().unwrap_or_default();
            }
            if v.is_undefined() {
                return "undefined".into();
            }
            if v.is_function() {
                return "[function]".into();
            }
            if let Some(e) = v.as_object().and_then(|o| Exception::from_object(o.clone())) {
                let message = e.message().unwrap_or_default();
                return match e.stack() {
                    Some(stack) if !stack.trim().is_empty() => {
                        format!("Error: {message}\n{}", stack.trim_end())
                    }
                    _ => format!("Error: {message}"),
                };
            }
            ctx.json_stringify(v)
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| "[value]".into())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn rest_call<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    method: Method,
    path: String,
    extra: Option<Value<'js>>,
) -> JsResult<Value<'js>> {
    let extra = match extra {
        Some(v) => Some(to_json(ctx, v)?),
        None => None,
    };
    let result = if method == Method::GET {
        host.rest(method, &path, extra.as_ref(), None)
    } else {
        host.rest(method, &path, None, extra.as_ref())
    };
    match result {
        Ok(value) => from_json(ctx, &value),
        Err(e) => Err(throw(ctx, e)),
    }
}

fn rest_function<'js>(
    ctx: &Ctx<'js>,
    host: &Rc<Host>,
    method: Method,
    call: &'static str,
) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, path: Opt<Value<'js>>, extra: Opt<Value<'js>>| -> JsResult<Value<'js>> {
            let path = string_arg(&ctx, path.0, call, "the path")?;
            rest_call(&ctx, &host, method.clone(), path, optional(extra))
        },
    )
}

fn log_function<'js>(ctx: &Ctx<'js>, log: &ExecutionLog, stream: Stream) -> JsResult<Function<'js>> {
    let log = log.clone();
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        log.line(stream, &log_text(&ctx, args));
    })
}

fn event_function<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              tags: Value<'js>,
              value: Opt<Value<'js>>,
              kind: Opt<Value<'js>>|
              -> JsResult<Value<'js>> {
            let tags = tags_arg(&ctx, tags, "vamp.event")?;
            let value = match optional(value) {
                Some(v) => to_json(&ctx, v)?,
                None => Json::Null,
            };
            let kind = match optional(kind) {
                Some(k) => Some(string_arg(&ctx, Some(k), "vamp.event", "the type")?),
                None => None,
            };
            match host.publish(tags, value, kind) {
                Ok(stored) => from_json(&ctx, &stored),
                Err(e) => Err(throw(&ctx, e)),
            }
        },
    )
}

fn events_function<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, tags: Value<'js>, options: Opt<Value<'js>>| -> JsResult<Value<'js>> {
            let tags = tags_arg(&ctx, tags, "vamp.events")?;
            let options = match optional(options) {
                Some(o) => to_json(&ctx, o)?,
                None => Json::Null,
            };
            let since = options.get("since").and_then(Json::as_str).map(str::to_string);
            let kind = options.get("type").and_then(Json::as_str).map(str::to_string);
            let limit = options
                .get("limit")
                .and_then(Json::as_f64)
                .map(|l| l.clamp(1.0, 1000.0) as u32);
            match host.events(tags, since, limit, kind) {
                Ok(found) => from_json(&ctx, &found),
                Err(e) => Err(throw(&ctx, e)),
            }
        },
    )
}

fn metrics_function<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              gateway: Opt<Value<'js>>,
              second: Opt<Value<'js>>,
              third: Opt<Value<'js>>|
              -> JsResult<Value<'js>> {
            let gateway = string_arg(&ctx, gateway.0, "vamp.metrics", "the gateway")?;
            let second = optional(second);
            let (route, window) = match second {
                Some(v) if v.is_number() => (None, Some(v)),
                Some(v) => (
                    Some(string_arg(&ctx, Some(v), "vamp.metrics", "the route")?),
                    optional(third),
                ),
                None => (None, optional(third)),
            };
            let seconds = match window {
                Some(w) => w.as_number().ok_or_else(|| {
                    Exception::throw_type(&ctx, "vamp.metrics: the window must be a number of seconds")
                })?,
                None => 60.0,
            };
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(Exception::throw_range(
                    &ctx,
                    "vamp.metrics: the window must be more than 0 seconds",
                ));
            }
            let window = bounded_duration(seconds).ok_or_else(|| {
                Exception::throw_range(
                    &ctx,
                    &format!("vamp.metrics: the window must be at most {MAX_WAIT_SECONDS} seconds (30 days)"),
                )
            })?;
            match host.metrics(gateway, route, window) {
                Ok(figures) => from_json(&ctx, &figures),
                Err(e) => Err(throw(&ctx, e)),
            }
        },
    )
}

fn http_function<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, url: Opt<Value<'js>>, options: Opt<Value<'js>>| -> JsResult<Value<'js>> {
            let url = string_arg(&ctx, url.0, "vamp.http", "the url")?;
            let options = match optional(options) {
                Some(o) => to_json(&ctx, o)?,
                None => Json::Null,
            };
            let method = options.get("method").and_then(Json::as_str).map(str::to_string);
            let headers = options.get("headers").and_then(Json::as_object).cloned();
            let body = options.get("body").cloned();
            match host.http(&url, method, headers, body) {
                Ok(answer) => from_json(&ctx, &answer),
                Err(e) => Err(throw(&ctx, e)),
            }
        },
    )
}

fn sleep_function<'js>(ctx: &Ctx<'js>, host: &Rc<Host>) -> JsResult<Function<'js>> {
    let host = host.clone();
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, ms: f64| -> JsResult<()> {
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(Exception::throw_range(
                &ctx,
                "vamp.sleep: give a number of milliseconds",
            ));
        }
        let duration = bounded_duration(ms / 1000.0).ok_or_else(|| {
            Exception::throw_range(
                &ctx,
                &format!("vamp.sleep: at most {} ms (30 days)", MAX_WAIT_SECONDS * 1000.0),
            )
        })?;
        host.sleep(duration).map_err(|e| throw(&ctx, e))
    })
}

/// The longest wait (`vamp.sleep`) or metrics window a script may ask for: 30 days. A run's own time limit
/// bounds a sleep further.
const MAX_WAIT_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// `seconds` (finite, not negative) as a duration; `None` beyond [`MAX_WAIT_SECONDS`].
fn bounded_duration(seconds: f64) -> Option<Duration> {
    if seconds > MAX_WAIT_SECONDS {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

fn env_object<'js>(ctx: &Ctx<'js>, env: &IndexMap<String, String>) -> JsResult<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    for (k, v) in env {
        object.set(k.as_str(), v.as_str())?;
    }
    Ok(object)
}

/// Defines `vamp`, `console` and `process` in the context's globals.
pub fn install<'js>(ctx: &Ctx<'js>, host: &Rc<Host>, run: &RunContext, log: &ExecutionLog) -> JsResult<()> {
    let vamp = Object::new(ctx.clone())?;
    vamp.set("get", rest_function(ctx, host, Method::GET, "vamp.get")?)?;
    vamp.set("put", rest_function(ctx, host, Method::PUT, "vamp.put")?)?;
    vamp.set("post", rest_function(ctx, host, Method::POST, "vamp.post")?)?;
    vamp.set("delete", rest_function(ctx, host, Method::DELETE, "vamp.delete")?)?;
    vamp.set("event", event_function(ctx, host)?)?;
    vamp.set("events", events_function(ctx, host)?)?;
    vamp.set("metrics", metrics_function(ctx, host)?)?;
    vamp.set("http", http_function(ctx, host)?)?;
    vamp.set("sleep", sleep_function(ctx, host)?)?;
    vamp.set("log", log_function(ctx, log, Stream::Stdout)?)?;
    vamp.set("workflow", run.workflow.as_str())?;
    vamp.set("namespace", run.namespace.as_str())?;
    let data = match &run.data {
        Some(d) => from_json(ctx, d)?,
        None => Value::new_null(ctx.clone()),
    };
    vamp.set("data", data)?;
    vamp.set("env", env_object(ctx, &run.env)?)?;
    let console = Object::new(ctx.clone())?;
    for (name, stream) in [
        ("log", Stream::Stdout),
        ("info", Stream::Stdout),
        ("debug", Stream::Stdout),
        ("warn", Stream::Stderr),
        ("error", Stream::Stderr),
    ] {
        console.set(name, log_function(ctx, log, stream)?)?;
    }
    let process = Object::new(ctx.clone())?;
    process.set("env", env_object(ctx, &run.env)?)?;
    let globals = ctx.globals();
    globals.set("vamp", vamp)?;
    globals.set("console", console)?;
    globals.set("process", process)?;
    Ok(())
}
