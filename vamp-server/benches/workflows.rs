//! What a workflow run costs: an event-scheduled script triggered 200 times (runs per second, mean run time,
//! each run a fresh QuickJS runtime), and one run making 500 in-process API calls, 500 event publications and 500
//! metric reads (time per call). Memory backends, loops running; prints a table. Baseline: what the original's
//! workflow agent paid per execution, starting `node` on a one-line script (when `node` is on PATH).
//!
//! `cargo bench -p vamp-server --bench workflows`

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::oneshot;
use vamp_core::dsl;
use vamp_core::model::{Event, Kind};
use vamp_server::workflows::{Execution, Outcome};
use vamp_server::{ServerSettings, Vamp, WriteOptions};

const TRIGGERS: usize = 200;
const CALLS: usize = 500;

fn workflow(name: &str, schedule: serde_json::Value, script: &str) -> vamp_core::model::Artifact {
    let doc = json!({
        "name": name,
        "breed": {"name": format!("{name}-script"), "deployable": {"type": "application/javascript", "definition": script}},
        "schedule": schedule,
    });
    dsl::read(Kind::Workflow, &doc.to_string()).expect("a valid workflow")
}

async fn finished(vamp: &Vamp, name: &str) -> Vec<Execution> {
    vamp.workflow_executions(name)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.outcome != Outcome::Running)
        .collect()
}

async fn wait_runs(vamp: &Vamp, name: &str, count: usize) -> Vec<Execution> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = finished(vamp, name).await;
        if done.len() >= count || Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut settings = ServerSettings::default();
    settings.synchronization.period_ms = 200;
    settings.workflows.history = TRIGGERS;
    let vamp = Vamp::builder().config(settings).build().expect("a Vamp");
    let (stop, stopped) = oneshot::channel::<()>();
    let v = vamp.clone();
    let loops = tokio::spawn(async move {
        v.run(async {
            let _ = stopped.await;
        })
        .await
    });
    let options = WriteOptions::default();
    let edge = "name: edge\nport: 9050/http\nroutes:\n  '[127.0.0.1:9000]': {weight: 90%}\n  '[127.0.0.1:9001]': {weight: 10%}\n";
    vamp.create(dsl::read(Kind::Gateway, edge).expect("a gateway"), &options)
        .await
        .expect("stored");

    // Runs per second: an event-scheduled script, one run per event.
    vamp.create(
        workflow("tick", json!({"event": ["bench"]}), "vamp.log(vamp.data.value)"),
        &options,
    )
    .await
    .expect("stored");
    let deadline = Instant::now() + Duration::from_secs(30);
    while vamp.workflow_status("tick").await.ok().flatten() != Some(vamp_core::model::WorkflowStatus::Running)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    for i in 0..TRIGGERS {
        vamp.publish(Event::new(["bench"], json!(i)))
            .await
            .expect("published");
        // The scheduler queues at most 64 waiting events: pace the publisher.
        while i >= 32 && finished(&vamp, "tick").await.len() + 32 < i {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let runs = wait_runs(&vamp, "tick", TRIGGERS).await;
    let elapsed = started.elapsed();
    let mean_us = runs
        .iter()
        .filter_map(|e| Some((e.finished? - e.started).num_microseconds()? as f64))
        .sum::<f64>()
        / runs.len().max(1) as f64;

    // Time per call inside one run.
    let calls = format!(
        "var t0 = Date.now(); for (var i = 0; i < {CALLS}; i++) vamp.get('gateways/edge'); var t1 = Date.now();\
         for (var i = 0; i < {CALLS}; i++) vamp.event('bench-call', i); var t2 = Date.now();\
         for (var i = 0; i < {CALLS}; i++) vamp.metrics('edge', 60); var t3 = Date.now();\
         console.log(JSON.stringify([t1 - t0, t2 - t1, t3 - t2]));"
    );
    vamp.create(
        workflow("calls", json!({"time": {"period": "PT1H"}}), &calls),
        &options,
    )
    .await
    .expect("stored");
    let call_runs = wait_runs(&vamp, "calls", 1).await;
    let totals: Vec<f64> = call_runs
        .first()
        .and_then(|e| e.log.first())
        .and_then(|l| serde_json::from_str(&l.text).ok())
        .unwrap_or_default();

    println!(
        "workflows benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| event-triggered runs | {} runs in {:.2} s = {:.0} runs/s |",
        runs.len(),
        elapsed.as_secs_f64(),
        runs.len() as f64 / elapsed.as_secs_f64()
    );
    println!("| mean run time (fresh runtime + context, one log line) | {mean_us:.0} µs |");
    for (name, total) in ["vamp.get (in-process API)", "vamp.event", "vamp.metrics"]
        .iter()
        .zip(&totals)
    {
        println!("| {name} | {:.1} µs per call |", total * 1000.0 / CALLS as f64);
    }
    match node_start() {
        Some(mean) => println!(
            "| baseline: `node -e` per execution (the workflow agent) | {:.1} ms |",
            mean.as_secs_f64() * 1000.0
        ),
        None => println!("| baseline: `node -e` per execution | node is not on PATH |"),
    }
    let _ = stop.send(());
    let _ = loops.await;
}

/// The mean wall time of starting `node` on a one-line script, over 20 starts; `None` without `node`.
fn node_start() -> Option<Duration> {
    const STARTS: u32 = 20;
    let started = Instant::now();
    for _ in 0..STARTS {
        let out = std::process::Command::new("node")
            .args(["-e", "console.log(1)"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
    }
    Some(started.elapsed() / STARTS)
}
