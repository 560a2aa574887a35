//! A leader whose process is killed (SIGKILL: no resign, no goodbye) is replaced by a standby in another process
//! once its lease expires, within the TTL plus a margin; never earlier, never two leaders.
//!
//! The killed candidate is this test binary itself, started again with `VAMP_HA_CHILD_*` variables that make
//! [`child_candidate_entry_point`] run one candidate and print each leadership change to stdout.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::oneshot;
use tokio::time::Instant;
use vamp_core::testkit::servers::TestServer;
use vamp_server::ha::{LeaderElection, Leadership, LeaseOptions};

const TTL: Duration = Duration::from_secs(2);
const ENDPOINT: &str = "VAMP_HA_CHILD_ENDPOINT";
const ELECTION: &str = "VAMP_HA_CHILD_ELECTION";

/// Not a test of its own: the body of the child process (does nothing unless `VAMP_HA_CHILD_ENDPOINT` is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_candidate_entry_point() {
    let (Ok(endpoint), Ok(election)) = (std::env::var(ENDPOINT), std::env::var(ELECTION)) else {
        return;
    };
    let election = LeaderElection::etcd(&[endpoint], &election, "child", LeaseOptions::with_ttl(TTL))
        .await
        .unwrap();
    let mut leadership = election.subscribe();
    tokio::spawn(election.run(std::future::pending()));
    loop {
        let leads = leadership.borrow_and_update().is_leader();
        println!("leadership: {}", if leads { "leader" } else { "not leader" });
        if leadership.changed().await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_process_is_replaced_within_its_ttl_and_a_margin() {
    let etcd = TestServer::etcd().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_candidate_entry_point",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENDPOINT, etcd.address())
        .env(ELECTION, "killed")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let leading = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "leadership: leader" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(leading.ok(), Some(true), "the child process never led");

    let standby = LeaderElection::etcd(&[etcd.address()], "killed", "parent", LeaseOptions::with_ttl(TTL))
        .await
        .unwrap();
    let mut leadership = standby.subscribe();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(standby.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(
        Duration::from_secs(10),
        leadership.wait_for(|l| matches!(l, Leadership::Standby { leader: Some(l) } if l == "child")),
    )
    .await
    .expect("the standby never saw the child lead")
    .unwrap();

    child.start_kill().unwrap();
    let killed = Instant::now();
    child.wait().await.unwrap();
    let mut observed = leadership.clone();
    tokio::time::timeout(
        TTL + Duration::from_millis(1500),
        observed.wait_for(Leadership::is_leader),
    )
    .await
    .unwrap_or_else(|_| panic!("no take-over within TTL + 1.5 s: {:?}", *leadership.borrow()))
    .unwrap();
    let took = killed.elapsed();
    eprintln!("take-over after SIGKILL of the leader process: {took:?}");
    let interval = LeaseOptions::with_ttl(TTL).keep_alive_interval;
    assert!(
        took + interval + Duration::from_millis(100) >= TTL,
        "the standby led {took:?} after the kill, before the killed leader's lease could have expired"
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}
