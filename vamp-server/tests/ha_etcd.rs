//! Leader election against a real etcd: one leader among candidates, hand-over on resign and on a dead leader,
//! step-down before the lease can expire when etcd goes away, one leader again when it is back. A referee
//! watches every candidate's published leadership and records any moment two of them lead at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vamp_core::testkit::servers::TestServer;
use vamp_core::ErrorKind;
use vamp_server::ha::{LeaderElection, Leadership, LeaseOptions};

const TTL: Duration = Duration::from_secs(2);

fn options() -> LeaseOptions {
    LeaseOptions::with_ttl(TTL)
}

/// Records each candidate's latest leadership and every observation at which two candidates led.
#[derive(Default)]
struct Referee {
    leading: Mutex<Vec<bool>>,
    violations: Mutex<Vec<String>>,
}

impl Referee {
    fn observe(&self, index: usize, leads: bool) {
        let mut leading = self.leading.lock().unwrap();
        leading[index] = leads;
        let leaders = leading.iter().filter(|l| **l).count();
        if leaders > 1 {
            self.violations
                .lock()
                .unwrap()
                .push(format!("{leaders} leaders at once: {leading:?}"));
        }
    }

    fn assert_never_two_leaders(&self) {
        let violations = self.violations.lock().unwrap();
        assert!(violations.is_empty(), "{violations:?}");
    }
}

struct Candidate {
    id: String,
    leadership: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Candidate {
    fn leads(&self) -> bool {
        self.leadership.borrow().is_leader()
    }

    fn current(&self) -> Leadership {
        self.leadership.borrow().clone()
    }

    /// Shuts down cleanly: the election resigns.
    async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("the election did not stop within 5 s")
            .unwrap();
    }

    /// Dies: the election task is dropped without resigning, so its keep-alive stops.
    async fn die(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

struct Election {
    etcd: TestServer,
    name: String,
    referee: Arc<Referee>,
    candidates: usize,
}

impl Election {
    fn new(name: &str) -> Self {
        Election {
            etcd: TestServer::etcd().unwrap(),
            name: name.to_string(),
            referee: Arc::default(),
            candidates: 0,
        }
    }

    async fn candidate(&mut self, id: &str) -> Candidate {
        let election = LeaderElection::etcd(&[self.etcd.address()], &self.name, id, options())
            .await
            .unwrap();
        let leadership = election.subscribe();
        let index = self.candidates;
        self.candidates += 1;
        self.referee.leading.lock().unwrap().push(false);
        let mut observed = election.subscribe();
        let referee = self.referee.clone();
        tokio::spawn(async move {
            loop {
                let leads = observed.borrow_and_update().is_leader();
                referee.observe(index, leads);
                if observed.changed().await.is_err() {
                    referee.observe(index, false);
                    return;
                }
            }
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(election.run(async move {
            let _ = stopped.await;
        }));
        Candidate {
            id: id.to_string(),
            leadership,
            stop: Some(stop),
            task,
        }
    }

    async fn leader_key(&self) -> Option<String> {
        let mut client = etcd_client::Client::connect([self.etcd.address()], None)
            .await
            .unwrap();
        let answer = client
            .get(format!("/vamp/elections/{}", self.name), None)
            .await
            .unwrap();
        answer
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
    }
}

/// Polls `ready` every 10 ms until it holds or `deadline` passes; returns the time it took.
async fn within(deadline: Duration, mut ready: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if ready() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const ELECT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_candidate_becomes_leader_and_holds_the_key() {
    let mut election = Election::new("single");
    let a = election.candidate("server-a").await;
    within(ELECT, || a.leads()).await.expect("a never led");
    assert!(matches!(a.current(), Leadership::Leader { term, .. } if term > 0));
    assert_eq!(election.leader_key().await.as_deref(), Some("server-a"));
    a.shut_down().await;
    assert_eq!(election.leader_key().await, None, "resigning deletes the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_candidates_exactly_one_leads_and_the_other_knows_it() {
    let mut election = Election::new("pair");
    let a = election.candidate("server-a").await;
    let b = election.candidate("server-b").await;
    within(ELECT, || {
        let (a, b) = (a.current(), b.current());
        match (&a, &b) {
            (Leadership::Leader { .. }, Leadership::Standby { leader: Some(l) }) => l == "server-a",
            (Leadership::Standby { leader: Some(l) }, Leadership::Leader { .. }) => l == "server-b",
            _ => false,
        }
    })
    .await
    .unwrap_or_else(|| panic!("no settled election: a {:?}, b {:?}", a.current(), b.current()));
    let leader = if a.leads() { &a.id } else { &b.id };
    // Two lease lifetimes of renewals change nothing.
    let stable = within(TTL * 2, || !(a.leads() ^ b.leads())).await;
    assert!(
        stable.is_none(),
        "the leadership changed hands while both were healthy"
    );
    assert_eq!(election.leader_key().await.as_ref(), Some(leader));
    election.referee.assert_never_two_leaders();
    a.shut_down().await;
    b.shut_down().await;
    election.referee.assert_never_two_leaders();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resigning_leader_hands_over_within_a_second() {
    let mut election = Election::new("resign");
    let a = election.candidate("server-a").await;
    within(ELECT, || a.leads()).await.expect("a never led");
    let b = election.candidate("server-b").await;
    within(ELECT, || {
        matches!(b.current(), Leadership::Standby { leader: Some(_) })
    })
    .await
    .expect("b never saw a lead");
    let resigned = Instant::now();
    a.shut_down().await;
    within(Duration::from_secs(1), || b.leads())
        .await
        .unwrap_or_else(|| panic!("b did not lead within 1 s of the resign: {:?}", b.current()));
    let took = resigned.elapsed();
    eprintln!("hand-over after resign: {took:?}");
    assert!(took < Duration::from_secs(1), "hand-over took {took:?}");
    assert_eq!(election.leader_key().await.as_deref(), Some("server-b"));
    election.referee.assert_never_two_leaders();
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leader_is_replaced_once_its_lease_expires() {
    let mut election = Election::new("death");
    let a = election.candidate("server-a").await;
    within(ELECT, || a.leads()).await.expect("a never led");
    let b = election.candidate("server-b").await;
    within(ELECT, || {
        matches!(b.current(), Leadership::Standby { leader: Some(_) })
    })
    .await
    .expect("b never saw a lead");
    let died = Instant::now();
    a.die().await;
    within(TTL + Duration::from_millis(1500), || b.leads())
        .await
        .unwrap_or_else(|| panic!("b did not take over within TTL + 1.5 s: {:?}", b.current()));
    let took = died.elapsed();
    eprintln!("take-over after the leader died: {took:?}");
    // The dead leader's last renewal was at most one interval before it died: b had to wait for the lease.
    assert!(
        took + options().keep_alive_interval + Duration::from_millis(100) >= TTL,
        "b led after {took:?}, before the dead leader's lease could have expired"
    );
    assert_eq!(election.leader_key().await.as_deref(), Some("server-b"));
    election.referee.assert_never_two_leaders();
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_etcd_the_leader_steps_down_before_its_ttl_and_one_leads_again_after() {
    let mut election = Election::new("outage");
    let a = election.candidate("server-a").await;
    within(ELECT, || a.leads()).await.expect("a never led");
    let b = election.candidate("server-b").await;
    within(ELECT, || {
        matches!(b.current(), Leadership::Standby { leader: Some(_) })
    })
    .await
    .expect("b never saw a lead");

    let stopped = Instant::now();
    tokio::task::block_in_place(|| election.etcd.stop());
    let step_down = within(TTL, || !a.leads())
        .await
        .unwrap_or_else(|| panic!("a still leads {TTL:?} after etcd stopped"));
    eprintln!("step-down after etcd stopped: {step_down:?}");
    assert!(
        stopped.elapsed() < TTL - options().step_down_margin + Duration::from_millis(100),
        "a stepped down {step_down:?} after etcd stopped, later than TTL - margin"
    );
    assert!(
        matches!(a.current(), Leadership::Unavailable { .. }),
        "{:?}",
        a.current()
    );
    within(Duration::from_secs(5), || {
        matches!(b.current(), Leadership::Unavailable { .. })
    })
    .await
    .unwrap_or_else(|| panic!("b does not report etcd unavailable: {:?}", b.current()));
    assert!(!b.leads());

    tokio::task::block_in_place(|| election.etcd.start()).unwrap();
    within(Duration::from_secs(15), || {
        a.leads() ^ b.leads()
            && matches!(
                if a.leads() { b.current() } else { a.current() },
                Leadership::Standby { leader: Some(_) }
            )
    })
    .await
    .map(|took| eprintln!("one leader again {took:?} after etcd came back"))
    .unwrap_or_else(|| {
        panic!(
            "no single leader after etcd came back: a {:?}, b {:?}",
            a.current(),
            b.current()
        )
    });
    let leader = if a.leads() { &a.id } else { &b.id };
    assert_eq!(election.leader_key().await.as_ref(), Some(leader));
    election.referee.assert_never_two_leaders();
    a.shut_down().await;
    b.shut_down().await;
    election.referee.assert_never_two_leaders();
}

#[tokio::test]
async fn bad_election_settings_are_refused_as_invalid() {
    let endpoints = ["127.0.0.1:1".to_string()];
    for (name, candidate) in [("", "a"), ("a/b", "a"), ("ok", " ")] {
        let refused = LeaderElection::etcd(&endpoints, name, candidate, options()).await;
        assert_eq!(
            refused.err().map(|e| e.kind()),
            Some(ErrorKind::Invalid),
            "{name:?} {candidate:?}"
        );
    }
    let no_endpoints = LeaderElection::etcd(&[], "ok", "a", options()).await;
    assert_eq!(no_endpoints.err().map(|e| e.kind()), Some(ErrorKind::Invalid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_etcd_is_reported_as_unavailable_not_as_leadership() {
    let port = vamp_core::testkit::servers::free_port().unwrap();
    let election = LeaderElection::etcd(&[format!("127.0.0.1:{port}")], "nobody", "a", options())
        .await
        .unwrap();
    let leadership = election.subscribe();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(election.run(async move {
        let _ = stopped.await;
    }));
    within(ELECT, || {
        matches!(*leadership.borrow(), Leadership::Unavailable { .. })
    })
    .await
    .unwrap_or_else(|| panic!("{:?}", *leadership.borrow()));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*leadership.borrow(), Leadership::Stopped);
}
