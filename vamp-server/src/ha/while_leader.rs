//! [`while_leader`]: runs work (the loops) only while this process leads.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;

use super::leadership::Leadership;

/// Resolves when the work given to [`while_leader`] must stop: leadership ended or shutdown.
pub struct StepDown {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for StepDown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

/// Runs `work` each time `leadership` becomes [`Leadership::Leader`], until `shutdown` resolves.
///
/// When leadership ends (or at shutdown) the [`StepDown`] given to the running work resolves; work that has not
/// returned `grace` later is dropped (cancelled at its current await point). Keep `grace` well below the
/// election's `step_down_margin`, so the loops are gone before a standby can take over. Returns once `shutdown`
/// resolved and the work stopped; then resolve the election's shutdown, so it resigns.
pub async fn while_leader<F, Fut>(
    mut leadership: watch::Receiver<Leadership>,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
    mut work: F,
) where
    F: FnMut(StepDown) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            led = leadership.wait_for(Leadership::is_leader) => if led.is_err() { return; },
        }
        let (stop, stopped) = watch::channel(false);
        let mut ended = leadership.clone();
        let step_down = StepDown {
            inner: Box::pin(async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            }),
        };
        let running = work(step_down);
        tokio::pin!(running);
        let (returned, shutting_down) = tokio::select! {
            _ = &mut running => (true, false),
            _ = &mut shutdown => (false, true),
            _ = ended.wait_for(|l| !l.is_leader()) => (false, false),
        };
        let _ = stop.send(true);
        if !returned {
            let _ = tokio::time::timeout(grace, &mut running).await;
        }
        if shutting_down {
            return;
        }
        // Work that returned on its own while still leading is not restarted until leadership changes again.
        tokio::select! {
            _ = &mut shutdown => return,
            _ = leadership.wait_for(|l| !l.is_leader()) => {}
        }
    }
}
