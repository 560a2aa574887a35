//! Vamp health checks as one Docker `Healthcheck`.
//!
//! Docker runs one check command per container, inside the container, so every Vamp check becomes a shell
//! command and all of them are joined with `&&`:
//! - `HTTP`: `wget -q -O /dev/null 'http://127.0.0.1:<port><path>'` (any 2xx/3xx passes),
//! - `TCP`: `nc 127.0.0.1 <port> </dev/null` (the connection opens).
//!
//! The image therefore needs `/bin/sh` and `wget` or `nc` (busybox has all three; the busybox `wget -T` option
//! is avoided since the static busybox 1.35 crashes on it: Docker's own timeout ends a hanging probe). The
//! timings combine as: the shortest interval, the sum of the timeouts, the longest initial delay as the start
//! period, and the largest failure count as retries. Without checks the image's own `HEALTHCHECK` applies.

use indexmap::IndexMap;
use serde_json::{json, Value};
use vamp_core::model::HealthCheck;
use vamp_core::{Error, Result};

const NANOS: u64 = 1_000_000_000;

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn probe(check: &HealthCheck, ports: &IndexMap<String, u16>, service: &str) -> Result<String> {
    let port = ports
        .get(&check.port)
        .copied()
        .or_else(|| check.port.parse().ok())
        .ok_or_else(|| {
            Error::invalid(format!(
                "A health check of service {service} probes port '{}', which the breed does not define; name \
                 one of its ports ({}).",
                check.port,
                ports.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
    match check.protocol.to_ascii_uppercase().as_str() {
        "HTTP" | "" => {
            let path = if check.path.starts_with('/') {
                check.path.clone()
            } else {
                format!("/{}", check.path)
            };
            Ok(format!(
                "wget -q -O /dev/null {}",
                quoted(&format!("http://127.0.0.1:{port}{path}"))
            ))
        }
        "TCP" => Ok(format!("nc 127.0.0.1 {port} </dev/null")),
        other => Err(Error::invalid(format!(
            "A health check of service {service} uses protocol '{other}'; the Docker driver runs HTTP and TCP \
             checks."
        ))),
    }
}

/// The `Healthcheck` object of the create body, or `None` when there are no checks.
pub fn healthcheck(
    checks: &[HealthCheck],
    ports: &IndexMap<String, u16>,
    service: &str,
) -> Result<Option<Value>> {
    if checks.is_empty() {
        return Ok(None);
    }
    let commands = checks
        .iter()
        .map(|c| probe(c, ports, service))
        .collect::<Result<Vec<_>>>()?;
    let interval = checks
        .iter()
        .map(|c| c.interval.0)
        .filter(|s| *s > 0)
        .min()
        .unwrap_or(0);
    let timeout: u64 = checks.iter().map(|c| c.timeout.0).sum();
    let start = checks.iter().map(|c| c.initial_delay.0).max().unwrap_or(0);
    let retries = checks.iter().map(|c| c.failures).max().unwrap_or(0);
    Ok(Some(json!({
        "Test": ["CMD-SHELL", commands.join(" && ")],
        "Interval": interval.saturating_mul(NANOS),
        "Timeout": timeout.saturating_mul(NANOS),
        "StartPeriod": start.saturating_mul(NANOS),
        "Retries": retries,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamp_core::model::Seconds;

    fn check(port: &str, protocol: &str, path: &str, interval: u64) -> HealthCheck {
        HealthCheck {
            path: path.into(),
            port: port.into(),
            initial_delay: Seconds(interval * 2),
            timeout: Seconds(2),
            interval: Seconds(interval),
            failures: interval as u32,
            protocol: protocol.into(),
        }
    }

    fn ports() -> IndexMap<String, u16> {
        [("web".to_string(), 8080), ("admin".to_string(), 9000)]
            .into_iter()
            .collect()
    }

    #[test]
    fn http_and_tcp_checks_become_one_shell_test() {
        let hc = healthcheck(
            &[
                check("web", "HTTP", "/health?x='1'", 10),
                check("admin", "tcp", "/", 5),
            ],
            &ports(),
            "s",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            hc["Test"],
            json!([
                "CMD-SHELL",
                "wget -q -O /dev/null 'http://127.0.0.1:8080/health?x='\\''1'\\''' && nc 127.0.0.1 9000 </dev/null"
            ])
        );
        assert_eq!(hc["Interval"], json!(5 * NANOS));
        assert_eq!(hc["Timeout"], json!(4 * NANOS));
        assert_eq!(hc["StartPeriod"], json!(20 * NANOS));
        assert_eq!(hc["Retries"], json!(10));
    }

    #[test]
    fn no_checks_leave_the_image_check() {
        assert_eq!(healthcheck(&[], &ports(), "s").unwrap(), None);
    }

    #[test]
    fn an_unknown_port_or_protocol_is_invalid() {
        assert!(healthcheck(&[check("db", "HTTP", "/", 1)], &ports(), "s").is_err());
        assert!(healthcheck(&[check("web", "GRPC", "/", 1)], &ports(), "s").is_err());
    }
}
