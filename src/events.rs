//! Progress and diagnostics for the library's caller, as typed events. The CLI renders them
//! (progress bars on a terminal, warnings on stderr); an embedding program may log them.

use std::sync::Arc;

/// A step of the install pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Resolving,
    Downloading,
    Fetching,
    Extracting,
    Validating,
    CheckingDependencies,
    RunningTests,
    Committing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The source was read as this kind ("Installing pack from: …").
    Detected {
        source: String,
        kind: &'static str,
    },
    Phase(Phase),
    /// Bytes received of a download (total when the server said).
    Bytes {
        done: u64,
        total: Option<u64>,
    },
    /// Git objects received.
    Objects {
        done: u64,
        total: Option<u64>,
    },
    /// Another process holds the store lock; this one waits.
    WaitingForLock {
        path: String,
    },
    Warning(String),
    /// Taking the store lock finished or undid a change an interrupted command left.
    Recovered(crate::history::Recovered),
}

/// Receives events; must be cheap and must not block.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

pub(crate) fn ignore() -> EventSink {
    Arc::new(|_| {})
}
