//! Progress and diagnostics for the library's caller, as typed events: the one channel for
//! them. The command line renders them (progress bars on a terminal, warnings on stderr); an
//! embedding program may log them.

use std::sync::Arc;

/// A step of the install pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Looking a registry reference up in the indices.
    Resolving,
    /// Downloading an archive.
    Downloading,
    /// Fetching a git repository.
    Fetching,
    /// Writing the pack into staging.
    Extracting,
    /// Checking checksums and pack.yaml.
    Validating,
    /// Checking the pack's dependencies.
    CheckingDependencies,
    /// Building (or reusing) the pack's Python environment.
    Environment,
    /// Running the pack's own tests.
    RunningTests,
    /// Making the pack active in the store.
    Committing,
}

/// Something the caller may want to know while an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The source was read as this kind ("Installing pack from: …").
    Detected {
        /// The source, credentials redacted.
        source: String,
        /// Its kind, as the reference names it (`git repository`, `local archive`, …).
        kind: &'static str,
    },
    /// A step began.
    Phase(Phase),
    /// Bytes received of a download.
    Bytes {
        /// Received so far.
        done: u64,
        /// The total, when the server said.
        total: Option<u64>,
    },
    /// Git objects received.
    Objects {
        /// Received so far.
        done: u64,
        /// The total, when the server said.
        total: Option<u64>,
    },
    /// A line pip (or venv) printed while the pack's Python environment was built.
    EnvOutput(String),
    /// Another process holds the store lock; this one waits.
    WaitingForLock {
        /// The lock file.
        path: String,
    },
    /// Something worth telling that does not stop the operation.
    Warning(String),
    /// Taking the store lock finished or undid a change an interrupted command left.
    Recovered(crate::model::history::Recovered),
}

/// Receives events; must be cheap and must not block.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

pub(crate) fn ignore() -> EventSink {
    Arc::new(|_| {})
}
