//! `vamp serve --demo`: a live canary release on the server that just started, through the real HAProxy.
//!
//! Two versions of a small HTTP service (the `vamp-demo-service` example, built into the `vamp` binary as the
//! hidden `vamp demo-service` subcommand, so nothing else needs building) are deployed by the configured driver
//! behind a gateway on `127.0.0.1:<demo-port>` (9050 by default): version 1.0 first, then 2.0 merged in as a canary. The demo then moves the
//! traffic 100/0 → 90/10 → 50/50 → 0/100 and slices 1.0 away, sending real requests through HAProxy at every
//! step and printing the split it observes. The server keeps running afterwards; when it stops, the demo's
//! deployment is removed first, so its services stop with it.

#[allow(dead_code)]
#[path = "../../../examples/src/demo_service.rs"]
mod service;

use std::process::ExitCode;
use std::time::Duration;

use vamp_core::dsl;
use vamp_core::model::{Artifact, Kind, Percentage, Ref, Route};
use vamp_core::{Error, Result};

use crate::ops::{converged, WriteOptions};
use crate::vamp::Vamp;

/// How long each deployment may take to converge.
const CONVERGE: Duration = Duration::from_secs(120);
/// Requests sent at each step.
const SAMPLE: usize = 200;
/// A pause between steps, so a person watching can follow them (not a synchronization: every step waits for
/// its own condition first).
const STEP_PAUSE: Duration = Duration::from_secs(2);

/// Runs the demo service with `args` (after `vamp demo-service`).
pub fn service_main(args: Vec<String>) -> ExitCode {
    service::run(args)
}

fn breed(version: &str) -> Result<Artifact> {
    let text = format!(
        "name: demo-frontend:{version}\ndeployable:\n  type: process\n  definition: vamp demo-service --name frontend-{version}\nports:\n  web: 8080/http\n"
    );
    dsl::read(Kind::Breed, &text).map_err(|e| Error::invalid(e.to_string()))
}

fn blueprint(port: u16, versions: &[&str]) -> Result<(Artifact, String)> {
    let services: String = versions
        .iter()
        .map(|v| {
            format!(
                "      - breed: demo-frontend:{v}\n        scale: {{cpu: 0.1, memory: 32MB, instances: 1}}\n"
            )
        })
        .collect();
    let text = format!(
        "name: demo\ngateways:\n  {port}/http: frontend/web\nclusters:\n  frontend:\n    services:\n{services}"
    );
    let request = dsl::read_deployment_request(&text).map_err(|e| Error::invalid(e.to_string()))?;
    Ok((Artifact::Blueprint(request), text))
}

/// Sends `count` requests through the gateway: how many version 1.0, 2.0 and neither answered.
async fn sample(port: u16, count: usize) -> (usize, usize, usize) {
    tokio::task::spawn_blocking(move || {
        let (mut v1, mut v2, mut failed) = (0, 0, 0);
        for _ in 0..count {
            match get(port) {
                Some(body) if body.contains("frontend-1.0") => v1 += 1,
                Some(body) if body.contains("frontend-2.0") => v2 += 1,
                _ => failed += 1,
            }
        }
        (v1, v2, failed)
    })
    .await
    .unwrap_or((0, 0, count))
}

fn get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1.1 200").then_some(response)
}

async fn report(port: u16, step: &str) {
    let (v1, v2, failed) = sample(port, SAMPLE).await;
    println!("demo: {step:<34} {SAMPLE} requests → 1.0: {v1:>3}  2.0: {v2:>3}  failed: {failed}");
    tokio::time::sleep(STEP_PAUSE).await;
}

async fn set_weights(vamp: &Vamp, v1: u8, v2: u8) -> Result<()> {
    let Some(Artifact::Gateway(mut gateway)) = vamp.get(Kind::Gateway, "demo/frontend/web").await? else {
        return Err(Error::not_found(
            "The demo's gateway demo/frontend/web is not planned yet.",
        ));
    };
    for route in &mut gateway.routes {
        let weight = if route.path.0.contains("demo-frontend:1.0") {
            v1
        } else {
            v2
        };
        route.route = Ref::Inline(Route {
            weight: Some(Percentage(weight)),
            ..Route::default()
        });
    }
    vamp.update(Artifact::Gateway(gateway), &WriteOptions::default())
        .await?;
    Ok(())
}

/// Waits until requests through the gateway show the split `(v1, v2)` in percent (±10 points), so each
/// reported step shows HAProxy serving the new weights.
async fn until_split(port: u16, v1: usize, v2: usize) -> Result<()> {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let (a, b, _) = sample(port, 50).await;
        if a.abs_diff(v1 / 2) <= 5 && b.abs_diff(v2 / 2) <= 5 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::unavailable(format!(
                "HAProxy did not serve {v1}/{v2} within {CONVERGE:?} (last sample of 50: {a}/{b})."
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn deploy(vamp: &Vamp, port: u16, versions: &[&str]) -> Result<()> {
    let (request, text) = blueprint(port, versions)?;
    vamp.deploy("demo", request, &WriteOptions::with_source(text))
        .await?;
    vamp.wait_for("demo", |d| d.is_some_and(converged), CONVERGE)
        .await?;
    Ok(())
}

/// Removes the demo's deployment and waits (at most 30 s) until its services are stopped: called when the server
/// shuts down, so the demo leaves nothing running. The loops must still run.
pub async fn clean_up(vamp: &Vamp) -> Result<()> {
    if vamp
        .delete(Kind::Deployment, "demo", &WriteOptions::default())
        .await?
    {
        vamp.wait_for("demo", |d| d.is_none(), Duration::from_secs(30))
            .await?;
    }
    Ok(())
}

/// Runs the demo against `vamp` (whose loops run): deploy, canary, weights, slice — printing the traffic split.
pub async fn run(vamp: Vamp, port: u16) -> Result<()> {
    println!("demo: deploying demo-frontend:1.0 behind http://127.0.0.1:{port} …");
    for version in ["1.0", "2.0"] {
        vamp.create(breed(version)?, &WriteOptions::default()).await?;
    }
    deploy(&vamp, port, &["1.0"]).await?;
    until_split(port, 100, 0).await?;
    report(port, "1.0 deployed").await;
    println!("demo: merging demo-frontend:2.0 as a canary …");
    deploy(&vamp, port, &["1.0", "2.0"]).await?;
    for (v1, v2) in [(100u8, 0u8), (90, 10), (50, 50), (0, 100)] {
        set_weights(&vamp, v1, v2).await?;
        until_split(port, usize::from(v1), usize::from(v2)).await?;
        report(port, &format!("weights 1.0 {v1}% / 2.0 {v2}%")).await;
    }
    let (old, text) = blueprint(port, &["1.0"])?;
    vamp.undeploy("demo", old, &WriteOptions::with_source(text))
        .await?;
    vamp.wait_for("demo", |d| d.is_some_and(converged), CONVERGE)
        .await?;
    report(port, "1.0 sliced away").await;
    println!(
        "demo: done — 2.0 serves http://127.0.0.1:{port}/; the API is on the listen address (try \
         `vamp list deployments`). Ctrl-C stops the server."
    );
    Ok(())
}
