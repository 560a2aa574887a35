//! Crash safety: a writer process that prints every write the store acknowledged is killed with SIGKILL at
//! random moments, 50 times per database; after each kill the store must open cleanly (SQLite: its integrity
//! check passes) and every acknowledged artifact revision and event must be there.
//!
//! The writer is this test binary itself, started again to run only [`crash_writer_child`] with the store URL
//! in [`WRITER_URL`]. It is killed after a random number of acknowledgements plus a random delay, so the kill
//! lands anywhere in a write: before, inside or after a commit. The random seed is printed, and
//! `VAMP_CRASH_SEED` replays it.
#![cfg(feature = "sql")]

mod sql_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use sql_support::{block_on, postgres_url, TempDir};
use sqlx::Connection;
use vamp_core::model::{Event, EventQuery, Kind};
use vamp_core::store::{ArtifactStore, EventStore, Page};
use vamp_core::testkit::servers::TestServer;
use vamp_core::testkit::skip;
use vamp_persistence::sql::SqlStore;

/// The environment variable that makes [`crash_writer_child`] write to the store at its URL.
const WRITER_URL: &str = "VAMP_CRASH_WRITER_URL";
/// How many times the writer is killed per database.
const KILLS: usize = 50;
/// How many artifacts the writer spreads its puts over.
const NAMES: u64 = 12;
/// How long the writer may take to acknowledge its next write before the test fails as hung.
const ACK_DEADLINE: Duration = Duration::from_secs(30);

/// A write the writer acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ack {
    /// `put` of the artifact returned this revision for a document carrying this token.
    Put {
        name: String,
        revision: u64,
        token: String,
    },
    /// `publish` returned for an event whose value is this token.
    Event { token: String },
}

impl Ack {
    fn parse(line: &str) -> Option<Ack> {
        let mut words = line.strip_prefix("ACK ")?.split(' ');
        match words.next()? {
            "put" => Some(Ack::Put {
                name: words.next()?.to_string(),
                revision: words.next()?.parse().ok()?,
                token: words.next()?.to_string(),
            }),
            "event" => Some(Ack::Event {
                token: words.next()?.to_string(),
            }),
            _ => None,
        }
    }
}

/// A small xorshift generator: the test needs reproducible randomness, not quality.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("VAMP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}

/// The writer: puts to [`NAMES`] artifacts (every third one conditional on the revision it last wrote) and
/// publishes an event every fourth write, printing `ACK …` after each acknowledged write, until it is killed.
#[test]
#[ignore = "the writer process of the crash tests, which start it themselves"]
fn crash_writer_child() {
    let Ok(url) = std::env::var(WRITER_URL) else {
        return;
    };
    block_on(async move {
        let store = SqlStore::connect(&url).await.expect("the writer opens the store");
        let mut out = std::io::stdout().lock();
        let pid = std::process::id();
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        for i in 0u64.. {
            let token = format!("{pid}-{i}");
            if i % 4 == 3 {
                let e = Event::new(["crash"], json!(token));
                store.publish(e).await.expect("publish");
                writeln!(out, "ACK event {token}").expect("stdout");
            } else {
                let n = i % NAMES;
                let name = format!("crash-{n}");
                let expected = last.get(&n).copied().filter(|_| i % 3 == 0);
                let revision = store
                    .put(Kind::Deployment, &name, json!({"token": token, "i": i}), expected)
                    .await
                    .expect("put");
                last.insert(n, revision);
                writeln!(out, "ACK put {name} {revision} {token}").expect("stdout");
            }
            out.flush().expect("stdout");
        }
    });
}

fn start_writer(url: &str) -> (Child, mpsc::Receiver<String>) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args([
            "crash_writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_URL, url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the writer starts");
    let stdout = child.stdout.take().expect("the writer's stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// Starts the writer, kills it with SIGKILL after a random number of acknowledgements and a random delay, and
/// returns every write it acknowledged.
fn run_and_kill(url: &str, random: &mut Random) -> Vec<Ack> {
    let (mut child, lines) = start_writer(url);
    let wanted = 1 + random.next(30) as usize;
    let mut acks = Vec::new();
    while acks.len() < wanted {
        match lines.recv_timeout(ACK_DEADLINE) {
            Ok(line) => acks.extend(Ack::parse(&line)),
            Err(e) => {
                let _ = child.kill();
                panic!("the writer acknowledged nothing for {ACK_DEADLINE:?} ({e}); it hangs or died");
            }
        }
    }
    let jitter = Instant::now() + Duration::from_micros(random.next(3000));
    while Instant::now() < jitter {
        std::hint::spin_loop();
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("the writer is reaped");
    acks.extend(lines.iter().filter_map(|l| Ack::parse(&l)));
    acks
}

/// Opens the store and checks that every acknowledged write is there.
async fn verify(url: &str, acks: &BTreeSet<Ack>, round: usize) {
    let store = SqlStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("round {round}: the store does not open after SIGKILL: {e}"));
    let mut histories = BTreeMap::new();
    for n in 0..NAMES {
        let name = format!("crash-{n}");
        let history = store.history(Kind::Deployment, &name).await.expect("history");
        let revisions: Vec<u64> = history.iter().map(|s| s.revision).collect();
        let expected: Vec<u64> = (1..=revisions.len() as u64).collect();
        assert_eq!(
            revisions, expected,
            "round {round}: {name} has gaps in its history"
        );
        histories.insert(name, history);
    }
    let mut events = BTreeSet::new();
    for p in 1.. {
        let page = store
            .query(&EventQuery::tags(["crash"]), Page::new(p, 1000).expect("a page"))
            .await
            .expect("query");
        if page.items.is_empty() {
            break;
        }
        events.extend(
            page.items
                .into_iter()
                .filter_map(|e| e.value.as_str().map(str::to_string)),
        );
    }
    for ack in acks {
        match ack {
            Ack::Put {
                name,
                revision,
                token,
            } => {
                let stored = histories
                    .get(name)
                    .and_then(|h| h.iter().find(|s| s.revision == *revision));
                assert_eq!(
                    stored
                        .and_then(|s| s.document.get("token"))
                        .and_then(|t| t.as_str()),
                    Some(token.as_str()),
                    "round {round}: acknowledged put of {name} revision {revision} is lost"
                );
            }
            Ack::Event { token } => assert!(
                events.contains(token),
                "round {round}: acknowledged event {token} is lost"
            ),
        }
    }
    store.close().await;
}

async fn sqlite_integrity(url: &str, round: usize) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("a connection");
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity check");
    assert_eq!(check, "ok", "round {round}: the SQLite file is damaged");
    conn.close().await.expect("close");
}

fn kill_repeatedly(url: &str, sqlite: bool) {
    let seed = seed();
    eprintln!("crash test seed {seed} (set VAMP_CRASH_SEED={seed} to replay)");
    let mut random = Random(seed);
    let mut acknowledged = BTreeSet::new();
    let started = Instant::now();
    for round in 1..=KILLS {
        let acks = run_and_kill(url, &mut random);
        acknowledged.extend(acks);
        block_on(async {
            if sqlite {
                sqlite_integrity(url, round).await;
            }
            verify(url, &acknowledged, round).await;
        });
    }
    let puts = acknowledged
        .iter()
        .filter(|a| matches!(a, Ack::Put { .. }))
        .count();
    eprintln!(
        "{KILLS} kills, {puts} acknowledged puts and {} events all kept, in {:?}",
        acknowledged.len() - puts,
        started.elapsed()
    );
    assert!(puts > KILLS, "the writer wrote too little to test anything");
}

#[test]
fn sqlite_keeps_every_acknowledged_write_across_sigkill() {
    if skip("sqlite") {
        return;
    }
    let dir = TempDir::new();
    kill_repeatedly(&dir.sqlite_url("crash.db"), true);
}

#[test]
fn postgres_keeps_every_acknowledged_write_across_sigkill() {
    if skip("postgres") {
        return;
    }
    let server = TestServer::postgres().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    kill_repeatedly(&postgres_url(&server), false);
}
