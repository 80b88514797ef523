//! What the command-line program sets up for its own process: signals, and reaping the pack
//! tests' orphans.

use attune_pack::Interrupt;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// - SIGXFSZ is ignored, so a file-size limit (`ulimit -f`) makes a write fail with EFBIG,
///   a clean error that removes staging, instead of killing the process mid-install.
/// - The process becomes a child subreaper (Linux), so processes that a pack's tests leave
///   behind are reparented to it and reaped when their group is killed, even where the
///   system's init does not reap orphans.
pub fn prepare() {
    // SAFETY: setting a signal disposition and a process attribute at start-up, before
    // any thread that could race with it exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// SIGINT, SIGTERM and SIGHUP all stop the command at the next safe point (staging removed,
/// store unchanged; exit 128 + the signal); a second signal exits at once (the next command's
/// recovery then finishes or undoes what was under way).
pub fn watch_signals(interrupt: Interrupt) {
    let Ok(mut signals) = Signals::new() else {
        return;
    };
    tokio::spawn(async move {
        interrupt.trigger_signal(signals.next().await);
        std::process::exit(128 + signals.next().await);
    });
}

struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The number of the next signal received.
    async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        }
    }
}
