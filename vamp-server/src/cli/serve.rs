//! `vamp serve`: the server process. Binds the API's address, builds the [`Vamp`] from the configuration,
//! serves the REST API (on leader and standbys alike), and runs the loops while this process leads
//! ([`LeaderElection::always`] without HA, an etcd election with it). On shutdown the loops stop first, then
//! the election resigns (so a standby takes over at once), then the API stops.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use vamp_core::Result;

use crate::api::{ApiOptions, TlsOptions};

use crate::config::{ApiConfig, ServeConfig};
use crate::ha::{while_leader, LeaderElection};
use crate::vamp::Vamp;

use super::exit::{CliError, CliResult};

/// How long the loops may take to stop after shutdown without HA (no standby is waiting for them).
const GRACE_WITHOUT_HA: Duration = Duration::from_secs(10);

/// Runs the server configured by `config` until `shutdown` resolves. Fails with a usage error for settings the
/// backends refuse, "unreachable" for backends that do not answer, and a failure when the API's address cannot
/// be bound or the loops stop with an error (the process should then exit and be restarted).
pub async fn serve(config: ServeConfig, shutdown: impl Future<Output = ()> + Send) -> CliResult<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError::Failed(format!("The API cannot listen on {}: {e}", config.listen)))?;
    let vamp = config.build().await.map_err(CliError::from)?;
    let election = if config.ha.enabled() {
        LeaderElection::etcd(
            &config.ha.etcd,
            &config.election(),
            &config.candidate(),
            config.ha.lease_options(),
        )
        .await
        .map_err(CliError::from)?
    } else {
        LeaderElection::always(&config.candidate())
    };
    let grace = if config.ha.enabled() {
        config.ha.lease_options().step_down_margin / 2
    } else {
        GRACE_WITHOUT_HA
    };
    tracing::info!(
        listen = %config.listen,
        data_dir = %config.data_dir.display(),
        persistence = %config.persistence_url(),
        kv = %config.kv,
        driver = %config.driver_url(),
        namespace = %config.namespace,
        ha = config.ha.enabled(),
        "vamp serve starting"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let leadership = election.subscribe();
    let (resign_tx, resign_rx) = oneshot::channel::<()>();
    let election_task = tokio::spawn(election.run(async move {
        let _ = resign_rx.await;
    }));
    let (fatal_tx, mut fatal_rx) = mpsc::channel::<String>(1);
    let loops_vamp = vamp.clone();
    let loops = tokio::spawn(while_leader(
        leadership,
        stopped(stop_rx.clone()),
        grace,
        move |step_down| {
            let vamp = loops_vamp.clone();
            let fatal = fatal_tx.clone();
            async move {
                tracing::info!("leading: the loops run");
                if let Err(e) = vamp.run(step_down).await {
                    tracing::error!(error = %e, "the loops stopped with an error");
                    let _ = fatal.send(e.message().to_string()).await;
                }
            }
        },
    ));
    let mut api = tokio::spawn(serve_api(
        vamp.clone(),
        config.api.clone(),
        listener,
        stopped(stop_rx),
    ));
    tracing::info!(listen = %config.listen, "the API is listening");
    let demo = config.demo.then(|| {
        let (vamp, port) = (vamp.clone(), config.demo_port);
        tokio::spawn(async move {
            if let Err(e) = super::demo::run(vamp, port).await {
                tracing::error!(error = %e, "the demo stopped");
                println!("demo: stopped: {e}");
            }
        })
    });

    let early = tokio::select! {
        _ = shutdown => None,
        r = &mut api => Some(Err(match r {
            Ok(Ok(())) => CliError::Failed("the API stopped unexpectedly".into()),
            Ok(Err(e)) => CliError::from(e),
            Err(e) => CliError::Failed(format!("the API task failed: {e}")),
        })),
        Some(message) = fatal_rx.recv() => Some(Err(CliError::Failed(format!("the loops stopped: {message}")))),
    };
    tracing::info!("vamp serve stopping");
    if let Some(demo) = demo {
        demo.abort();
        if let Err(e) = super::demo::clean_up(&vamp).await {
            tracing::warn!(error = %e, "the demo's services could not all be stopped");
        }
    }
    let _ = stop_tx.send(true);
    let _ = loops.await;
    let _ = resign_tx.send(());
    let _ = election_task.await;
    let result = match early {
        Some(result) => {
            api.abort();
            result
        }
        None => match api.await {
            Ok(r) => r.map_err(CliError::from),
            Err(e) => Err(CliError::Failed(format!("the API task failed: {e}"))),
        },
    };
    tracing::info!("vamp serve stopped");
    result
}

/// Serves the REST API for `vamp` on `listener` until `shutdown`, with the tokens, TLS and CORS of `api`.
pub async fn serve_api(
    vamp: Vamp,
    api: ApiConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    crate::api::serve_on(vamp, api_options(&api), listener, shutdown).await
}

/// The API's options for the `api` section of the configuration.
fn api_options(api: &ApiConfig) -> ApiOptions {
    let mut options = ApiOptions::default();
    options.security.admin_tokens = api.tokens.admin.clone();
    options.security.read_tokens = api.tokens.read_only.clone();
    options.tls = api.tls.as_ref().map(|tls| TlsOptions {
        cert: tls.cert.clone(),
        key: tls.key.clone(),
    });
    options.cors.origins = api.cors.origins.clone();
    options.limits = api.limits.clone();
    options
}
