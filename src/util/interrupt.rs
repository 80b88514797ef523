//! Cooperative cancellation: a flag set from a signal handler (or by an embedding program) and
//! polled by the blocking loops, so staging is cleaned up by the code that owns it. It
//! remembers which signal set it, for the exit code (128 + the signal's number).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// SIGINT's number: what [`Interrupt::trigger`] reports, as Ctrl-C would.
const SIGINT: i32 = 2;

/// A shared "stop now" flag. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicI32>);

impl Interrupt {
    /// A flag not triggered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the work as Ctrl-C does (SIGINT).
    pub fn trigger(&self) {
        self.trigger_signal(SIGINT);
    }

    /// Stops the work on behalf of signal `signal` (SIGTERM, SIGHUP, …); the first signal
    /// received is the one reported.
    pub fn trigger_signal(&self, signal: i32) {
        let _ = self
            .0
            .compare_exchange(0, signal.max(1), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether the work should stop.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// `Err(Interrupted)` once triggered; called between units of work.
    pub fn check(&self) -> Result<()> {
        match self.0.load(Ordering::SeqCst) {
            0 => Ok(()),
            signal => Err(Error::Interrupted { signal }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_decides_the_exit_code() {
        let i = Interrupt::new();
        assert!(i.check().is_ok());
        i.trigger_signal(15);
        i.trigger_signal(1);
        let e = i.check().unwrap_err();
        assert_eq!((e.code(), e.exit_code()), ("interrupted", 143));
        let i = Interrupt::new();
        i.trigger();
        assert_eq!(i.check().unwrap_err().exit_code(), 130);
    }
}
