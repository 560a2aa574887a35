//! Serving the router: plain HTTP through `axum::serve`, or TLS (rustls, from PEM files) through tokio-rustls
//! and hyper, both with graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use vamp_core::{Error, Result};

use super::options::{ApiOptions, TlsOptions};
use super::router;
use crate::vamp::Vamp;

/// How long open connections may finish after shutdown before they are closed (event streams never finish).
const DRAIN: Duration = Duration::from_secs(5);

/// Serves the API on `options.listen` until `shutdown` completes. `Unavailable` when the address cannot be
/// bound; `Invalid` when the TLS files cannot be read.
pub async fn serve(
    vamp: Vamp,
    options: ApiOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        Error::unavailable(format!("The API cannot listen on {}: {e}", options.listen)).with_source(e)
    })?;
    serve_on(vamp, options, listener, shutdown).await
}

/// Serves the API on `listener` (its address wins over `options.listen`) until `shutdown` completes: TLS when
/// `options.tls` is set, plain HTTP otherwise. Connections in progress finish their current request.
pub async fn serve_on(
    vamp: Vamp,
    options: ApiOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = match &options.tls {
        Some(t) => Some(tls_config(t).await?),
        None => None,
    };
    let app = router(vamp, options);
    let address = listener.local_addr().ok();
    match tls {
        None => {
            tracing::info!(?address, "REST API listening (HTTP)");
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let signal = async move {
                shutdown.await;
                let _ = stop.send(true);
            };
            let mut drained = stopped.clone();
            let server = axum::serve(listener, app).with_graceful_shutdown(signal);
            let deadline = async move {
                let _ = drained.wait_for(|s| *s).await;
                tokio::time::sleep(DRAIN).await;
            };
            tokio::select! {
                served = server => served.map_err(|e| Error::backend(format!("The API server stopped: {e}"))),
                () = deadline => {
                    tracing::info!("connections still open after the drain period (event streams) were closed");
                    Ok(())
                }
            }
        }
        Some(config) => {
            tracing::info!(?address, "REST API listening (HTTPS)");
            serve_tls(listener, app, config, shutdown).await
        }
    }
}

/// The rustls configuration of `tls`: the certificate chain and key from their PEM files.
pub async fn tls_config(tls: &TlsOptions) -> Result<Arc<ServerConfig>> {
    let read = |path: std::path::PathBuf| async move {
        tokio::fs::read(&path).await.map_err(|e| {
            Error::invalid(format!("The TLS file {} cannot be read: {e}", path.display())).with_source(e)
        })
    };
    let cert_pem = read(tls.cert.clone()).await?;
    let key_pem = read(tls.key.clone()).await?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid(format!(
                "The TLS certificate {} is not PEM: {e}",
                tls.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "The TLS certificate file {} holds no certificate.",
            tls.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        Error::invalid(format!(
            "The TLS key {} is not a PEM private key: {e}",
            tls.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::backend(format!("TLS setup failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::invalid(format!("The TLS certificate and key do not work together: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open after the drain period (event streams) were closed");
    }
    Ok(())
}
