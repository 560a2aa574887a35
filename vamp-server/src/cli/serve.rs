//! `vamp serve`: the server process. Binds the API's address, builds the [`Vamp`] from the configuration,
//! serves the REST API (on leader and standbys alike), and runs the loops while this process leads
//! ([`LeaderElection::always`] without HA, an etcd election with it). On shutdown the loops stop first, then
//! the election resigns (so a standby takes over at once), then the API stops.
//!
//! The REST API module (`crate::api`) is wired through [`serve_api`] alone; until it is part of the build,
//! [`serve_api`] serves a placeholder router that answers `/health` and `/api/v1/health` (and `/api/v1/info`)
//! and 501 for everything else.

use std::future::Future;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use vamp_core::{Error, Result};

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

/// Serves the REST API for `vamp` on `listener` until `shutdown`.
///
/// This is the one place the API module is wired in. Until `crate::api` is part of the build it serves the
/// placeholder router ([`placeholder_router`]) and refuses TLS (serving plain HTTP where TLS was asked for would
/// be worse than not starting). With the API module, the body becomes:
///
/// ```text
/// let options = crate::api::ApiOptions { tokens…, tls…, cors… from `api` };
/// crate::api::serve(vamp, options, listener, shutdown).await
/// ```
pub async fn serve_api(
    vamp: Vamp,
    api: ApiConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if api.tls.is_some() {
        return Err(Error::unsupported(
            "TLS (api.tls) needs the REST API module, which this build does not contain yet",
        ));
    }
    axum::serve(listener, placeholder_router(vamp))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::backend(format!("The API server failed: {e}")))
}

/// `/health`, `/api/v1/health` and `/api/v1/info` over the facade; 501 with a JSON message for anything else.
///
/// Each facade call runs in a task of its own, so a client that disconnects (which drops the request's future)
/// cannot cancel a store operation halfway: the SQLite pool does not survive a transaction dropped mid-way.
pub fn placeholder_router(vamp: Vamp) -> Router {
    let health = |vamp: Vamp| async move {
        match tokio::spawn(async move { vamp.health().await }).await {
            Ok(h) => {
                let status = if h.healthy {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                json(status, serde_json::to_value(&h))
            }
            Err(e) => failed(&e),
        }
    };
    let v1 = vamp.clone();
    let v2 = vamp.clone();
    Router::new()
        .route("/health", get(move || health(v1.clone())))
        .route("/api/v1/health", get(move || health(v2.clone())))
        .route(
            "/api/v1/info",
            get(move || {
                let vamp = vamp.clone();
                async move {
                    match tokio::spawn(async move { vamp.info().await }).await {
                        Ok(info) => json(StatusCode::OK, serde_json::to_value(info)),
                        Err(e) => failed(&e),
                    }
                }
            }),
        )
        .fallback(|| async {
            json(
                StatusCode::NOT_IMPLEMENTED,
                Ok(serde_json::json!({ "message": "The REST API is not part of this build yet; only /health and /api/v1/info answer." })),
            )
        })
}

fn failed(e: &tokio::task::JoinError) -> Response {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        Ok(serde_json::json!({ "message": format!("Internal server error: {e}") })),
    )
}

fn json(status: StatusCode, value: serde_json::Result<serde_json::Value>) -> Response {
    match value {
        Ok(v) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "message": format!("cannot write JSON: {e}") }).to_string(),
        )
            .into_response(),
    }
}
