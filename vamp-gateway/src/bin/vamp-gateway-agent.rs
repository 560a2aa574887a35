//! `vamp-gateway-agent`: watches the HAProxy configuration Vamp publishes in a key-value store and applies it to
//! a local HAProxy, turning HAProxy's access logs into metrics. Flags and environment variables:
//! [`vamp_gateway::agent::options`]; `RUST_LOG` sets the log level (default `info`). Stops on SIGINT or SIGTERM,
//! stopping HAProxy with it.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use vamp_gateway::agent::options::AgentOptions;

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "vamp-gateway-agent [--kv <url>] [--key <key>] [--dir <dir>] [--haproxy <path>] [--log-target <addr>]\n\
             \x20                  [--log-sources <ips>] [--stats-bind <addr>] [--gateway-bind <addr>] [--vhost-bind <addr>]\n\
             \x20                  [--http <addr>] [--logstash <host:port>] [--elasticsearch <url>] [--namespace <ns>]\n\
             \x20                  [--signing-key <file> | --insecure-unsigned]\n\
             Environment: VAMP_KEY_VALUE_STORE_TYPE/CONNECTION/PATH (or VAMP_KV_URL), VAMP_GATEWAY_AGENT_DIR,\n\
             VAMP_HAPROXY, VAMP_LOG_TARGET, VAMP_LOG_SOURCES, VAMP_STATS_BIND, VAMP_GATEWAY_BIND, VAMP_VHOST_BIND,\n\
             VAMP_GATEWAY_AGENT_HTTP, VAMP_LOGSTASH, VAMP_ELASTICSEARCH_URL, VAMP_NAMESPACE,\n\
             VAMP_KV_SIGNING_KEY_FILE, VAMP_INSECURE_UNSIGNED. See docs/gateway.md and docs/kv.md."
        );
        return ExitCode::SUCCESS;
    }
    let options = match AgentOptions::from_env_and_args(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("vamp-gateway-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match vamp_gateway::agent::run::run(options, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "vamp-gateway-agent stopped");
            ExitCode::FAILURE
        }
    }
}
