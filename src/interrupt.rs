//! Cooperative cancellation: a flag set from a signal handler (or by an embedding program) and
//! polled by the blocking loops, so staging is cleaned up by the code that owns it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A shared "stop now" flag. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Interrupted)` once triggered; called between units of work.
    pub fn check(&self) -> Result<()> {
        if self.is_triggered() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// The underlying flag, for libraries (gix) that poll an `AtomicBool` themselves.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}
