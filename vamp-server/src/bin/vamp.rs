//! The `vamp` binary: the server (`vamp serve`) and its command-line client in one program; everything is in
//! [`vamp_server::cli::run`].

use std::io::IsTerminal;

use vamp_server::cli::output::Console;

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> std::process::ExitCode {
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
    let code = runtime.block_on(vamp_server::cli::run(
        std::env::args_os().collect(),
        |name| std::env::var(name).ok(),
        &mut console,
        shutdown_signal(),
    ));
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
