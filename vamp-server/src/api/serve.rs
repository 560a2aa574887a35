//! Serving the router over plain HTTP or TLS (rustls, from PEM files) through hyper, with graceful shutdown and
//! the connection limits of [`ApiLimits`]: a header-read timeout (also how long a kept-alive connection may wait
//! idle for its next request), an idle timeout while a request is under way, a TLS-handshake timeout, and an
//! accept loop that backs off when file descriptors run out instead of spinning ([`super::accept`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use vamp_core::{Error, Result};

use super::accept::AcceptBackoff;
use super::idle::IdleTimeout;
use super::limits::ApiLimits;
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
/// `options.tls` is set, plain HTTP otherwise, each connection within `options.limits`. Connections in progress
/// get `DRAIN` (5 s) to finish their current request.
pub async fn serve_on(
    vamp: Vamp,
    options: ApiOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = match &options.tls {
        Some(t) => Some(TlsAcceptor::from(tls_config(t).await?)),
        None => None,
    };
    let limits = options.limits.clone();
    let app = router(vamp, options);
    let address = listener.local_addr().ok();
    if tls.is_some() {
        tracing::info!(?address, "REST API listening (HTTPS)");
    } else {
        tracing::info!(?address, "REST API listening (HTTP)");
    }
    serve_connections(listener, app, tls, limits, shutdown).await;
    Ok(())
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

/// Accepts connections on `listener` until `shutdown`, serving each with `app` on a task of its own.
async fn serve_connections(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ApiLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = AcceptBackoff::new(limits.accept_backoff_max());
    let limits = Arc::new(limits);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff.accepted();
                    a
                }
                Err(e) => {
                    let failure = backoff.failed(&e, Instant::now());
                    match failure.log {
                        Some(text) => tracing::warn!("{text}"),
                        None if failure.pause.is_zero() => {
                            tracing::debug!(error = %e, "accepting a connection failed");
                        }
                        None => {}
                    }
                    if !failure.pause.is_zero() {
                        tokio::select! {
                            () = tokio::time::sleep(failure.pause) => {}
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let stream = IdleTimeout::new(stream, limits.idle_timeout());
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout());
            let served = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    let Some(tls) = handshake(&acceptor, stream, &limits, peer).await else {
                        return;
                    };
                    watcher
                        .watch(http.serve_connection(TokioIo::new(tls), service))
                        .await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open after the drain period (event streams) were closed");
    }
}

/// The TLS side of `stream`, or `None` when the handshake fails or takes longer than the limit.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: IdleTimeout<TcpStream>,
    limits: &ApiLimits,
    peer: std::net::SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<IdleTimeout<TcpStream>>> {
    match tokio::time::timeout(limits.tls_handshake_timeout(), acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake took longer than its limit; connection closed");
            None
        }
    }
}
