//! The `vamp` binary: the server (`vamp serve`) and its command-line client in one program; everything is in
//! [`vamp_server::cli::run`].

use std::io::IsTerminal;

use vamp_server::cli::output::Console;

/// A future that resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this is called (inside
/// the runtime), before the server starts, so a signal that arrives early is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("demo-service") {
        return vamp_server::cli::demo::service_main(args.collect());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the async runtime cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let tty = err.is_terminal();
    let mut console = Console {
        out: &mut out,
        err: &mut err,
        tty,
    };
    let code = runtime.block_on(async {
        let shutdown = shutdown_signal();
        vamp_server::cli::run(
            std::env::args_os().collect(),
            |name| std::env::var(name).ok(),
            &mut console,
            shutdown,
        )
        .await
    });
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
