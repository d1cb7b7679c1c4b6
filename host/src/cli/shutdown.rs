//! Stopping on a signal the way orchestrators expect: the first SIGINT or SIGTERM
//! starts a graceful shutdown; a second one, or the grace period running out, ends the
//! process at once (exit codes 130 and 1).

use std::sync::mpsc;
use std::time::Duration;

/// Exit code after a second signal (as shells report an interrupted command).
pub(super) const SECOND_SIGNAL_EXIT: i32 = 130;
/// Exit code when a graceful shutdown outlives its grace period.
pub(super) const GRACE_EXPIRED_EXIT: i32 = 1;

/// SIGINT and SIGTERM, listened for on a thread of their own.
pub(super) struct Signals {
    first: mpsc::Receiver<()>,
}

/// Starts listening. After the first signal, the process has `grace` to finish
/// ([`Signals::wait`] returns then); a second signal or the end of `grace` exits it.
pub(super) fn listen(grace: Duration) -> anyhow::Result<Signals> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, first) = mpsc::channel();
    // Registered here, before this returns: a signal from now on is ours.
    let mut signals = rt.block_on(async { Listener::new() })?;
    std::thread::Builder::new()
        .name("molt-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                signals.next().await;
                let _ = tx.send(());
                tokio::select! {
                    _ = signals.next() => {
                        eprintln!("second signal: exiting now");
                        std::process::exit(SECOND_SIGNAL_EXIT);
                    }
                    _ = tokio::time::sleep(grace) => {
                        eprintln!("shutdown took longer than {grace:?}: exiting now");
                        std::process::exit(GRACE_EXPIRED_EXIT);
                    }
                }
            })
        })?;
    Ok(Signals { first })
}

impl Signals {
    /// Blocks until the first signal.
    pub(super) fn wait(&self) {
        let _ = self.first.recv();
    }
}

/// SIGINT and SIGTERM as one stream.
struct Listener {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Listener {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Listener {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Listener {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
