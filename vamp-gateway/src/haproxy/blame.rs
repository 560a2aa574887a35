//! Which gateways a message of HAProxy's is about: the frontends and backends it names, and the sections of the
//! configuration lines it points at (`[…/haproxy.cfg:42]`), mapped to gateway names through the envelope.

use std::collections::BTreeSet;

use super::envelope::Envelope;

/// The names of the gateways `message` (HAProxy's output about the configuration `envelope`) points at, sorted
/// and each once; empty when it names none.
pub fn gateways_in(envelope: &Envelope, message: &str) -> Vec<String> {
    let mut found = BTreeSet::new();
    let sections = sections(&envelope.config);
    for line in line_numbers(message) {
        if let Some((_, name)) = sections.iter().rev().find(|(start, _)| *start <= line) {
            found.extend(gateway_of(envelope, name));
        }
    }
    for word in message.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        found.extend(gateway_of(envelope, word));
    }
    found.into_iter().collect()
}

/// The gateway a frontend or backend serves: the frontend `g_<lookup>` itself, or one of its backends
/// (`…_r<slot>`, `…_none`, `…_vhost`).
fn gateway_of(envelope: &Envelope, proxy: &str) -> Option<String> {
    if let Some(name) = envelope.gateways.get(proxy) {
        return Some(name.clone());
    }
    if let Some((gateway, _)) = envelope.routes.get(proxy) {
        return Some(gateway.clone());
    }
    let frontend = proxy.rsplit_once('_').map(|(f, _)| f)?;
    envelope.gateways.get(frontend).cloned()
}

/// Where each `frontend`/`backend`/`listen` section starts (1-based line) and its name.
fn sections(config: &str) -> Vec<(usize, String)> {
    config
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("frontend" | "backend" | "listen"), Some(name)) => Some((i + 1, name.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The line numbers in `…cfg:<n>]` references of `message`.
fn line_numbers(message: &str) -> Vec<usize> {
    message
        .match_indices(".cfg:")
        .filter_map(|(at, m)| {
            let digits: String = message[at + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haproxy::samples::every_feature;
    use crate::haproxy::{HaproxyMarshaller, HaproxyOptions};

    fn envelope() -> Envelope {
        HaproxyMarshaller::new()
            .with_options(HaproxyOptions::default().with_raw_acls(true))
            .envelope(&every_feature())
            .unwrap()
    }

    #[test]
    fn a_line_reference_names_the_gateway_of_its_section() {
        let e = envelope();
        let line = e
            .config
            .lines()
            .position(|l| l.contains("path_beg /v3/"))
            .unwrap()
            + 1;
        let message = format!(
            "[ALERT] config : parsing [/tmp/x/haproxy.cfg:{line}] : error detected while parsing ACL"
        );
        assert_eq!(gateways_in(&e, &message), ["shop/web"]);
    }

    #[test]
    fn a_named_frontend_or_backend_names_its_gateway() {
        let e = envelope();
        let (frontend, name) = e.gateways.iter().next().unwrap();
        let message =
            format!("[ALERT] Starting frontend {frontend}: cannot bind socket; backend {frontend}_r0 too");
        assert_eq!(gateways_in(&e, &message), std::slice::from_ref(name));
        assert!(gateways_in(&e, "[ALERT] nothing of ours").is_empty());
    }
}
