//! Timing and the result table shared by the vamp-persistence benches.

use std::future::Future;
use std::time::{Duration, Instant};

/// One measured line.
pub struct Line {
    pub name: String,
    pub ops: u64,
    pub elapsed: Duration,
}

/// Runs `op(i)` for `i` in `0..ops`, one after the other, and measures the whole.
pub async fn measure<F, Fut>(name: &str, ops: u64, mut op: F) -> Line
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    for i in 0..ops {
        op(i).await;
    }
    Line {
        name: name.to_string(),
        ops,
        elapsed: start.elapsed(),
    }
}

/// Prints the lines as a Markdown table: operations, mean time per operation, operations per second.
pub fn print(title: &str, lines: &[Line]) {
    println!("\n{title}\n");
    println!("| benchmark | ops | per op | ops/s |");
    println!("|---|---:|---:|---:|");
    for line in lines {
        let per_op = line.elapsed.as_secs_f64() / line.ops.max(1) as f64;
        println!(
            "| {} | {} | {} | {:.0} |",
            line.name,
            line.ops,
            human(per_op),
            line.ops as f64 / line.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    }
}

fn human(seconds: f64) -> String {
    if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} µs", seconds * 1e6)
    }
}
