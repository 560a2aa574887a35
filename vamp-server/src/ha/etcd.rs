//! [`EtcdElection`]: the election on one etcd key bound to the leader's lease.
//!
//! Campaign: a transaction creates the key with this candidate's id, bound to its lease, only if the key does
//! not exist; otherwise it reads the key (whose lease may be this candidate's own, e.g. after a lost answer, in
//! which case this candidate leads). A standby watches the key and campaigns again when it is deleted (the
//! leader resigned or its lease expired). The leader watches the key too (someone deleting or overwriting it
//! ends the leadership) and steps down when its lease renewals stop succeeding, before the lease can expire.

use std::future::Future;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions, WatchStream,
};
use tokio::sync::watch;
use tokio::time::Instant;
use vamp_core::{Error, Result};

use super::leadership::Leadership;
use super::options::LeaseOptions;
use super::session::Session;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection and settings of one candidate in one election.
pub(super) struct EtcdElection {
    client: Client,
    endpoints: String,
    key: String,
    candidate: String,
    options: LeaseOptions,
}

/// What one campaign found.
enum Campaign {
    /// The key is bound to this candidate's lease.
    Won { term: i64, revision: i64 },
    /// Another candidate holds the key (as of `revision`).
    Lost { leader: Option<String>, revision: i64 },
}

/// Why a leadership ended.
enum LeadEnd {
    /// Renewals failed for too long, or the lease expired.
    LeaseLost(String),
    /// The key was deleted or rebound by someone else.
    Displaced,
}

/// What survives a cancelled campaign: the lease to revoke on shutdown.
#[derive(Default)]
struct State {
    session: Option<Session>,
}

impl EtcdElection {
    /// A lazily connecting client for `endpoints`; fails only for malformed endpoints.
    pub(super) async fn connect(
        endpoints: &[String],
        key: String,
        candidate: &str,
        options: LeaseOptions,
    ) -> Result<Self> {
        if endpoints.is_empty() {
            return Err(Error::invalid(
                "HA needs at least one etcd endpoint, as in '127.0.0.1:2379'",
            ));
        }
        let urls: Vec<String> = endpoints
            .iter()
            .map(|e| {
                if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let described = urls.join(",");
        let ping = options.keep_alive_interval.max(Duration::from_millis(500));
        let connect = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT.min(options.request_timeout()))
            .with_timeout(options.request_timeout())
            .with_keep_alive(ping, ping)
            .with_keep_alive_while_idle(true);
        let client = Client::connect(&urls, Some(connect)).await.map_err(|e| {
            Error::invalid(format!("the HA etcd endpoints '{described}' are not usable: {e}")).with_source(e)
        })?;
        Ok(EtcdElection {
            client,
            endpoints: described,
            key,
            candidate: candidate.to_string(),
            options,
        })
    }

    /// Campaigns, leads and follows until `shutdown`; then publishes `Stopped` and revokes the lease.
    pub(super) async fn run(
        self,
        publish: &watch::Sender<Leadership>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let mut state = State::default();
        tokio::select! {
            _ = shutdown => {}
            _ = self.take_part(&mut state, publish) => {}
        }
        let was_leader = publish.send_replace(Leadership::Stopped).is_leader();
        if let Some(session) = state.session.take() {
            session.revoke(&self.client, self.options.request_timeout()).await;
        }
        if was_leader {
            tracing::info!(candidate = %self.candidate, key = %self.key, "resigned the leadership");
        }
    }

    /// The election loop; never returns (the caller cancels it at shutdown). Every await point leaves `state`
    /// consistent, so cancelling it anywhere is safe.
    async fn take_part(&self, state: &mut State, publish: &watch::Sender<Leadership>) {
        loop {
            if state.session.as_ref().is_none_or(Session::expired) {
                state.session = None;
                match Session::grant(&self.client, &self.options).await {
                    Ok(session) => state.session = Some(session),
                    Err(e) => {
                        self.unavailable(publish, format!("etcd at {}: {}", self.endpoints, e.message()));
                        tokio::time::sleep(self.options.retry_delay()).await;
                        continue;
                    }
                }
            }
            let Some(session) = state.session.as_mut() else {
                continue;
            };
            match self.campaign(session.lease()).await {
                Err(e) => {
                    if e.message().contains("lease not found") {
                        state.session = None;
                        continue;
                    }
                    self.unavailable(publish, e.message().to_string());
                    tokio::time::sleep(self.options.retry_delay()).await;
                }
                Ok(Campaign::Won { term, revision }) => {
                    if session.valid_until(self.options.step_down_margin) <= Instant::now() {
                        // The key is ours but no renewal is recent enough to lead safely: wait for one.
                        let _ = tokio::time::timeout(self.options.ttl, session.renewed()).await;
                        continue;
                    }
                    publish.send_replace(Leadership::Leader {
                        since: chrono::Utc::now(),
                        term,
                    });
                    tracing::info!(candidate = %self.candidate, key = %self.key, term, "became the leader");
                    match self.lead(session, revision).await {
                        LeadEnd::LeaseLost(reason) => {
                            tracing::warn!(candidate = %self.candidate, "stepped down: {reason}");
                            publish.send_replace(Leadership::Unavailable { reason });
                        }
                        LeadEnd::Displaced => {
                            tracing::warn!(candidate = %self.candidate, key = %self.key,
                                "stepped down: the leader key was deleted or taken over");
                            publish.send_replace(Leadership::Standby { leader: None });
                        }
                    }
                }
                Ok(Campaign::Lost { leader, revision }) => {
                    publish.send_replace(Leadership::Standby {
                        leader: leader.clone(),
                    });
                    self.follow(session, revision, publish).await;
                }
            }
        }
    }

    fn unavailable(&self, publish: &watch::Sender<Leadership>, reason: String) {
        let changed = publish.send_if_modified(|current| {
            let next = Leadership::Unavailable {
                reason: reason.clone(),
            };
            if *current == next {
                false
            } else {
                *current = next;
                true
            }
        });
        if changed {
            tracing::warn!(candidate = %self.candidate, "HA election unavailable: {reason}");
        }
    }

    /// Creates the key bound to `lease` unless it exists; reads it otherwise.
    async fn campaign(&self, lease: i64) -> Result<Campaign> {
        let key = self.key.as_str();
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                self.candidate.as_str(),
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key, None)]);
        let answer = tokio::time::timeout(self.options.request_timeout(), self.client.kv_client().txn(txn))
            .await
            .map_err(|_| {
                Error::unavailable(format!(
                    "etcd at {} did not answer the campaign in time",
                    self.endpoints
                ))
            })?
            .map_err(|e| self.failed("campaigning", e))?;
        let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
        if answer.succeeded() {
            return Ok(Campaign::Won {
                term: revision,
                revision,
            });
        }
        let holder = answer.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().cloned(),
            _ => None,
        });
        Ok(match holder {
            Some(kv) if kv.lease() == lease => Campaign::Won {
                term: kv.create_revision(),
                revision,
            },
            Some(kv) => Campaign::Lost {
                leader: Some(String::from_utf8_lossy(kv.value()).into_owned()),
                revision,
            },
            None => Campaign::Lost {
                leader: None,
                revision,
            },
        })
    }

    /// Leads until the lease can no longer be vouched for or the key stops being ours.
    async fn lead(&self, session: &mut Session, revision: i64) -> LeadEnd {
        let margin = self.options.step_down_margin;
        let mut watch = self.watch_from(revision).await.ok();
        loop {
            let deadline = session.valid_until(margin);
            if session.expired() {
                return LeadEnd::LeaseLost("etcd says the lease expired".into());
            }
            if deadline <= Instant::now() {
                return LeadEnd::LeaseLost(self.no_renewal_reason());
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return LeadEnd::LeaseLost(self.no_renewal_reason()),
                _ = session.renewed() => {
                    if watch.is_none() && !session.expired() {
                        match self.still_ours(session.lease()).await {
                            Ok(Some(from)) => watch = self.watch_from(from).await.ok(),
                            Ok(None) => return LeadEnd::Displaced,
                            Err(_) => {}
                        }
                    }
                }
                message = next_message(&mut watch) => match message {
                    Ok(Some(answer)) if answer.canceled() => watch = None,
                    Ok(Some(answer)) => {
                        let displaced = answer.events().iter().any(|event| {
                            event.event_type() == EventType::Delete
                                || event.kv().is_some_and(|kv| kv.lease() != session.lease())
                        });
                        if displaced {
                            return LeadEnd::Displaced;
                        }
                    }
                    Ok(None) | Err(_) => watch = None,
                },
            }
        }
    }

    fn no_renewal_reason(&self) -> String {
        format!(
            "no lease renewal confirmed by etcd at {} for {:?}; stepped down {:?} before the lease could expire",
            self.endpoints,
            self.options.ttl - self.options.step_down_margin,
            self.options.step_down_margin
        )
    }

    /// The revision to watch the key from if it is still bound to `lease`; `None` if it is not.
    async fn still_ours(&self, lease: i64) -> Result<Option<i64>> {
        let answer = tokio::time::timeout(
            self.options.request_timeout(),
            self.client.kv_client().get(self.key.as_str(), None::<GetOptions>),
        )
        .await
        .map_err(|_| Error::unavailable("etcd did not answer in time"))?
        .map_err(|e| self.failed("reading the leader key", e))?;
        let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
        Ok(answer
            .kvs()
            .first()
            .filter(|kv| kv.lease() == lease)
            .map(|_| revision))
    }

    /// Waits as a standby until the key is deleted, the lease expires or etcd fails; reports leader changes.
    async fn follow(&self, session: &mut Session, revision: i64, publish: &watch::Sender<Leadership>) {
        let mut watch = match self.watch_from(revision).await {
            Ok(watch) => watch,
            Err(e) => {
                self.unavailable(publish, e.message().to_string());
                tokio::time::sleep(self.options.retry_delay()).await;
                return;
            }
        };
        loop {
            tokio::select! {
                _ = session.renewed() => {
                    if session.expired() {
                        return;
                    }
                }
                message = watch.message() => match message {
                    Ok(Some(answer)) if answer.canceled() => return,
                    Ok(Some(answer)) => {
                        for event in answer.events() {
                            if event.event_type() == EventType::Delete {
                                return;
                            }
                            let leader = event.kv().map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
                            publish.send_replace(Leadership::Standby { leader });
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        self.unavailable(publish, self.failed("watching the leader key", e).message().to_string());
                        tokio::time::sleep(self.options.retry_delay()).await;
                        return;
                    }
                },
            }
        }
    }

    /// A watch on the key from the revision after `revision`.
    async fn watch_from(&self, revision: i64) -> Result<WatchStream> {
        let options = WatchOptions::new().with_start_revision(revision + 1);
        tokio::time::timeout(
            self.options.request_timeout(),
            self.client.watch_client().watch(self.key.as_str(), Some(options)),
        )
        .await
        .map_err(|_| {
            Error::unavailable(format!(
                "etcd at {} did not start a watch in time",
                self.endpoints
            ))
        })?
        .map_err(|e| self.failed("watching the leader key", e))
    }

    fn failed(&self, what: &str, e: etcd_client::Error) -> Error {
        Error::unavailable(format!("etcd at {} failed {what}: {e}", self.endpoints)).with_source(e)
    }
}

/// The next message of `watch`; pending forever without one.
async fn next_message(
    watch: &mut Option<WatchStream>,
) -> std::result::Result<Option<etcd_client::WatchResponse>, etcd_client::Error> {
    match watch {
        Some(watch) => watch.message().await,
        None => std::future::pending().await,
    }
}
