//! [`Session`]: one etcd lease of a candidate, kept alive by a task of its own.
//!
//! The renewer sends one keep-alive per interval and publishes, for each one etcd confirms, the instant the
//! request was sent: etcd refreshed the lease after that instant, so the lease cannot expire before
//! `sent + ttl`. That lower bound is all the leader needs to step down in time ([`Session::valid_until`]).

use std::time::Duration;

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vamp_core::{Error, Result};

use super::options::LeaseOptions;

/// What the renewer last learnt about the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Renewal {
    /// etcd confirmed a renewal sent at `sent`; the lease lives at least until `sent + ttl`.
    Alive { sent: Instant, ttl: Duration },
    /// etcd says the lease no longer exists.
    Expired,
}

/// A granted lease and the task that keeps it alive; dropping the session stops the keep-alive (the lease then
/// expires on its own), [`Session::revoke`] ends it at once.
pub(super) struct Session {
    lease: i64,
    renewal: watch::Receiver<Renewal>,
    renewer: JoinHandle<()>,
}

impl Session {
    /// Grants a lease of `options.ttl` and starts renewing it.
    pub(super) async fn grant(client: &Client, options: &LeaseOptions) -> Result<Self> {
        let mut leases = client.lease_client();
        let sent = Instant::now();
        let granted = tokio::time::timeout(
            options.request_timeout(),
            leases.grant(options.ttl.as_secs() as i64, None),
        )
        .await
        .map_err(|_| Error::unavailable("etcd did not answer the lease grant in time"))?
        .map_err(|e| Error::unavailable(format!("etcd refused a lease: {e}")).with_source(e))?;
        let ttl = Duration::from_secs(granted.ttl().max(0) as u64);
        let lease = granted.id();
        let (publish, renewal) = watch::channel(Renewal::Alive { sent, ttl });
        let renewer = tokio::spawn(renew(client.clone(), lease, ttl, *options, publish));
        tracing::debug!(lease, ?ttl, "granted an HA lease");
        Ok(Session {
            lease,
            renewal,
            renewer,
        })
    }

    /// The lease id.
    pub(super) fn lease(&self) -> i64 {
        self.lease
    }

    /// Whether etcd said the lease is gone.
    pub(super) fn expired(&self) -> bool {
        matches!(*self.renewal.borrow(), Renewal::Expired)
    }

    /// The instant until which this process may act as the holder of the lease: `margin` before the earliest
    /// instant etcd can expire it. In the past once the lease expired.
    pub(super) fn valid_until(&self, margin: Duration) -> Instant {
        match *self.renewal.borrow() {
            Renewal::Alive { sent, ttl } => (sent + ttl).checked_sub(margin).unwrap_or(sent),
            Renewal::Expired => Instant::now(),
        }
    }

    /// Resolves at the renewer's next report (a renewal or the lease's expiry); pending forever once the renewer
    /// has stopped.
    pub(super) async fn renewed(&mut self) {
        if self.renewal.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stops the keep-alive and revokes the lease (which deletes the keys bound to it), within `timeout`; a failed
    /// revoke only means the lease expires after its TTL.
    pub(super) async fn revoke(self, client: &Client, timeout: Duration) {
        self.renewer.abort();
        let mut leases = client.lease_client();
        match tokio::time::timeout(timeout, leases.revoke(self.lease)).await {
            Ok(Ok(_)) => tracing::debug!(lease = self.lease, "revoked the HA lease"),
            Ok(Err(e)) => tracing::warn!(lease = self.lease, "could not revoke the HA lease: {e}"),
            Err(_) => tracing::warn!(
                lease = self.lease,
                "etcd did not answer the HA lease revoke in time"
            ),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews `lease` every interval until etcd says it is gone, publishing each confirmed renewal.
async fn renew(
    client: Client,
    lease: i64,
    granted: Duration,
    options: LeaseOptions,
    publish: watch::Sender<Renewal>,
) {
    let mut stream: Option<(LeaseKeeper, LeaseKeepAliveStream)> = None;
    let mut tick = tokio::time::interval(options.keep_alive_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut failures = 0u32;
    loop {
        tick.tick().await;
        let sent = Instant::now();
        let answer = tokio::time::timeout(
            options.request_timeout(),
            renew_once(&client, lease, granted, &mut stream),
        )
        .await;
        match answer {
            Ok(Ok(Some(ttl))) => {
                if failures > 0 {
                    tracing::info!(lease, "HA lease renewals succeed again");
                }
                failures = 0;
                publish.send_replace(Renewal::Alive { sent, ttl });
            }
            Ok(Ok(None)) => {
                tracing::warn!(lease, "the HA lease expired");
                publish.send_replace(Renewal::Expired);
                return;
            }
            Ok(Err(e)) => {
                stream = None;
                failures += 1;
                if failures == 1 {
                    tracing::warn!(lease, "renewing the HA lease failed: {e}");
                }
            }
            Err(_) => {
                stream = None;
                failures += 1;
                if failures == 1 {
                    tracing::warn!(lease, "etcd did not answer an HA lease renewal in time");
                }
            }
        }
    }
}

/// One keep-alive: the lease's TTL after the renewal, `None` when the lease no longer exists.
async fn renew_once(
    client: &Client,
    lease: i64,
    granted: Duration,
    stream: &mut Option<(LeaseKeeper, LeaseKeepAliveStream)>,
) -> std::result::Result<Option<Duration>, etcd_client::Error> {
    let Some((keeper, answers)) = stream else {
        // Opening the stream sends the first keep-alive and waits for its answer.
        return match client.lease_client().keep_alive(lease).await {
            Ok(opened) => {
                *stream = Some(opened);
                Ok(Some(granted))
            }
            Err(etcd_client::Error::LeaseKeepAliveError(message)) if message.contains("not found") => {
                Ok(None)
            }
            Err(e) => Err(e),
        };
    };
    keeper.keep_alive().await?;
    match answers.message().await? {
        Some(answer) if answer.ttl() > 0 => Ok(Some(Duration::from_secs(answer.ttl() as u64))),
        Some(_) => Ok(None),
        None => Err(etcd_client::Error::LeaseKeepAliveError(
            "the keep-alive stream ended".into(),
        )),
    }
}
