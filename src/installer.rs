//! The library's entry point: an [`Installer`] for one store, built with an
//! [`InstallerBuilder`]. Its methods are async and run blocking work (file system,
//! extraction, hashing, git) on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Config};
use crate::context::{blocking, Context};
use crate::deps;
use crate::error::{Error, IoContext, Result};
use crate::events::{Event, EventSink};
use crate::fsutil::Durability;
use crate::hooks::{InstallHooks, NoHooks};
use crate::interrupt::Interrupt;
use crate::net::{Connectivity, Network, PlainHttp};
use crate::pack_ref::PackRef;
use crate::pipeline::{self, InstallOptions, InstallReport};
use crate::receipt::Receipt;
use crate::registry::{IndexStatus, Registry, SearchHit};
use crate::source::PackSource;
use crate::store::{LockedStore, Store, Uninstalled};

/// Builds an [`Installer`].
///
/// ```no_run
/// # async fn demo() -> Result<(), attune_pack::Error> {
/// use attune_pack::{DetectOptions, InstallOptions, Installer, PackSource};
/// let installer = Installer::builder().packs_dir("/tmp/packs").build()?;
/// let source = PackSource::detect("fixtures/packs/hello", &DetectOptions::new())?;
/// let report = installer.install(source, InstallOptions::new().force()).await?;
/// println!("{} {} at {}", report.receipt.pack_ref, report.receipt.version, report.receipt.path.display());
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct InstallerBuilder {
    packs_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    config: Option<Config>,
    lock_timeout: Option<Duration>,
    events: Option<EventSink>,
    hooks: Option<Arc<dyn InstallHooks>>,
    interrupt: Option<Interrupt>,
    network: Network,
}

impl InstallerBuilder {
    /// The store's directory (overrides the config's `packs_dir` and the default).
    pub fn packs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.packs_dir = Some(dir.into());
        self
    }

    /// Where index documents are cached (overrides the config and the default).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// How long to wait for another process's store lock (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Where progress and warnings go ([`Event`]s; default: nowhere).
    pub fn on_event(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    /// The embedding program's hooks around each commit.
    pub fn hooks(mut self, hooks: Arc<dyn InstallHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// A flag that, once triggered, stops the work at the next safe point (staging removed,
    /// store unchanged; [`Error::Interrupted`]).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// Allow plain `http://` sources and indices (also config `pack_registry.allow_http`).
    pub fn allow_http(mut self) -> Self {
        self.network.http = PlainHttp::Allowed;
        self
    }

    /// Use only cached indices and local sources.
    pub fn offline(mut self) -> Self {
        self.network.connectivity = Connectivity::Offline;
        self
    }

    /// The installer, with the packs and cache directories resolved.
    pub fn build(self) -> Result<Installer> {
        let config = self.config.unwrap_or_default();
        let packs_dir = config::resolve_packs_dir(self.packs_dir.as_deref(), &config)?;
        let packs_dir =
            std::path::absolute(&packs_dir).ctx(|| format!("resolving {}", packs_dir.display()))?;
        let cache_dir = config::resolve_cache_dir(self.cache_dir.as_deref(), &config, &packs_dir);
        let store = Store::new(packs_dir).durability(Durability::from_config(config.sync));
        let events = self.events.unwrap_or_else(crate::events::ignore);
        let interrupt = self.interrupt.unwrap_or_default();
        Ok(Installer {
            ctx: Context::new(config, cache_dir, events, interrupt, self.network),
            store,
            hooks: self.hooks.unwrap_or_else(|| Arc::new(NoHooks)),
            lock_timeout: self.lock_timeout.unwrap_or(Duration::from_secs(60)),
        })
    }
}

/// Whether a pack other installed packs depend on may be uninstalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dependents {
    /// Refuse ([`Error::DependentsExist`]).
    #[default]
    Refuse,
    /// Remove it anyway; the dependents are left with an unmet dependency.
    Ignore,
}

/// Installs, lists and removes packs in one store. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), attune_pack::Error> {
/// use attune_pack::{Dependents, Installer, PackRef};
/// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
/// for receipt in installer.list().await? {
///     println!("{} {}", receipt.pack_ref, receipt.version);
/// }
/// let slack: PackRef = "slack".parse()?;
/// installer.uninstall(&slack, Dependents::Refuse).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Installer {
    ctx: Context,
    store: Store,
    hooks: Arc<dyn InstallHooks>,
    lock_timeout: Duration,
}

impl Installer {
    /// Starts building an installer.
    pub fn builder() -> InstallerBuilder {
        InstallerBuilder::default()
    }

    /// The store's directory.
    pub fn packs_dir(&self) -> &Path {
        self.store.packs_dir()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        self.ctx.config()
    }

    /// Where index documents are cached.
    pub fn cache_dir(&self) -> &Path {
        self.ctx.cache_dir()
    }

    /// Takes the store lock (and recovers from interrupted commands).
    async fn lock(&self) -> Result<Arc<LockedStore>> {
        let (ctx, store, timeout) = (self.ctx.clone(), self.store.clone(), self.lock_timeout);
        blocking(move || {
            let on_wait = |path: &Path| {
                ctx.emit(Event::WaitingForLock {
                    path: path.display().to_string(),
                });
            };
            let store = store.lock(timeout, &on_wait, ctx.interrupt())?;
            for done in store.recovered() {
                ctx.emit(Event::Recovered(done.clone()));
            }
            for warning in store.warnings() {
                ctx.warn(warning.clone());
            }
            Ok(Arc::new(store))
        })
        .await
    }

    /// Installs a pack from `source` (and, with [`InstallOptions::with_deps`], its missing
    /// dependencies from the registry first).
    pub async fn install(&self, source: PackSource, opts: InstallOptions) -> Result<InstallReport> {
        let store = self.lock().await?;
        pipeline::install(&self.ctx, &store, self.hooks.as_ref(), source, opts).await
    }

    /// Every installed pack's receipt, sorted by ref.
    pub async fn list(&self) -> Result<Vec<Receipt>> {
        let store = self.lock().await?;
        blocking(move || store.receipts()).await
    }

    /// The receipt of an installed pack.
    pub async fn show(&self, pack_ref: &PackRef) -> Result<Receipt> {
        let store = self.lock().await?;
        store
            .receipt(pack_ref)?
            .ok_or_else(|| Error::NotInstalled(pack_ref.clone()))
    }

    /// Removes a pack, its kept versions and its receipt: its directory is first moved out of
    /// place with one rename, so it is never seen half deleted.
    pub async fn uninstall(
        &self,
        pack_ref: &PackRef,
        dependents: Dependents,
    ) -> Result<Uninstalled> {
        let store = self.lock().await?;
        let pack_ref = pack_ref.clone();
        let done = blocking(move || {
            if store.receipt(&pack_ref)?.is_none() && !store.is_installed(&pack_ref) {
                return Err(Error::NotInstalled(pack_ref));
            }
            let force = dependents == Dependents::Ignore;
            deps::check_removable(&pack_ref, &store.receipts()?, force)?;
            store.uninstall(&pack_ref)
        })
        .await?;
        for w in &done.warnings {
            self.ctx.warn(w.clone());
        }
        Ok(done)
    }

    /// Packs whose ref, label, keywords or description contain `query` (case-insensitive),
    /// in the enabled indices (or only the one named `registry`), in search order.
    pub async fn search(&self, query: &str, registry: Option<&str>) -> Result<Vec<SearchHit>> {
        let _store = self.lock().await?;
        Registry::new(&self.ctx).search(query, registry).await
    }

    /// Every configured index (disabled ones too) with its cache age and whether it answers
    /// now; enabled remote indices are revalidated, which also refreshes their cache.
    pub async fn registries(&self) -> Result<Vec<IndexStatus>> {
        let _store = self.lock().await?;
        Registry::new(&self.ctx).statuses().await
    }
}
