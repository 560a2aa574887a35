//! `while_leader` and `LeaderElection::always`: the loops run exactly while this process leads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use vamp_server::ha::{while_leader, LeaderElection, Leadership};

fn leader() -> Leadership {
    Leadership::Leader {
        since: chrono::Utc::now(),
        term: 1,
    }
}

async fn until(deadline: Duration, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !ready() {
        assert!(Instant::now() < end, "condition not met within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Counts starts and currently running instances of the work.
#[derive(Default)]
struct Work {
    started: AtomicUsize,
    running: AtomicUsize,
}

struct Running(Arc<Work>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Work {
    fn enter(self: &Arc<Self>) -> Running {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(self.clone())
    }
}

#[tokio::test]
async fn work_runs_only_while_leading_and_stops_on_step_down() {
    let (publish, leadership) = watch::channel(Leadership::Standby { leader: None });
    let work = Arc::new(Work::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let counted = work.clone();
    let task = tokio::spawn(while_leader(
        leadership,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
        move |step_down| {
            let work = counted.clone();
            async move {
                let _running = work.enter();
                step_down.await;
            }
        },
    ));
    tokio::task::yield_now().await;
    assert_eq!(work.started.load(Ordering::SeqCst), 0, "a standby runs nothing");

    publish.send_replace(leader());
    until(Duration::from_secs(2), || {
        work.running.load(Ordering::SeqCst) == 1
    })
    .await;
    publish.send_replace(Leadership::Unavailable {
        reason: "etcd down".into(),
    });
    until(Duration::from_secs(2), || {
        work.running.load(Ordering::SeqCst) == 0
    })
    .await;

    publish.send_replace(leader());
    until(Duration::from_secs(2), || {
        work.started.load(Ordering::SeqCst) == 2
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(work.running.load(Ordering::SeqCst), 0, "shutdown stops the work");
}

#[tokio::test]
async fn work_that_ignores_the_step_down_is_dropped_after_the_grace() {
    let (publish, leadership) = watch::channel(leader());
    let work = Arc::new(Work::default());
    let counted = work.clone();
    let task = tokio::spawn(while_leader(
        leadership,
        std::future::pending(),
        Duration::from_millis(100),
        move |_step_down| {
            let work = counted.clone();
            async move {
                let _running = work.enter();
                std::future::pending::<()>().await;
            }
        },
    ));
    until(Duration::from_secs(2), || {
        work.running.load(Ordering::SeqCst) == 1
    })
    .await;
    let stepped_down = Instant::now();
    publish.send_replace(Leadership::Standby { leader: None });
    until(Duration::from_secs(2), || {
        work.running.load(Ordering::SeqCst) == 0
    })
    .await;
    let took = stepped_down.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "dropped after {took:?}, before the grace"
    );
    task.abort();
}

#[tokio::test]
async fn always_leads_from_start_to_shutdown() {
    let election = LeaderElection::always("solo");
    let leadership = election.subscribe();
    assert!(!leadership.borrow().is_leader(), "not leading before run");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(election.run(async move {
        let _ = stopped.await;
    }));
    until(Duration::from_secs(2), || leadership.borrow().is_leader()).await;
    stop.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(*leadership.borrow(), Leadership::Stopped);
}
