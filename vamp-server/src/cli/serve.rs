//! `vamp serve`: the server process. Binds the API's address, builds the [`crate::Vamp`] from the configuration,
//! serves the REST API (on leader and standbys alike), and runs the loops while this process leads
//! ([`LeaderElection::always`] without HA, an etcd election with it). On shutdown the loops stop first, then
//! the election resigns (so a standby takes over at once), then the API stops.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::api::{ApiOptions, ApiSecurity, TlsOptions};

use crate::config::{ApiCredentials, ServeConfig};
use crate::ha::{while_leader, LeaderElection};

use super::exit::{CliError, CliResult};

/// How long the loops may take to stop after shutdown without HA (no standby is waiting for them).
const GRACE_WITHOUT_HA: Duration = Duration::from_secs(10);

/// Runs the server configured by `config` until `shutdown` resolves. Fails with a usage error for settings the
/// backends refuse, "unreachable" for backends that do not answer, and a failure when the API's address cannot
/// be bound or the loops stop with an error (the process should then exit and be restarted).
pub async fn serve(config: ServeConfig, shutdown: impl Future<Output = ()> + Send) -> CliResult<()> {
    let credentials = config.api_credentials().map_err(CliError::from)?;
    announce_credentials(&config, &credentials);
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
        persistence = %vamp_core::redact::url(&config.persistence_url()),
        kv = %vamp_core::redact::url(&config.kv),
        driver = %vamp_core::redact::url(&config.driver_url()),
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
    let mut api = tokio::spawn(crate::api::serve_on(
        vamp.clone(),
        api_options(&config, credentials.security),
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

/// The API's options for the `api` section of `config` with `security`.
pub fn api_options(config: &ServeConfig, security: ApiSecurity) -> ApiOptions {
    let api = &config.api;
    let mut options = ApiOptions {
        listen: config.listen,
        security,
        allowed_hosts: api.allowed_hosts.clone(),
        ..ApiOptions::default()
    };
    options.tls = api.tls.as_ref().map(|tls| TlsOptions {
        cert: tls.cert.clone(),
        key: tls.key.clone(),
    });
    options.cors.origins = api.cors.origins.clone();
    options.limits = api.limits.clone();
    options
}

/// Tells the operator where the API's admin token is and warns of what weakens the API: an open API, tokens on
/// the command line (visible to every user in `ps`), plain HTTP on a non-loopback address.
fn announce_credentials(config: &ServeConfig, credentials: &ApiCredentials) {
    let scheme = if config.api.tls.is_some() { "https" } else { "http" };
    if let Some((path, created)) = &credentials.token_file {
        let verb = if *created { "created" } else { "kept" };
        println!(
            "vamp: the API's admin token is {verb} in {} (the CLI on this machine reads it from there; sign in to \
             the web UI at {scheme}://{} with it)",
            path.display(),
            config.listen
        );
        tracing::info!(file = %path.display(), created, "API admin token");
        if config.demo {
            if let Some(token) = credentials.security.admin_tokens.first() {
                println!(
                    "vamp: demo: signed-in web UI link: {scheme}://{}/#token={token}",
                    config.listen
                );
            }
        }
    }
    if credentials.security.is_open() {
        tracing::warn!(
            listen = %config.listen,
            "the API is open: every local user and every web page open on this machine can change what runs \
             (--insecure-open-api)"
        );
    } else if config.api.insecure_open {
        tracing::warn!("api.insecure-open is ignored: tokens are configured");
    }
    if std::env::args().any(|a| {
        a == "--api-token"
            || a.starts_with("--api-token=")
            || a == "--api-read-token"
            || a.starts_with("--api-read-token=")
    }) {
        tracing::warn!(
            "API tokens given as flags are visible to every user of this machine (ps); use --api-token-file or \
             VAMP_API_TOKENS"
        );
    }
    if !config.listen.ip().is_loopback() && config.api.tls.is_none() {
        tracing::warn!(
            listen = %config.listen,
            "the API listens beyond this machine over plain HTTP: tokens travel in clear text; configure TLS \
             (--tls-cert, --tls-key)"
        );
    }
}
