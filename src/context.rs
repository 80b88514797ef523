//! What every step of an operation needs, passed explicitly: the config, the network
//! settings and the one HTTP client (built on first use), where events and warnings go, and
//! the interrupt flag. It sits below the sources and the registry, which take it by
//! reference; none of them knows the pipeline or the store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::integrity::freshness::SeenTimestamps;
use crate::model::events::{Event, EventSink};
use crate::net::{Http, NetRules, Network};
use crate::pack::python::{self, Interpreter};
use crate::util::interrupt::Interrupt;

/// The shared part: cheap to clone, one HTTP client for all clones.
struct Shared {
    config: Config,
    cache_dir: PathBuf,
    interrupt: Interrupt,
    network: Network,
    http: tokio::sync::OnceCell<Http>,
    /// What the interpreter said, asked at most once per command.
    python: tokio::sync::OnceCell<Interpreter>,
    trust: Trust,
}

/// What signed documents are checked against beyond their keys: the newest timestamps seen,
/// and whether an older one is accepted on purpose (`--allow-downgrade`).
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    pub seen: SeenTimestamps,
    pub allow_downgrade: bool,
    /// The only index is an offline bundle given for this command: every pack, a lockfile's
    /// too, comes from it.
    pub bundle_only: bool,
}

/// An operation's context. Cloning shares everything; [`Context::recording`] makes one whose
/// warnings are also collected.
#[derive(Clone)]
pub(crate) struct Context {
    shared: Arc<Shared>,
    events: EventSink,
}

/// The warnings a [`Context::recording`] context has given, in order.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<String>>>);

impl Recorded {
    /// Everything recorded so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Context {
    pub fn new(
        config: Config,
        cache_dir: PathBuf,
        events: EventSink,
        interrupt: Interrupt,
        network: Network,
        trust: Trust,
    ) -> Context {
        Context {
            shared: Arc::new(Shared {
                config,
                cache_dir,
                interrupt,
                network,
                http: tokio::sync::OnceCell::new(),
                python: tokio::sync::OnceCell::new(),
                trust,
            }),
            events,
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn cache_dir(&self) -> &Path {
        &self.shared.cache_dir
    }

    pub fn interrupt(&self) -> &Interrupt {
        &self.shared.interrupt
    }

    /// The flags of the network (`--allow-http`, `--offline`).
    pub fn network(&self) -> Network {
        self.shared.network
    }

    /// Rollback protection for signed documents.
    pub fn trust(&self) -> &Trust {
        &self.shared.trust
    }

    /// The network policy: the config's, with the flags.
    pub fn policy(&self) -> NetRules {
        NetRules::from_config(&self.shared.config, self.shared.network)
    }

    /// The HTTP client, built on first use (local installs never load the root certificates).
    pub async fn http(&self) -> Result<&Http> {
        self.shared
            .http
            .get_or_try_init(|| async { Http::new(&self.shared.config, self.shared.network) })
            .await
    }

    /// The interpreter packs' Python requirements are checked against (config `python`), run
    /// on first use only: packs that declare no requirement never start it.
    pub async fn python(&self) -> &Interpreter {
        self.shared
            .python
            .get_or_init(|| async {
                let program = self.shared.config.python.clone();
                let (asked, interrupt) = (program.clone(), self.interrupt().clone());
                tokio::task::spawn_blocking(move || python::probe(&asked, &interrupt))
                    .await
                    .unwrap_or_else(|e| Interpreter::Missing {
                        program,
                        why: format!("a worker task failed: {e}"),
                    })
            })
            .await
    }

    /// Tells the caller (the one channel for progress and warnings).
    pub fn emit(&self, event: Event) {
        (self.events)(&event);
    }

    /// A client for OCI registries with the config's mirrors, plain-http registries and
    /// auth files (read now), over [`Context::http`].
    pub async fn oci_client(&self) -> Result<crate::net::oci::Client<'_>> {
        crate::net::oci::Client::new(self.http().await?, &self.config().oci, self.events())
    }

    /// The event channel, for a part that emits from below the context's layer.
    pub fn events(&self) -> EventSink {
        self.events.clone()
    }

    /// A warning: something worth telling that does not stop the operation.
    pub fn warn(&self, message: impl Into<String>) {
        self.emit(Event::Warning(message.into()));
    }

    /// The same context, whose warnings are also recorded (for a report that lists them).
    pub fn recording(&self) -> (Context, Recorded) {
        let recorded = Recorded::default();
        let (list, forward) = (recorded.0.clone(), self.events.clone());
        let events: EventSink = Arc::new(move |event: &Event| {
            if let Event::Warning(w) = event {
                list.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(w.clone());
            }
            forward(event);
        });
        let context = Context {
            shared: self.shared.clone(),
            events,
        };
        (context, recorded)
    }
}

/// Runs blocking work (file system, extraction, hashing, git) off the async worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a worker task failed: {e}")))?
}
