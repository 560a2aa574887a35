//! Render time of the HAProxy marshaller for 100, 1,000 and 10,000 routes (10 routes per gateway, 2 targets
//! each, one conditional route per gateway), split into model building and template rendering, beside the
//! handlebars rendering of the same template (the path user templates take) and the JSON reference marshaller
//! on the same gateways. Goal: under 50 ms at 10,000 routes.
//!
//! `cargo bench -p vamp-gateway --bench render`

use std::time::{Duration, Instant};

use vamp_core::gateway::GatewayMarshaller;
use vamp_core::memory::JsonMarshaller;
use vamp_core::model::{Gateway, Protocol};
use vamp_gateway::haproxy::model::build;
use vamp_gateway::haproxy::samples::{conditional, gateway, route};
use vamp_gateway::haproxy::{HaproxyMarshaller, HaproxyOptions, BUNDLED_TEMPLATE};

const ROUTES_PER_GATEWAY: usize = 10;

fn gateways(routes: usize) -> Vec<Gateway> {
    (0..routes / ROUTES_PER_GATEWAY)
        .map(|g| {
            let routes = (0..ROUTES_PER_GATEWAY)
                .map(|r| {
                    let path = format!("d{g}/c{r}/port");
                    let targets = [
                        (format!("{path}-0"), format!("10.{}.{}.1", g / 250, g % 250)),
                        (format!("{path}-1"), format!("10.{}.{}.2", g / 250, g % 250)),
                    ];
                    let t: Vec<(&str, Option<&str>, u16)> = targets
                        .iter()
                        .map(|(n, h)| (n.as_str(), Some(h.as_str()), 31000 + r as u16))
                        .collect();
                    let plain = route(&path, 10, &t);
                    if r == 0 {
                        conditional(plain, "user-agent == firefox and has cookie beta", 50)
                    } else {
                        plain
                    }
                })
                .collect();
            gateway(&format!("d{g}/port"), 10000 + g as u16, Protocol::Http, routes)
        })
        .collect()
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let haproxy = HaproxyMarshaller::new();
    let json = JsonMarshaller::new();
    let handlebars =
        HaproxyMarshaller::with_template(&format!("{BUNDLED_TEMPLATE}{{{{!-- via handlebars --}}}}"))
            .unwrap();
    let options = HaproxyOptions::default();
    println!(
        "| routes | gateways | model build (ms) | full render (ms) | same via handlebars (ms) | output (KiB) | JSON marshaller (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for routes in [100, 1_000, 10_000] {
        let gs = gateways(routes);
        let runs = if routes >= 10_000 { 11 } else { 31 };
        let build_time = median(
            || {
                build(&gs, &options).unwrap();
            },
            runs,
        );
        let render_time = median(
            || {
                haproxy.render(&gs).unwrap();
            },
            runs,
        );
        let handlebars_time = median(
            || {
                handlebars.render(&gs).unwrap();
            },
            runs.min(11),
        );
        let size = haproxy.render(&gs).unwrap().len();
        let json_time = median(
            || {
                json.render(&gs).unwrap();
            },
            runs,
        );
        println!(
            "| {routes} | {} | {} | {} | {} | {} | {} |",
            gs.len(),
            ms(build_time),
            ms(render_time),
            ms(handlebars_time),
            size / 1024,
            ms(json_time)
        );
    }
}
