//! `--wait`: polls a deployment until every service is deployed (or gone), showing a progress bar on a
//! terminal and a line per change otherwise. A `Failed` service ends the wait with exit code 1, the deadline
//! with exit code 4.

use std::time::{Duration, Instant};

use super::client::{path_segment, Client};
use super::exit::{CliError, CliResult};
use super::output::Console;
use super::view::{services, ServiceView};

/// How often the deployment is read while waiting.
pub const POLL: Duration = Duration::from_millis(250);

/// What is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Every service `Deployment`/`Done`.
    Deployed,
    /// Every service being undeployed gone, the rest `Deployment`/`Done` (or the deployment gone).
    Undeployed,
}

/// Waits for deployment `name` to reach `goal` within `timeout`.
pub async fn wait(
    client: &Client,
    console: &mut Console<'_>,
    name: &str,
    goal: Goal,
    timeout: Duration,
) -> CliResult<()> {
    let now = Instant::now();
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
    let path = format!("deployments/{}", path_segment(name));
    let mut last_line = String::new();
    let mut drawn = false;
    loop {
        let deployment = client.get(&path).await?.map(|a| a.body);
        let (done, total, failed, reached) = match &deployment {
            None if goal == Goal::Undeployed => (0, 0, Vec::new(), true),
            None => {
                return Err(CliError::Refused {
                    status: 404,
                    message: format!("deployment '{name}' does not exist"),
                })
            }
            Some(d) => {
                let list = services(d);
                let done = list.iter().filter(|s| s.is_done()).count();
                let failed: Vec<ServiceView> = list.iter().filter(|s| s.is_failed()).cloned().collect();
                (done, list.len(), failed, done == list.len())
            }
        };
        let line = progress_line(name, done, total, console.tty);
        if console.tty {
            let _ = write!(console.err, "\r{line}");
            let _ = console.err.flush();
            drawn = true;
        } else if line != last_line {
            console.note(&line);
        }
        last_line = line;
        if !failed.is_empty() {
            finish(console, drawn);
            let reasons: Vec<String> = failed
                .iter()
                .map(|s| {
                    format!(
                        "{}/{}: {}",
                        s.cluster,
                        s.breed,
                        s.notification.as_deref().unwrap_or("failed")
                    )
                })
                .collect();
            return Err(CliError::Failed(format!(
                "deployment '{name}' failed: {}",
                reasons.join("; ")
            )));
        }
        if reached {
            finish(console, drawn);
            console.note(&match goal {
                Goal::Deployed => format!("deployment '{name}' is deployed ({done}/{total} services)"),
                Goal::Undeployed if deployment.is_none() => format!("deployment '{name}' is undeployed"),
                Goal::Undeployed => format!("deployment '{name}' is sliced ({total} services left)"),
            });
            return Ok(());
        }
        if Instant::now() >= deadline {
            finish(console, drawn);
            return Err(CliError::Timeout(format!(
                "deployment '{name}' did not converge within {}s ({done}/{total} services done)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

fn finish(console: &mut Console<'_>, drawn: bool) {
    if drawn {
        let _ = writeln!(console.err);
    }
}

/// `[#########-----------] 2/5 services deployed` on a terminal, `waiting for NAME: 2/5 services deployed`
/// otherwise.
pub fn progress_line(name: &str, done: usize, total: usize, tty: bool) -> String {
    if !tty {
        return format!("waiting for {name}: {done}/{total} services deployed");
    }
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {done}/{total} services deployed",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

/// Reads `--timeout` (`90s`, `5m`, `1h`, `500ms`, or seconds).
pub fn parse_duration(text: &str) -> CliResult<Duration> {
    let t = text.trim();
    let bad = || {
        CliError::usage(format!(
            "--timeout takes a duration like 90s, 5m or 1h, not '{text}'"
        ))
    };
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs).ok_or_else(bad),
        "h" => n.checked_mul(3600).map(Duration::from_secs).ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn the_bar_fills_with_the_services_done() {
        assert_eq!(
            progress_line("shop", 1, 3, true),
            format!("[{}{}] 1/3 services deployed", "#".repeat(10), "-".repeat(20))
        );
        assert_eq!(
            progress_line("shop", 0, 0, true),
            format!("[{}] 0/0 services deployed", "#".repeat(30))
        );
        assert_eq!(
            progress_line("shop", 2, 3, false),
            "waiting for shop: 2/3 services deployed"
        );
    }
}
