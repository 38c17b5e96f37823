//! The signals that shut a server down: the first begins, the second exits.

/// Completes at the first SIGTERM or SIGINT (Ctrl-C elsewhere than Unix),
/// to begin a server's shutdown. From then on, a second SIGTERM or SIGINT
/// ends the process at once with exit status 130.
///
/// It needs a tokio runtime with its I/O and signal drivers enabled.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::warn!("shutting down; a second signal exits at once");
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("second signal: exiting now");
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot listen for SIGTERM or SIGINT");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
